"""Soberana training engine: pure Python + torch, no Django.

Public API (used in-process by the Celery task and by `python -m trainer.engine`):
TrainConfig / ConfigError, TrainData, Reporter, CheckpointStore, train, evaluate,
convert_gguf_to_safetensors, build_tiny_model, estimate_resources.
"""

from .checkpoint import (
    CheckpointError,
    CheckpointInfo,
    CheckpointStore,
    CheckpointTamperedError,
    CheckpointWrongKeyError,
)
from .config import ConfigError, TrainConfig
from .data import DataError, TrainData
from .evaluation import evaluate
from .final_model import FinalModelInfo, load_final_model, save_final_model
from .loop import TrainResult, train
from .models import build_tiny_model, convert_gguf_to_safetensors
from .reporting import JsonLinesReporter, NullReporter, Reporter
from .resources import estimate_resources

__all__ = [
    "CheckpointError",
    "CheckpointInfo",
    "CheckpointStore",
    "CheckpointTamperedError",
    "CheckpointWrongKeyError",
    "ConfigError",
    "DataError",
    "FinalModelInfo",
    "JsonLinesReporter",
    "NullReporter",
    "Reporter",
    "TrainConfig",
    "TrainData",
    "TrainResult",
    "build_tiny_model",
    "convert_gguf_to_safetensors",
    "estimate_resources",
    "evaluate",
    "load_final_model",
    "save_final_model",
    "train",
]
