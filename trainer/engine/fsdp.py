"""FSDP2 (`fully_shard`) for full fine-tuning: shard the model, and turn shards into full tensors.

Under FSDP every parameter of the model becomes a DTensor holding this rank's slice (dim 0) of
the weight; gradients and AdamW state follow the same layout, so each GPU keeps 1/world_size of
them. Each decoder layer is its own unit (gathered just before its forward / backward and freed
after), the root (embeddings, final norm, LM head) another, kept gathered from forward to the
end of backward. Parameter names do not change, so the names of the trainable weights (and the
optimizer-state format of state.py) are those of an unsharded run.

Checkpoints and the final model always hold FULL tensors, exactly as without FSDP. Gathering is
a collective: every rank must call `full_tensors` / `full_optimizer_state` with the same tensors
in the same order; only the rank that passes `keep=True` (rank 0, which writes) holds the CPU
copies, gathered one tensor at a time. Restoring loads the full checkpoint on every rank and
keeps each rank's slice (`copy_full_`, `shard_like`); no communication is needed for that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy, fully_shard
from torch.distributed.tensor import DTensor, distribute_tensor

__all__ = [
    "FSDPModule",
    "clip_gradients",
    "copy_full_",
    "full_optimizer_state",
    "full_tensors",
    "mixed_precision_policy",
    "shard_like",
    "shard_model",
]


def mixed_precision_policy(precision: str) -> MixedPrecisionPolicy:
    """The engine's precision policy (methods.py) in FSDP terms.

    bf16 / bf16-mixed: weights are gathered and computed in bfloat16 while gradients are
    reduced in float32 (the sharded fp32 master weights of bf16-mixed stay fp32). fp32 (the CPU
    default): no casting at all.
    """
    if precision in ("bf16", "bf16-mixed"):
        return MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    return MixedPrecisionPolicy()


def shard_model(
    loss_model: nn.Module, layers: Iterable[nn.Module], device: torch.device, precision: str
) -> nn.Module:
    """Shard each decoder layer of `layers`, then `loss_model` as the root, in place; returns
    `loss_model` (now also an FSDPModule).

    Frozen weights (method 'freeze') are sharded like the others; they get no gradient. Raises
    RuntimeError when no process group is initialised (see `init_process_group`).
    """
    if not dist.is_initialized():
        raise RuntimeError("FSDP needs a process group; train() or torchrun initialises it")
    mesh = init_device_mesh(device.type, (dist.get_world_size(),))
    policy = mixed_precision_policy(precision)
    for layer in layers:
        fully_shard(layer, mesh=mesh, mp_policy=policy)
    fully_shard(loss_model, mesh=mesh, mp_policy=policy)
    return loss_model


@torch.no_grad()
def _full(value: Any, keep: bool) -> Any:
    """The full tensor of a DTensor (a collective) on the CPU when `keep`, else None; any other
    value is returned as it is."""
    if not isinstance(value, DTensor):
        return value
    full = value.full_tensor()
    return full.cpu() if keep else None


def full_tensors(tensors: Mapping[str, torch.Tensor], *, keep: bool) -> dict[str, torch.Tensor]:
    """{name: full tensor} of possibly sharded `tensors`; COLLECTIVE under FSDP (see module doc).

    Returns the dict when `keep`, else an empty one. Unsharded tensors are returned as they are
    (no copy), so without FSDP this costs nothing.
    """
    gathered = {name: _full(tensor, keep) for name, tensor in tensors.items()}
    return gathered if keep else {}


def full_optimizer_state(optimizer: torch.optim.Optimizer, *, keep: bool) -> dict[str, Any]:
    """`optimizer.state_dict()` with every sharded state tensor replaced by its full CPU tensor;
    COLLECTIVE under FSDP. Returns it when `keep`, else an empty dict."""
    state_dict = optimizer.state_dict()
    state = {
        index: {key: _full(value, keep) for key, value in state_dict["state"][index].items()}
        for index in sorted(state_dict["state"])  # the same order on every rank
    }
    return {"state": state, "param_groups": state_dict["param_groups"]} if keep else {}


def shard_like(full: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """This rank's slice of `full`, laid out like the DTensor `like` (same mesh, placements and
    dtype). `full` is returned unchanged when `like` is a plain tensor or has another shape (a
    scalar optimizer step, for instance). Local only: every rank holds `full`."""
    if not isinstance(like, DTensor) or tuple(full.shape) != tuple(like.shape):
        return full
    return distribute_tensor(
        full.to(like.dtype), like.device_mesh, like.placements, src_data_rank=None
    )


@torch.no_grad()
def copy_full_(target: torch.Tensor, full: torch.Tensor) -> None:
    """Copy the full tensor `full` into `target`, a plain tensor or a shard (DTensor) of it."""
    if isinstance(target, DTensor):
        target.copy_(shard_like(full, target))
    else:
        target.copy_(full.to(target.device, target.dtype))


def clip_gradients(parameters: list[nn.Parameter], max_norm: float) -> torch.Tensor:
    """Clip the gradients' global L2 norm to `max_norm`; returns the norm before clipping.

    Under FSDP the norm is reduced over every shard, so it (and the clipping factor) is the same
    on every rank and equals the unsharded run's; it is returned as a plain tensor, not a DTensor.
    """
    norm = torch.nn.utils.clip_grad_norm_(parameters, max_norm)
    return norm.full_tensor() if isinstance(norm, DTensor) else norm
