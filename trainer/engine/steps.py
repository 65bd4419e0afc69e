"""The inner machinery of the loop: the `Run` bundle, one optimizer step, validation loss.

Kept free of checkpoint / reporting concerns so the benchmark can drive exactly the same step
code as `train()`. What the loss is comes from the run's recipe (recipes/): a step asks it for
the denominators of the step's loss terms, runs every micro-batch through its loss module and
divides each summed term by its step-wide denominator. A step never synchronises the host with
the GPU: the loss stays on the device until `flush_losses` materialises all pending losses at
once (at log / checkpoint / eval time), so the CPU can queue the next step's kernels while the
GPU is still busy.
"""

from __future__ import annotations

import contextlib
import functools
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from . import dp
from .config import ConfigError, TrainConfig, resolve_parallelism
from .distributed import DistContext, sum_all_across_ranks
from .fsdp import FSDPModule, clip_gradients, shard_model
from .methods import PreparedModel, decoder_layers, trainable_parameters
from .recipes import recipe_for
from .recipes.base import Examples, Recipe, StepContext, Stream
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
    stream: Stream
    val_records: Examples
    pad_id: int
    state: LoopState = field(default_factory=LoopState)
    pending_losses: list[torch.Tensor] = field(default_factory=list)
    parallelism: str = "single"  # 'single', 'ddp' or 'fsdp' (config.resolve_parallelism)
    recipe: Recipe | None = None
    train_records: Examples = field(default_factory=list)
    # Statistics of the recipe (e.g. reward accuracy) since the last report: device sums and
    # host denominators per step, materialised with the losses.
    pending_stats: list[tuple[torch.Tensor, dict[str, float]]] = field(default_factory=list)
    stat_window: dict[str, list[float]] = field(default_factory=dict)
    # DP-SGD's calibrated mechanism and accountant (dp.py); None for a normal run.
    dp: dp.DPState | None = None

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
    train_records: Examples,
    val_records: Examples,
    pad_id: int,
    recipe: Recipe | None = None,
) -> Run:
    """Wire model, optimizer and data stream together, wrapped in DDP or sharded with FSDP as
    `resolve_parallelism` decides (FSDP needs an initialised process group, even for one rank).

    `train_records` / `val_records` are the examples `recipe.prepare` made (tokenized records
    for the supervised objective); `recipe` defaults to the one of `cfg.objective`.
    """
    recipe = recipe or recipe_for(cfg)
    parallelism = resolve_parallelism(cfg, ctx.world_size)
    stream = recipe.train_stream(train_records, cfg, ctx, pad_id)
    loss_model: nn.Module = recipe.loss_module(prepared)
    if parallelism == "fsdp":
        layers = decoder_layers(prepared.model)
        loss_model = shard_model(loss_model, layers, device, prepared.precision)
    elif parallelism == "ddp":
        device_ids = [device.index] if device.type == "cuda" else None
        loss_model = DistributedDataParallel(loss_model, device_ids=device_ids)
    trainable = trainable_parameters(prepared.model)  # after sharding: FSDP swaps in DTensors
    optimizer = build_optimizer(cfg, trainable, device)
    privacy = _dp_state(cfg, ctx, train_records)
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
        recipe=recipe,
        train_records=train_records,
        dp=privacy,
    )


def _dp_state(cfg: TrainConfig, ctx: DistContext, train_records: Examples) -> dp.DPState | None:
    """The calibrated DP mechanism (None without DP); ConfigError naming the field when the
    run cannot be private (several processes, an unreachable target)."""
    if cfg.differential_privacy is None:
        return None
    if ctx.world_size > 1:
        raise ConfigError("max_processes", "differential privacy trains in one process")
    try:
        return dp.set_up(cfg, len(train_records))
    except dp.DPConfigError as exc:
        raise ConfigError(exc.field, exc.message) from exc


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


def autocast(run: Run) -> contextlib.AbstractContextManager[None]:
    """bf16 autocast for bf16-mixed precision, else a no-op."""
    dtype = run.prepared.autocast_dtype
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(run.device.type, dtype=dtype)


