"""The inner machinery of the loop: the `Run` bundle, one optimizer step, validation loss.

Kept free of checkpoint / reporting concerns so the benchmark can drive exactly the same step
code as `train()`. A step never synchronises the host with the GPU: the loss stays on the device
until `flush_losses` materialises all pending losses at once (at log / checkpoint / eval time), so
the CPU can queue the next step's kernels while the GPU is still busy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .config import TrainConfig, resolve_parallelism
from .data import TokenizedRecord
from .distributed import DistContext, sum_all_across_ranks
from .fsdp import FSDPModule, clip_gradients, shard_model
from .methods import PreparedModel, decoder_layers, trainable_parameters
from .modeling import PackedLossModel
from .packing import Batch, BatchStream, fixed_batches
from .resume import LoopState
from .state import learning_rate_at


@dataclass
class Run:
    """Everything the step functions share, built once by `build_run`."""

    cfg: TrainConfig
    ctx: DistContext
    device: torch.device
    prepared: PreparedModel
    loss_model: nn.Module
    trainable: dict[str, nn.Parameter]
    optimizer: torch.optim.Optimizer
    stream: BatchStream
    val_records: list[TokenizedRecord]
    pad_id: int
    state: LoopState = field(default_factory=LoopState)
    pending_losses: list[torch.Tensor] = field(default_factory=list)
    parallelism: str = "single"  # 'single', 'ddp' or 'fsdp' (config.resolve_parallelism)

    @property
    def sharded(self) -> bool:
        """True under FSDP: weights and optimizer state are DTensor shards, and gathering them
        (checkpoints, the final model) is a collective every rank must join."""
        return self.parallelism == "fsdp"


def build_run(
    cfg: TrainConfig,
    ctx: DistContext,
    device: torch.device,
    prepared: PreparedModel,
    train_records: list[TokenizedRecord],
    val_records: list[TokenizedRecord],
    pad_id: int,
) -> Run:
    """Wire model, optimizer and data stream together, wrapped in DDP or sharded with FSDP as
    `resolve_parallelism` decides (FSDP needs an initialised process group, even for one rank)."""
    parallelism = resolve_parallelism(cfg, ctx.world_size)
    stream = BatchStream(
        train_records,
        seq_len=cfg.seq_len,
        rows_per_batch=cfg.batch_size,
        pad_id=pad_id,
        seed=cfg.seed,
        rank=ctx.rank,
        world_size=ctx.world_size,
    )
    loss_model: nn.Module = PackedLossModel(prepared.model, varlen=prepared.varlen)
    if parallelism == "fsdp":
        layers = decoder_layers(prepared.model)
        loss_model = shard_model(loss_model, layers, device, prepared.precision)
    elif parallelism == "ddp":
        device_ids = [device.index] if device.type == "cuda" else None
        loss_model = DistributedDataParallel(loss_model, device_ids=device_ids)
    trainable = trainable_parameters(prepared.model)  # after sharding: FSDP swaps in DTensors
    optimizer = build_optimizer(cfg, trainable, device)
    return Run(
        cfg,
        ctx,
        device,
        prepared,
        loss_model,
        trainable,
        optimizer,
        stream,
        val_records,
        pad_id,
        parallelism=parallelism,
    )


def build_optimizer(
    cfg: TrainConfig, trainable: dict[str, nn.Parameter], device: torch.device
) -> torch.optim.Optimizer:
    """AdamW; weight decay only on matrices (not norms / biases); fused kernel on CUDA."""
    decay = [p for p in trainable.values() if p.ndim >= 2]
    no_decay = [p for p in trainable.values() if p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(
        [g for g in groups if g["params"]],
        lr=learning_rate_at(0, cfg),
        betas=(0.9, 0.999),
        eps=1e-8,
        fused=device.type == "cuda",
    )


def autocast(run: Run) -> contextlib.AbstractContextManager:
    """bf16 autocast for bf16-mixed precision, else a no-op."""
    dtype = run.prepared.autocast_dtype
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(run.device.type, dtype=dtype)


def _next_batches(run: Run) -> list[Batch]:
    batches = [run.stream.next_batch() for _ in range(run.cfg.grad_accum)]
    if run.device.type == "cuda":
        batches = [b.pin_memory() for b in batches]
    return batches


def train_step(run: Run) -> int:
    """One optimizer step over grad_accum micro-batches; returns the real (non-pad) tokens.

    The loss is normalised by the target tokens of the whole step (over all ranks), so grad_accum
    and data parallelism give the same gradient as one big batch. The step's mean token loss is
    queued on `run.pending_losses` (a device tensor; see `flush_losses`).
    """
    model = run.loss_model
    batches = _next_batches(run)
    local = [float(sum(b.n_targets for b in batches)), float(sum(b.n_tokens for b in batches))]
    targets, tokens = sum_all_across_ranks(local, run.ctx, run.device)
    scale = run.ctx.world_size / max(targets, 1.0)
    total = torch.zeros((), device=run.device)
    model.train()
    for index, batch in enumerate(batches):
        last = index == len(batches) - 1
        with _no_sync(model, last), autocast(run):
            loss_sum = model(batch.to(run.device))
        (loss_sum * scale).backward()
        total += loss_sum.detach()
    _optimizer_step(run)
    if run.ctx.enabled:
        torch.distributed.all_reduce(total)
    run.pending_losses.append(total / max(targets, 1.0))
    run.state.step += 1
    run.state.data_position = run.stream.position
    run.state.tokens_seen += int(tokens)
    return int(tokens)


def flush_losses(run: Run) -> list[float]:
    """Move pending step losses into `run.state.losses` (one host sync); returns the new ones."""
    if not run.pending_losses:
        return []
    values = torch.stack(run.pending_losses).tolist()
    run.pending_losses.clear()
    run.state.losses.extend(values)
    return values


def _no_sync(model: nn.Module, last_micro_batch: bool) -> contextlib.AbstractContextManager:
    """Skip the gradient all-reduce (DDP) / reduce-scatter (FSDP) on all but the last
    micro-batch of a step."""
    if isinstance(model, FSDPModule):
        # FSDP reads the flag in backward, after this block: set it for the whole micro-batch.
        # Skipped micro-batches accumulate unsharded gradients (docs/scaling.md).
        model.set_requires_gradient_sync(last_micro_batch)
        return contextlib.nullcontext()
    if last_micro_batch or not isinstance(model, DistributedDataParallel):
        return contextlib.nullcontext()
    return model.no_sync()


def _optimizer_step(run: Run) -> None:
    for group in run.optimizer.param_groups:
        group["lr"] = learning_rate_at(run.state.step, run.cfg)
    if run.cfg.max_grad_norm > 0:
        clip_gradients(list(run.trainable.values()), run.cfg.max_grad_norm)
    run.optimizer.step()
    run.optimizer.zero_grad(set_to_none=True)


def validation_loss(run: Run) -> float | None:
    """Mean token loss over the first eval_max_rows packed validation rows (None without data)."""
    if not run.val_records:
        return None
    total, count = torch.zeros((), device=run.device), 0
    run.loss_model.eval()
    with torch.no_grad(), autocast(run):
        for batch in _validation_batches(run):
            total += run.loss_model(batch.to(run.device))
            count += batch.n_targets
    run.loss_model.train()
    return float(total) / count if count else None


def _validation_batches(run: Run) -> Iterator[Batch]:
    return fixed_batches(
        run.val_records,
        seq_len=run.cfg.seq_len,
        rows_per_batch=run.cfg.batch_size,
        pad_id=run.pad_id,
        max_rows=run.cfg.eval_max_rows,
    )
