"""The deliverable of a job: the final adapter or full weights, encrypted, plus plain metadata.

Layout inside the checkpoint directory:
- `final/model.enc`: encrypted container (artifact id "<artifact_id>/final") holding the weights
  (safetensors), the adapter config or model config (JSON) and, for from-scratch models, the
  tokenizer (it was trained on private data).
- `final/metadata.json`: non-sensitive facts (method, step, losses, parameter counts) for the UI.

`load_final_model` rebuilds a ready-to-use model (for evaluation and serving) from those files.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM

from . import container, registry
from .checkpoint import CheckpointError, CheckpointStore, envelope_errors
from .config import TrainConfig
from .modeling import set_attention, unwrap_model
from .models import load_causal_lm, load_tokenizer
from .tokenizer_build import wrap_tokenizer

FINAL_DIR = "final"
FORMAT = "soberana-final-v1"


@dataclass(frozen=True)
class FinalModelInfo:
    """Where the final model went and what kind of weights it holds ('adapter' or 'full')."""

    path: Path
    metadata_path: Path
    kind: str


def _json_default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, torch.dtype):
        return str(value).removeprefix("torch.")
    return str(value)


def _weights(
    model: nn.Module, method: str, full_weights: dict[str, torch.Tensor] | None = None
) -> tuple[str, dict[str, torch.Tensor], dict[str, Any]]:
    """(kind, tensors, JSON config) of what must be saved for `method` (`full_weights`: the
    model's parameters already gathered, under FSDP)."""
    if registry.method(method).adapter:
        from peft import get_peft_model_state_dict

        adapter_config = json.loads(
            json.dumps(model.peft_config["default"].to_dict(), default=_json_default)
        )
        return "adapter", get_peft_model_state_dict(model), adapter_config
    base = unwrap_model(model)
    tensors = full_weights or dict(base.named_parameters())  # tied weights appear once
    return "full", tensors, base.config.to_dict()


def save_final_model(
    store: CheckpointStore,
    model: nn.Module,
    tokenizer: Any,
    cfg: TrainConfig,
    *,
    step: int,
    metrics: dict[str, float | None],
    full_weights: dict[str, torch.Tensor] | None = None,
) -> FinalModelInfo:
    """Encrypt the final weights into `final/model.enc` and write `final/metadata.json`.

    Under FSDP `model` holds shards: pass `full_weights`, its named parameters gathered by
    `fsdp.full_tensors` (same names), and they are saved instead, in the same format.
    """
    kind, tensors, model_config = _weights(model, cfg.method, full_weights)
    blobs = {"weights": container.tensors_to_bytes(tensors)}
    if registry.method(cfg.method).trains_tokenizer:
        blobs["tokenizer"] = tokenizer.backend_tokenizer.to_str().encode()
    manifest = {
        "format": FORMAT,
        "kind": kind,
        "config": cfg.to_dict(),
        "model_config": model_config,
        "step": step,
        "model_max_length": int(getattr(tokenizer, "model_max_length", 2048)),
    }
    directory = store.directory / FINAL_DIR
    directory.mkdir(exist_ok=True)
    path = directory / "model.enc"
    store.write_file(path, container.pack(manifest, blobs), "final")
    metadata_path = directory / "metadata.json"
    _write_json_atomically(metadata_path, _metadata(model, cfg, kind, step, metrics))
    return FinalModelInfo(path, metadata_path, kind)


def _metadata(
    model: nn.Module, cfg: TrainConfig, kind: str, step: int, metrics: dict[str, Any]
) -> dict:
    params = list(unwrap_model(model).parameters())
    return {
        "format": FORMAT,
        "kind": kind,
        "method": cfg.method,
        "objective": cfg.objective,
        "base_model_dir": cfg.base_model_dir,
        "step": step,
        "metrics": metrics,
        "created_at": time.time(),
        "total_params": sum(p.numel() for p in params),
        "trainable_params": sum(p.numel() for p in params if p.requires_grad),
    }


def _write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(data, indent=1, default=_json_default))
    os.replace(tmp, path)


def final_metadata(store: CheckpointStore) -> dict[str, Any]:
    """The final model's `metadata.json` ({} before it is written): format, step, metrics
    (with `differential_privacy`, the achieved guarantee, for a DP run)."""
    path = store.directory / FINAL_DIR / "metadata.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def final_model_exists(store: CheckpointStore) -> bool:
    """True once a job has written its final model."""
    return (store.directory / FINAL_DIR / "model.enc").is_file()


def load_final_model(
    store: CheckpointStore,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    merge_adapter: bool = False,
) -> tuple[nn.Module, Any, TrainConfig]:
    """Rebuild (model, tokenizer, config) from `final/model.enc`, in eval mode with SDPA attention.

    Adapters are applied to the base model named in the saved config (`merge_adapter` folds them
    in). Raises CheckpointError subclasses for a missing, tampered or wrongly keyed file.
    """
    path = store.directory / FINAL_DIR / "model.enc"
    if not path.is_file():
        raise CheckpointError(f"no final model in {store.directory}")
    data = store.read_file(path, "final")
    with envelope_errors(path):
        manifest, blobs = container.unpack(data)
    cfg = TrainConfig.from_dict(manifest["config"], can_train_here=False)
    weights = container.tensors_from_bytes(blobs["weights"])
    if manifest["kind"] == "adapter":
        model, tokenizer = _rebuild_adapter(cfg, manifest, weights, dtype, merge_adapter)
    else:
        model, tokenizer = _rebuild_full(cfg, manifest, weights, blobs, dtype)
    model = model.to(device).eval()
    set_attention(model, "sdpa")
    return model, tokenizer, cfg


def _rebuild_adapter(
    cfg: TrainConfig,
    manifest: dict[str, Any],
    weights: dict[str, torch.Tensor],
    dtype: torch.dtype,
    merge: bool,
) -> tuple[nn.Module, Any]:
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict

    base = load_causal_lm(cfg.base_model_dir, dtype=dtype)
    known = set(LoraConfig.__dataclass_fields__)
    lora = LoraConfig(
        **{k: v for k, v in manifest["model_config"].items() if k in known and k != "peft_type"}
    )
    lora.inference_mode = True
    model = get_peft_model(base, lora)
    result = set_peft_model_state_dict(model, weights)
    if result.unexpected_keys:
        raise CheckpointError(
            f"adapter weights do not fit the base model: {result.unexpected_keys[:3]}"
        )
    return (model.merge_and_unload() if merge else model), load_tokenizer(cfg.base_model_dir)


def _rebuild_full(
    cfg: TrainConfig,
    manifest: dict[str, Any],
    weights: dict[str, torch.Tensor],
    blobs: dict[str, Any],
    dtype: torch.dtype,
) -> tuple[nn.Module, Any]:
    model_config = AutoConfig.for_model(**manifest["model_config"])
    model = AutoModelForCausalLM.from_config(model_config, dtype=dtype)
    missing, unexpected = model.load_state_dict(weights, strict=False)
    model.tie_weights()
    tied = {name for name, _ in model.named_parameters(remove_duplicate=False)} - set(
        name for name, _ in model.named_parameters()
    )
    if unexpected or set(missing) - tied:
        raise CheckpointError(
            f"final weights do not fit the model: missing {missing[:3]}, extra {unexpected[:3]}"
        )
    if "tokenizer" in blobs:
        tokenizer = wrap_tokenizer(
            Tokenizer.from_str(bytes(blobs["tokenizer"]).decode()),
            model_max_length=manifest["model_max_length"],
        )
    else:
        tokenizer = load_tokenizer(cfg.base_model_dir)
    return model, tokenizer