def _next_batches(run: Run) -> list[Any]:
    batches = [run.stream.next_batch() for _ in range(run.cfg.grad_accum)]
    if run.device.type == "cuda":
        batches = [b.pin_memory() for b in batches]
    return batches


def _recipe(run: Run) -> Recipe:
    assert run.recipe is not None  # build_run always sets it
    return run.recipe


def step_context(run: Run) -> StepContext:
    """What a recipe's `before_batches` may use."""
    return StepContext(run.loss_model, run.ctx, run.device, lambda: autocast(run))


def _step_counts(run: Run, batches: list[Any]) -> tuple[dict[str, float], float]:
    """The recipe's denominators summed over the step's micro-batches and every rank (one
    collective), and the real tokens of the step."""
    recipe = _recipe(run)
    names: list[str] = sorted({name for b in batches for name in recipe.counts(b)})
    local = [sum(recipe.counts(b).get(name, 0.0) for b in batches) for name in names]
    local.append(float(sum(b.n_tokens for b in batches)))
    totals = sum_all_across_ranks(local, run.ctx, run.device)
    return dict(zip(names, totals[:-1], strict=True)), totals[-1]


def _normalised(
    sums: Mapping[str, torch.Tensor], terms: Mapping[str, str], counts: Mapping[str, float]
) -> torch.Tensor:
    """Sum over the loss terms of term / its denominator (at least 1)."""
    parts = [sums[term] / max(counts.get(den, 0.0), 1.0) for term, den in terms.items()]
    return functools.reduce(operator.add, parts)


def train_step(run: Run) -> int:
    """One optimizer step over grad_accum micro-batches; returns the real (non-pad) tokens.

    Each loss term is normalised by its denominator over the whole step (all micro-batches,
    all ranks), so grad_accum and data parallelism give the same gradient as one big batch.
    The step's loss is queued on `run.pending_losses` (a device tensor; see `flush_losses`).
    """
    if run.dp is not None:
        return dp_train_step(run, run.dp)
    model, recipe = run.loss_model, _recipe(run)
    batches = _next_batches(run)
    counts, tokens = _step_counts(run, batches)
    scales = {
        term: run.ctx.world_size / max(counts.get(den, 0.0), 1.0)
        for term, den in recipe.loss_terms.items()
    }
    keys = [*recipe.loss_terms, *recipe.stats]
    model.train()
    recipe.before_batches(step_context(run), batches)
    total: torch.Tensor | None = None
    for index, batch in enumerate(batches):
        last = index == len(batches) - 1
        with _no_sync(model, last), autocast(run):
            out = model(batch.to(run.device))
        loss = functools.reduce(operator.add, [out[t] * scales[t] for t in recipe.loss_terms])
        loss.backward()
        sums = torch.stack([out[key].detach().float() for key in keys])
        total = sums if total is None else total + sums
    _optimizer_step(run)
    assert total is not None
    if run.ctx.enabled:
        torch.distributed.all_reduce(total)
    named = dict(zip(keys, total, strict=True))
    run.pending_losses.append(_normalised(named, recipe.loss_terms, counts))
    if recipe.stats:
        run.pending_stats.append((total[len(recipe.loss_terms) :], counts))
    run.state.step += 1
    run.state.data_position = run.stream.position
    run.state.tokens_seen += int(tokens)
    return int(tokens)


