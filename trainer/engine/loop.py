"""The training loop: `train(cfg, data, reporter, store) -> TrainResult`.

Read `train` top to bottom: set up (device, model, data, optimizer), resume from the newest
checkpoint if the store has one, then step until max_steps, a stop request or early stopping;
checkpoint periodically and at the end, and write the final model.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist

from . import registry
from .checkpoint import Checkpoint, CheckpointInfo, CheckpointStore
from .config import TrainConfig, resolve_parallelism
from .data import DataError, TrainData
from .distributed import DistContext, any_rank, init_process_group
from .final_model import FinalModelInfo, save_final_model
from .fsdp import full_optimizer_state, full_tensors
from .methods import prepare_model, resolve_device
from .modeling import unwrap_model
from .recipes import recipe_for
from .recipes.base import Examples, Recipe
from .reference import attach_reference
from .reporting import Reporter, Throttle
from .resume import (
    check_resumable,
    check_same_world_size,
    latest_checkpoint,
    restore,
    snapshot,
)
from .state import learning_rate_at
from .steps import Run, build_run, flush_losses, take_stats, train_step, validation_metrics
from .tokenizer_build import wrap_tokenizer


@dataclass
class TrainResult:
    """Outcome of `train()`. `losses[i]` is the train loss of step i+1 (resumed runs included)."""

    step: int
    stopped: bool
    early_stopped: bool
    losses: list[float]
    val_losses: list[list[float]]
    best_val_loss: float | None
    tokens_seen: int
    elapsed_s: float
    resumed_from_step: int | None
    last_checkpoint: CheckpointInfo | None = None
    final_model: FinalModelInfo | None = None
    trainable_params: int = 0
    total_params: int = 0
    store: CheckpointStore | None = field(default=None, repr=False)
    # The achieved DP guarantee (dp.DPState.summary) of a differentially private run.
    privacy: dict[str, Any] | None = None

    @property
    def final_train_loss(self) -> float | None:
        return self.losses[-1] if self.losses else None


def train(
    cfg: TrainConfig, data: TrainData, reporter: Reporter, store: CheckpointStore
) -> TrainResult:
    """Train (or resume) the job described by `cfg` on `data`; see the module docstring.

    Raises ConfigError for unusable settings, DataError for bad records and CheckpointError
    subclasses when the newest checkpoint cannot be trusted or does not match `cfg`. A process
    group this call had to create (FSDP in a single process) is destroyed before it returns.
    """
    ctx = DistContext.from_env()
    device = _training_device(cfg, ctx)
    single_rank = resolve_parallelism(cfg, ctx.world_size) == "fsdp"
    created_group = init_process_group(ctx, device, single_rank=single_rank)
    try:
        return _train(cfg, data, reporter, store, ctx, device)
    finally:
        if created_group and dist.is_initialized():
            dist.destroy_process_group()


def _train(
    cfg: TrainConfig,
    data: TrainData,
    reporter: Reporter,
    store: CheckpointStore,
    ctx: DistContext,
    device: torch.device,
) -> TrainResult:
    run, resumed_from = _set_up(cfg, data, store, ctx, device)
    _event(run, reporter, "start", _start_message(run, resumed_from))
    ready = _reference_ready(run, store, reporter, resuming=resumed_from is not None)
    log_throttle, window = Throttle(cfg.log_interval_s), _Window(run.state.step)
    started, stopped, early = time.monotonic() - run.state.elapsed_s, not ready, False
    last_saved = resumed_from
    while ready and run.state.step < cfg.max_steps:
        if any_rank(reporter.should_stop(), ctx, run.device):
            stopped = True
            break
        window.tokens += train_step(run)
        validation = _maybe_validate(run)
        early = _early_stop_due(run, validation["loss"] if validation else None)
        run.state.elapsed_s = time.monotonic() - started
        if _due(run.state.step, cfg.checkpoint_every):
            last_saved = _save_checkpoint(run, store)
        if ctx.is_main and (log_throttle.ready() or run.state.step == cfg.max_steps):
            reporter.log(run.state.step, window.metrics(run, validation))
        if early:
            message = f"no validation improvement in {cfg.early_stopping_patience} evaluations"
            _event(run, reporter, "early_stop", message)
            break
    if ctx.is_main and window.unreported(run.state.step):
        reporter.log(run.state.step, window.metrics(run, None))  # the last step is always reported
    return _finish(
        run,
        store,
        reporter,
        stopped=stopped,
        early=early,
        last_saved=last_saved,
        resumed_from=resumed_from,
    )


# -- set-up ------------------------------------------------------------------------------------


def _training_device(cfg: TrainConfig, ctx: DistContext) -> torch.device:
    """The device of this process: under torchrun, the GPU of its local rank."""
    device = resolve_device(cfg)
    if device.type == "cuda" and ctx.enabled:
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    return device


def _set_up(
    cfg: TrainConfig,
    data: TrainData,
    store: CheckpointStore,
    ctx: DistContext,
    device: torch.device,
) -> tuple[Run, int | None]:
    """Build the run; restore the newest checkpoint when the store has one (returns its step)."""
    checkpoint = latest_checkpoint(store)
    if checkpoint is not None:
        check_resumable(cfg, checkpoint.manifest["config"])
        # Checkpoints from before the world size was recorded come from single-process runs.
        check_same_world_size(checkpoint.manifest.get("world_size", 1), ctx.world_size)
    saved_tokenizer = _saved_tokenizer(checkpoint, cfg)
    recipe = recipe_for(cfg)
    prepared = prepare_model(cfg, device, train_records=data.train, saved_tokenizer=saved_tokenizer)
    train_examples, val_examples = _prepare_splits(recipe, data, prepared.tokenizer)
    pad_id = prepared.tokenizer.pad_token_id
    run = build_run(cfg, ctx, device, prepared, train_examples, val_examples, pad_id, recipe)
    if checkpoint is None:
        return run, None
    run.state = restore(checkpoint, run.trainable, run.optimizer)
    run.stream.seek(run.state.data_position)
    if run.dp is not None:
        run.dp.load_history(run.state.dp_history)
    return run, checkpoint.step


def _reference_ready(
    run: Run, store: CheckpointStore, reporter: Reporter, *, resuming: bool
) -> bool:
    """Attach the cached reference log-probabilities when the recipe needs them (full
    fine-tuning of DPO / KTO; reference.py). False when a stop was requested meanwhile."""
    assert run.recipe is not None
    if not run.recipe.uses_reference_cache(run.cfg):
        return True
    splits: dict[str, Any] = {"train": run.train_records, "validation": run.val_records}
    if not resuming:
        count = sum(len(split) for split in splits.values())
        _event(run, reporter, "reference", f"scoring {count} examples with the starting model")
    return attach_reference(run, store, splits, resuming=resuming, should_stop=reporter.should_stop)


def _saved_tokenizer(checkpoint: Checkpoint | None, cfg: TrainConfig) -> object | None:
    if checkpoint is None or "tokenizer" not in checkpoint.blobs:
        return None
    from tokenizers import Tokenizer

    return wrap_tokenizer(
        Tokenizer.from_str(checkpoint.blobs["tokenizer"].decode()), model_max_length=cfg.seq_len
    )


def _prepare_splits(
    recipe: Recipe, data: TrainData, tokenizer: object
) -> tuple[Examples, Examples]:
    """The recipe's examples of the train and validation splits; DataError for bad records or
    a train split with nothing to learn."""
    train_examples = recipe.prepare(data.train, tokenizer, "train")
    if not train_examples:
        raise DataError("the train split has no record with trainable tokens")
    return train_examples, recipe.prepare(data.validation, tokenizer, "validation")


# -- validation, early stopping, checkpoints ------------------------------------------------------


def _due(step: int, every: int) -> bool:
    return every > 0 and step % every == 0


def _maybe_validate(run: Run) -> dict[str, float] | None:
    """Validation metrics when an evaluation is due ({"loss", recipe statistics}), else None."""
    step = run.state.step
    if not (_due(step, run.cfg.eval_every) or step == run.cfg.max_steps):
        return None
    metrics = validation_metrics(run)
    if metrics is not None:
        run.state.val_losses.append([step, metrics["loss"]])
    return metrics


def _early_stop_due(run: Run, val_loss: float | None) -> bool:
    """Track the best validation loss; True once `patience` evaluations did not improve it."""
    state = run.state
    if val_loss is None:
        return False
    if state.best_val_loss is None or val_loss < state.best_val_loss:
        state.best_val_loss, state.evals_without_improvement = val_loss, 0
        return False
    state.evals_without_improvement += 1
    patience = run.cfg.early_stopping_patience
    return patience > 0 and state.evals_without_improvement >= patience


def _save_checkpoint(run: Run, store: CheckpointStore) -> int:
    """Rank 0 writes a checkpoint of the current step; returns the step. Every rank must call
    it: under FSDP gathering the full weights and optimizer state is a collective."""
    flush_losses(run)
    weights: Mapping[str, torch.Tensor] = run.trainable
    optimizer: torch.optim.Optimizer | dict[str, Any] = run.optimizer
    if run.sharded:
        weights = full_tensors(run.trainable, keep=run.ctx.is_main)
        optimizer = full_optimizer_state(run.optimizer, keep=run.ctx.is_main)
    if run.ctx.is_main:
        manifest, tensors = snapshot(
            run.cfg, run.state, weights, optimizer, world_size=run.ctx.world_size
        )
        blobs = {}
        if registry.method(run.cfg.method).trains_tokenizer:
            blobs["tokenizer"] = run.prepared.tokenizer.backend_tokenizer.to_str().encode()
        store.save(
            run.state.step,
            manifest,
            tensors,
            train_loss=run.state.losses[-1] if run.state.losses else None,
            val_loss=run.state.last_val_loss
            if run.state.val_losses and run.state.val_losses[-1][0] == run.state.step
            else None,
            blobs=blobs,
        )
    return run.state.step


# -- reporting and the end ----------------------------------------------------------------------


class _Window:
    """Train loss and throughput since the previous log() call."""

    def __init__(self, step: int) -> None:
        self.start_step, self.tokens = step, 0
        self.started = self.window_start = time.monotonic()
        self.last_logged_step = step

    def unreported(self, step: int) -> bool:
        """True when steps ran since the last log() call."""
        return step != self.last_logged_step

    def metrics(self, run: Run, validation: dict[str, float] | None) -> dict[str, float]:
        flush_losses(run)
        losses = run.state.losses[self.last_logged_step : run.state.step]
        now = time.monotonic()
        steps_done = run.state.step - self.start_step
        per_step = (now - self.started) / max(steps_done, 1)
        metrics = {
            "loss": sum(losses) / max(len(losses), 1),
            "lr": learning_rate_at(max(run.state.step - 1, 0), run.cfg),
            "tokens_per_s": self.tokens / max(now - self.window_start, 1e-9),
            "total_steps": float(run.cfg.max_steps),
            "eta_s": per_step * (run.cfg.max_steps - run.state.step),
            "epoch": float(run.stream.epoch),
        }
        metrics.update(take_stats(run))
        if run.dp is not None:
            metrics["epsilon"] = run.dp.epsilon()
        for name, value in (validation or {}).items():
            metrics[f"val_{name}"] = value
        if run.device.type == "cuda":
            metrics["gpu_mem_bytes"] = float(torch.cuda.max_memory_allocated(run.device))
        self.tokens, self.window_start = 0, now
        self.last_logged_step = run.state.step
        return metrics


def _event(run: Run, reporter: Reporter, kind: str, message: str) -> None:
    if run.ctx.is_main:
        reporter.event(kind, message)


def _start_message(run: Run, resumed_from: int | None) -> str:
    return _plain_start_message(run, resumed_from) + _dp_message(run)


def _dp_message(run: Run) -> str:
    if run.dp is None:
        return ""
    return (
        f"; differential privacy: noise multiplier {run.dp.noise_multiplier:.3f}, "
        f"sample rate {run.dp.sample_rate:.4f}, clip {run.dp.settings.max_grad_norm:g}, "
        f"target epsilon {run.dp.settings.target_epsilon:g} at delta {run.dp.delta:.2e}"
    )


def _plain_start_message(run: Run, resumed_from: int | None) -> str:
    total = sum(p.numel() for p in run.prepared.model.parameters())
    trainable = sum(p.numel() for p in run.trainable.values())
    where = f"resuming from step {resumed_from}" if resumed_from is not None else "starting"
    return (
        f"{where}: objective {run.cfg.objective}, method {run.cfg.method}, "
        f"{trainable:,} of {total:,} parameters trainable, "
        f"device {run.device}, precision {run.prepared.precision}, "
        f"{run.parallelism} over {run.ctx.world_size} process(es), "
        f"{run.stream.batches_per_epoch()} micro-batches per epoch"
    )


def _finish(
    run: Run,
    store: CheckpointStore,
    reporter: Reporter,
    *,
    stopped: bool,
    early: bool,
    last_saved: int | None,
    resumed_from: int | None,
) -> TrainResult:
    flush_losses(run)
    state = run.state
    if state.step > 0 and last_saved != state.step:
        _save_checkpoint(run, store)
    final, full_weights = None, None
    if not stopped and run.sharded:  # a collective: every rank gathers, rank 0 keeps
        named = dict(unwrap_model(run.prepared.model).named_parameters())
        full_weights = full_tensors(named, keep=run.ctx.is_main)
    privacy = run.dp.summary(state.step) if run.dp is not None else None
    if not stopped and run.ctx.is_main:
        metrics: dict[str, Any] = {
            "train_loss": state.losses[-1] if state.losses else None,
            "best_val_loss": state.best_val_loss,
        }
        if privacy is not None:
            metrics["differential_privacy"] = privacy
        final = save_final_model(
            store,
            run.prepared.model,
            run.prepared.tokenizer,
            run.cfg,
            step=state.step,
            metrics=metrics,
            full_weights=full_weights,
        )
    _event(
        run,
        reporter,
        "stopped" if stopped else "finished",
        f"step {state.step} of {run.cfg.max_steps}",
    )
    params = list(run.prepared.model.parameters())
    return TrainResult(
        step=state.step,
        stopped=stopped,
        early_stopped=early,
        losses=list(state.losses),
        val_losses=[list(v) for v in state.val_losses],
        best_val_loss=state.best_val_loss,
        tokens_seen=state.tokens_seen,
        elapsed_s=state.elapsed_s,
        resumed_from_step=resumed_from,
        last_checkpoint=store.latest() if run.ctx.is_main else None,
        final_model=final,
        trainable_params=sum(p.numel() for p in run.trainable.values()),
        total_params=sum(p.numel() for p in params),
        store=store,
        privacy=privacy,
    )
