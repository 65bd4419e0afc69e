"""Training objectives as recipes: one module per objective, one small protocol.

A recipe turns a split's records into examples, examples into micro-batches, and a micro-batch
into loss terms; the training loop (`loop.py` / `steps.py`) is the same for every objective, and
so is how the parameters train (`methods.py`, chosen by `cfg.method` apart from the objective).
Which module implements which objective is `registry.OBJECTIVES`; adding an objective means
adding an entry there and a module here (see docs/training.md, "Adding an objective").
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .. import registry

if TYPE_CHECKING:
    from ..config import TrainConfig
    from .base import Recipe


def recipe_for(cfg: TrainConfig) -> Recipe:
    """The recipe of `cfg.objective`, configured from `cfg` (beta and the like)."""
    registry.objective(cfg.objective)  # UnknownName for a name the registry does not list
    module = importlib.import_module(f".{cfg.objective}", __name__)
    recipe: Recipe = module.build(cfg)  # each recipe module's `build` returns its Recipe
    return recipe