def dp_train_step(run: Run, state: dp.DPState) -> int:
    """One DP-SGD step (dp.py): Poisson-sample records, run each alone, clip its gradient,
    sum, add noise, step; the accountant records the step. Returns the real tokens.

    The reported loss is the mean over the sampled records of each record's mean token loss
    (the quantity whose gradient is clipped)."""
    model, clip = run.loss_model, state.settings.max_grad_norm
    sums = {name: torch.zeros_like(p, dtype=torch.float32) for name, p in run.trainable.items()}
    losses: list[torch.Tensor] = []
    tokens = 0
    model.train()
    for index in dp.poisson_sample(len(run.train_records), state.sample_rate):
        batch = dp.record_batch(run.train_records[index], run.cfg.seq_len, run.pad_id)
        if batch is None:
            continue
        with autocast(run):
            loss = model(batch.to(run.device))["loss"] / max(batch.n_targets, 1)
        loss.backward()
        dp.clip_into(run.trainable, sums, clip)
        losses.append(loss.detach().float())
        tokens += batch.n_tokens
    dp.noisy_gradients(run.trainable, sums, state)
    for group in run.optimizer.param_groups:
        group["lr"] = learning_rate_at(run.state.step, run.cfg)
    run.optimizer.step()
    run.optimizer.zero_grad(set_to_none=True)
    state.accountant.step(noise_multiplier=state.noise_multiplier, sample_rate=state.sample_rate)
    run.pending_losses.append(
        torch.stack(losses).mean() if losses else torch.zeros((), device=run.device)
    )
    run.state.step += 1
    run.state.tokens_seen += tokens
    run.state.dp_history = state.history_json()
    return tokens


def flush_losses(run: Run) -> list[float]:
    """Move pending step losses into `run.state.losses` (one host sync); returns the new ones.

    The recipe's pending statistics are added to `run.stat_window` at the same time."""
    if not run.pending_losses:
        return []
    values = torch.stack(run.pending_losses).tolist()
    run.pending_losses.clear()
    run.state.losses.extend(values)
    _flush_stats(run)
    return values


def _flush_stats(run: Run) -> None:
    if not run.pending_stats:
        return
    recipe = _recipe(run)
    sums = torch.stack([s for s, _ in run.pending_stats]).tolist()
    for step_sums, (_, counts) in zip(sums, run.pending_stats, strict=True):
        for (name, den), value in zip(recipe.stats.items(), step_sums, strict=True):
            window = run.stat_window.setdefault(name, [0.0, 0.0])
            window[0] += value
            window[1] += counts.get(den, 0.0)
    run.pending_stats.clear()


def take_stats(run: Run) -> dict[str, float]:
    """The recipe's statistics averaged since the last call (e.g. reward accuracy), then reset."""
    flush_losses(run)
    stats = {name: s / c for name, (s, c) in run.stat_window.items() if c > 0}
    run.stat_window.clear()
    return stats


def _no_sync(model: nn.Module, last_micro_batch: bool) -> contextlib.AbstractContextManager[None]:
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


def validation_metrics(run: Run) -> dict[str, float] | None:
    """{"loss": mean loss, **recipe statistics} over the first eval_max_rows packed validation
    rows, computed the same way on every rank; None without validation data."""
    if not run.val_records:
        return None
    recipe = _recipe(run)
    batches = recipe.eval_batches(run.val_records, run.cfg, run.pad_id)
    keys = [*recipe.loss_terms, *recipe.stats]
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, float] = {}
    run.loss_model.eval()
    with torch.no_grad(), autocast(run):
        recipe.before_batches(step_context(run), batches)
        for batch in batches:
            out = run.loss_model(batch.to(run.device))
            for key in keys:
                sums[key] = sums[key] + out[key] if key in sums else out[key]
            for name, value in recipe.counts(batch).items():
                counts[name] = counts.get(name, 0.0) + value
    run.loss_model.train()
    return _validation_result(recipe, sums, counts)


def _validation_result(
    recipe: Recipe, sums: dict[str, torch.Tensor], counts: dict[str, float]
) -> dict[str, float] | None:
    if not sums or not any(counts.get(den) for den in recipe.loss_terms.values()):
        return None
    # float(sum) / count, term by term, in float64 on the host.
    loss = sum(float(sums[t]) / counts[d] for t, d in recipe.loss_terms.items() if counts.get(d))
    result = {"loss": loss}
    for name, den in recipe.stats.items():
        if counts.get(den):
            result[name] = float(sums[name]) / counts[den]
    return result


def validation_loss(run: Run) -> float | None:
    """Mean validation loss (see `validation_metrics`); None without validation data."""
    metrics = validation_metrics(run)
    return metrics["loss"] if metrics is not None else None
