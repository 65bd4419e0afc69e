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
from typing import Any

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


def __getattr__(name: str) -> Any:
    """Import the submodule that defines `name` on first access (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'trainer.engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
