"""Soberana training engine: pure Python + torch, no Django.

Public API (used in-process by the Celery task and by `python -m trainer.engine`):
TrainConfig / ConfigError, TrainData, Reporter, CheckpointStore, train, evaluate,
convert_gguf_to_safetensors, build_tiny_model, estimate_resources.

Names are imported lazily on first use, so `from trainer.engine import TrainConfig` (e.g. to
validate a job form in the web process) does not load torch or transformers; neither does
`from trainer.engine import registry`, the one list of methods and objectives.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "CheckpointError": "checkpoint",
    "CheckpointInfo": "checkpoint",
    "CheckpointStore": "checkpoint",
    "CheckpointTamperedError": "checkpoint",
    "CheckpointWrongKeyError": "checkpoint",
    "ConfigError": "config",
    "TrainConfig": "config",
    "DataError": "data",
    "TrainData": "data",
    "evaluate": "evaluation",
    "FinalModelInfo": "final_model",
    "load_final_model": "final_model",
    "save_final_model": "final_model",
    "TrainResult": "loop",
    "train": "loop",
    "build_tiny_model": "models",
    "convert_gguf_to_safetensors": "models",
    "JsonLinesReporter": "reporting",
    "NullReporter": "reporting",
    "Reporter": "reporting",
    "estimate_resources": "resources",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # the same names, typed for checkers; at run time they load on first use
    from .checkpoint import CheckpointError as CheckpointError
    from .checkpoint import CheckpointInfo as CheckpointInfo
    from .checkpoint import CheckpointStore as CheckpointStore
    from .checkpoint import CheckpointTamperedError as CheckpointTamperedError
    from .checkpoint import CheckpointWrongKeyError as CheckpointWrongKeyError
    from .config import ConfigError as ConfigError
    from .config import TrainConfig as TrainConfig
    from .data import DataError as DataError
    from .data import TrainData as TrainData
    from .evaluation import evaluate as evaluate
    from .final_model import FinalModelInfo as FinalModelInfo
    from .final_model import load_final_model as load_final_model
    from .final_model import save_final_model as save_final_model
    from .loop import TrainResult as TrainResult
    from .loop import train as train
    from .models import build_tiny_model as build_tiny_model
    from .models import convert_gguf_to_safetensors as convert_gguf_to_safetensors
    from .reporting import JsonLinesReporter as JsonLinesReporter
    from .reporting import NullReporter as NullReporter
    from .reporting import Reporter as Reporter
    from .resources import estimate_resources as estimate_resources


def __getattr__(name: str) -> Any:
    """Import the submodule that defines `name` on first access (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'trainer.engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
