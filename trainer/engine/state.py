"""Pickle-free (de)serialisation of optimizer, learning-rate schedule and RNG state.

Tensors go into flat {name: tensor} dicts (saved as safetensors by the caller); everything else
goes into JSON-safe dicts. Restoring reproduces the exact state, so a resumed run continues
bit-for-bit where the checkpointed run was (on the same device and library versions).
"""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import torch

from .config import TrainConfig
from .fsdp import shard_like


def _json_safe(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return value


def optimizer_state(
    optimizer: torch.optim.Optimizer | dict[str, Any], param_names: list[str]
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split `optimizer.state_dict()` into tensors ("state.<param>.<key>") and a JSON manifest.

    `optimizer` may also be such a state dict already (under FSDP: gathered into full tensors
    by `fsdp.full_optimizer_state`). `param_names` are the names of the optimizer's parameters
    in order; they are stored so a checkpoint is never applied to a different set of parameters.
    """
    state = optimizer if isinstance(optimizer, dict) else optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in state["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = _json_safe(value)
    manifest = {
        "param_groups": _json_safe(state["param_groups"]),
        "scalars": scalars,
        "names": param_names,
    }
    return tensors, manifest


def load_optimizer_state(
    optimizer: torch.optim.Optimizer,
    tensors: dict[str, torch.Tensor],
    manifest: dict[str, Any],
    param_names: list[str],
) -> None:
    """Inverse of `optimizer_state`. Raises ValueError when the parameter names differ.

    State tensors of sharded (FSDP) parameters are cut to this rank's shard, so the full tensors
    of a checkpoint load into a sharded optimizer as into an unsharded one.
    """
    if manifest["names"] != param_names:
        raise ValueError("the checkpoint's optimizer covers different parameters than this model")
    per_param: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        _, position, key = name.split(".", 2)
        per_param.setdefault(int(position), {})[key] = tensor
    for number, values in manifest["scalars"].items():
        per_param.setdefault(int(number), {}).update(values)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for index, values in per_param.items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor) and index < len(params):
                values[key] = shard_like(value, params[index])
    groups = manifest["param_groups"]
    for group in groups:
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
    optimizer.load_state_dict({"state": per_param, "param_groups": groups})


def learning_rate_at(step: int, cfg: TrainConfig) -> float:
    """LR of optimizer step `step` (0-based): linear warm-up, then cosine/linear/constant decay.

    A pure function of (step, cfg), so the schedule's only state is the step count.
    """
    peak, floor = cfg.learning_rate, cfg.learning_rate * cfg.min_lr_ratio
    if step < cfg.warmup_steps:
        return peak * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    if cfg.lr_schedule == "cosine":
        return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if cfg.lr_schedule == "linear":
        return peak - (peak - floor) * progress
    return peak


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Capture torch (CPU + every CUDA device), Python and NumPy RNG states."""
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"torch_cuda_{index}"] = state
    version, internal, gauss = random.getstate()
    numpy_state = np.random.get_state(legacy=True)
    assert isinstance(numpy_state, tuple)  # legacy=True: the tuple form, never the dict
    kind, keys, pos, has_gauss, cached = numpy_state
    manifest = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
    }
    return tensors, manifest


def restore_rng_state(tensors: dict[str, torch.Tensor], manifest: dict[str, Any]) -> None:
    """Inverse of `rng_state`; CUDA states are restored for the devices present in both."""
    torch.set_rng_state(tensors["torch_cpu"])
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            if f"torch_cuda_{index}" in tensors:
                torch.cuda.set_rng_state(tensors[f"torch_cuda_{index}"], index)
    version, internal, gauss = manifest["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = manifest["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
