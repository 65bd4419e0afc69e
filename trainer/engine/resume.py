"""Turning a live training run into a checkpoint and back.

`LoopState` is everything about the run that is not model / optimizer / RNG: the step, the data
position, the loss history and the early-stopping bookkeeping. `snapshot` + `restore` round-trip
it together with the trainable weights, optimizer and RNG through a `CheckpointStore`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .checkpoint import Checkpoint, CheckpointError, CheckpointInfo, CheckpointStore
from .config import ConfigError, TrainConfig
from .fsdp import copy_full_
from .state import load_optimizer_state, optimizer_state, restore_rng_state, rng_state

# Fields that may change between a run and its resumption without changing the trajectory.
RESUMABLE_CHANGES = frozenset(
    {
        "log_interval_s",
        "keep_last",
        "eval_generate_records",
        "eval_max_new_tokens",
        "device",
        # Compiled layers compute the same function; only speed differs.
        "compile",
        # The launcher's cap; what matters for the trajectory is the world size, checked apart.
        "max_processes",
        # Checkpoints hold full tensors whether DDP or FSDP wrote them.
        "parallelism",
    }
)


@dataclass
class LoopState:
    """Progress of a run, saved in every checkpoint."""

    step: int = 0
    data_position: dict[str, int] = field(default_factory=lambda: {"epoch": 0, "index": 0})
    losses: list[float] = field(default_factory=list)  # train loss of step i+1 at index i
    val_losses: list[list[float]] = field(default_factory=list)  # [step, val_loss]
    best_val_loss: float | None = None
    evals_without_improvement: int = 0
    tokens_seen: int = 0
    elapsed_s: float = 0.0
    # DP-SGD accountant history [[noise_multiplier, sample_rate, steps]] (dp.py); [] without DP.
    dp_history: list[list[float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoopState:
        return cls(**data)

    @property
    def last_val_loss(self) -> float | None:
        return self.val_losses[-1][1] if self.val_losses else None


def check_resumable(cfg: TrainConfig, saved: dict[str, Any]) -> None:
    """Raise ConfigError naming the first field that differs from the checkpointed run's config."""
    current = cfg.to_dict()
    for name, value in saved.items():
        if name not in RESUMABLE_CHANGES and current.get(name) != value:
            raise ConfigError(
                name,
                f"is {current.get(name)!r} but the checkpoint being resumed used {value!r}; "
                "start a new job (or a new checkpoint directory) to change it",
            )


def check_same_world_size(saved_world_size: int, world_size: int) -> None:
    """Raise ConfigError('max_processes') unless the run resumes with as many processes as
    wrote the checkpoint: the data position counts global micro-batches and the effective
    batch is per-process batch x processes, so another count would skip or repeat data."""
    if saved_world_size != world_size:
        raise ConfigError(
            "max_processes",
            f"the checkpoint being resumed was written by {saved_world_size} training "
            f"process(es) but this run has {world_size}; resume it on a worker offering "
            f"{saved_world_size} (SOBERANA_TRAINING_PROCESSES), or start a new job",
        )


def latest_checkpoint(store: CheckpointStore) -> Checkpoint | None:
    """Load the newest checkpoint, or None for a fresh run. Raises CheckpointError subclasses."""
    info: CheckpointInfo | None = store.latest()
    return store.load(info) if info is not None else None


def snapshot(
    cfg: TrainConfig,
    state: LoopState,
    trainable: Mapping[str, torch.Tensor],
    optimizer: torch.optim.Optimizer | dict[str, Any],
    world_size: int = 1,
) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]]:
    """(JSON manifest, tensor groups) describing the run right now (`world_size`: processes
    training together, so a resume can insist on the same number).

    `trainable` and `optimizer` (or its state dict) must hold full tensors: under FSDP pass
    what `fsdp.full_tensors` / `fsdp.full_optimizer_state` gathered.
    """
    names = list(trainable)
    optimizer_tensors, optimizer_json = optimizer_state(optimizer, names)
    rng_tensors, rng_json = rng_state()
    manifest = {
        "config": cfg.to_dict(),
        "loop": state.to_json(),
        "optimizer": optimizer_json,
        "rng": rng_json,
        "scheduler": {"kind": cfg.lr_schedule, "step": state.step},
        "world_size": world_size,
    }
    tensors = {"trainable": dict(trainable), "optimizer": optimizer_tensors, "rng": rng_tensors}
    return manifest, tensors


def restore(
    checkpoint: Checkpoint,
    trainable: dict[str, nn.Parameter],
    optimizer: torch.optim.Optimizer,
) -> LoopState:
    """Load weights, optimizer and RNG state from a checkpoint; return its LoopState.

    Every rank loads the full checkpoint; sharded (FSDP) weights and optimizer state keep their
    own slice of it. Raises CheckpointError when the checkpoint does not cover this model's
    trainable weights.
    """
    saved = checkpoint.tensors["trainable"]
    missing = set(trainable) - set(saved)
    if missing:
        raise CheckpointError(f"checkpoint lacks trainable weights such as {sorted(missing)[:3]}")
    for name, param in trainable.items():
        copy_full_(param, saved[name])
    try:
        load_optimizer_state(
            optimizer,
            checkpoint.tensors["optimizer"],
            checkpoint.manifest["optimizer"],
            list(trainable),
        )
    except (ValueError, KeyError) as exc:
        raise CheckpointError(f"optimizer state does not fit: {exc}") from exc
    restore_rng_state(checkpoint.tensors["rng"], checkpoint.manifest["rng"])
    return LoopState.from_json(checkpoint.manifest["loop"])
