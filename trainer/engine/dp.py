"""Differential-privacy training (DP-SGD, Abadi et al. 2016) with Opacus's accountant.

A job opts in with ``differential_privacy: {"target_epsilon", "delta", "max_grad_norm"}``.
The privacy unit is one training *record*: a record's whole contribution to a step (all the
chunks of a record longer than seq_len included) is one gradient, clipped to ``max_grad_norm``.

One step, as DP-SGD prescribes:
1. **Poisson sampling**: every train record joins the step independently with probability
   ``q = batch_size * grad_accum / n_records`` (so the batch size varies; its expectation is the
   configured one). Privacy amplification by sampling, which the accountant relies on, holds
   for Poisson sampling, not for shuffled fixed-size batches.
2. **Per-record gradients**: each sampled record runs forward and backward alone, in a row of
   its own: no packing, so no two records ever share a row or an attention block, and the
   gradient read after its backward is exactly that record's.
3. **Clip** each per-record gradient (all trainable tensors together) to L2 norm
   ``max_grad_norm``, **sum**, add Gaussian noise ``N(0, (sigma * max_grad_norm)^2)`` to every
   coordinate, divide by the *expected* batch size ``q * n`` (as Opacus does under Poisson
   sampling), and let AdamW take the step (post-processing: no privacy cost).

The noise multiplier ``sigma`` is calibrated before the first step with Opacus's
``get_noise_multiplier`` so that ``max_steps`` steps at rate ``q`` spend at most
``target_epsilon`` at ``delta``. The accountant is Opacus's RDP accountant (Mironov 2017;
Mironov, Talwar, Zhang 2019 for the sampled Gaussian): its bound is a valid upper bound for every
(sigma, q, steps) including ``q = 1`` on small datasets, and it is deterministic. The PRV
accountant (Gopi et al. 2021) gives a tighter epsilon but is numerical, carries an error term
and refuses some parameter ranges; we prefer the bound that always holds. Its whole state is the
history ``[(sigma, q, steps)]``, kept as JSON in every checkpoint's loop state so a resumed run
reports the same epsilon as an uninterrupted one.

``delta`` defaults to ``1 / (10 * n_records)``: below ``1/n``, so the guarantee does not allow
the "release one whole record" mechanism.

What cannot be private is refused (``check_config``, the one place the API, the job form, the
OpenAI fine-tuning API and the engine all use), naming the field: preference objectives (a
pair's two sequences and KTO's step-wide KL estimate cross the per-record unit), QLoRA (not
tested with per-record clipping on a 4-bit base), from_scratch (its tokenizer is learned from
the records without any noise), several processes and FSDP (the step above runs in one process).
The job's own ``max_grad_norm`` (global clipping) is replaced by the per-record clip and must
keep its default.

Imports torch and Opacus lazily: the web process validates configs without them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import registry

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .config import TrainConfig
    from .data import TokenizedRecord
    from .packing import Batch

FIELD = "differential_privacy"
ACCOUNTANT = "rdp"
PRIVACY_UNIT = "record"
KEYS = ("target_epsilon", "delta", "max_grad_norm")
DEFAULT_MAX_GRAD_NORM = 1.0
MAX_EPSILON = 1000.0
# Objectives whose loss is a sum over independent records (one record, one gradient).
PER_RECORD_OBJECTIVES = ("supervised",)
HELP = (
    "Optional DP-SGD: {target_epsilon: > 0, delta: in (0, 1), default 1/(10 * train records), "
    "max_grad_norm: per-record clipping norm > 0, default 1.0}. One record per row (no packing), "
    "Poisson sampling, RDP accountant; supervised objective with lora, dora, full or freeze in "
    "one process."
)


class DPConfigError(ValueError):
    """A differential-privacy setting is invalid; ``field`` names it (dotted for a key)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class DPSettings:
    """The validated ``differential_privacy`` object; ``delta`` None = the default."""

    target_epsilon: float
    delta: float | None
    max_grad_norm: float

    def resolved_delta(self, n_records: int) -> float:
        """The delta of the guarantee: the given one, else 1 / (10 * n_records)."""
        return self.delta if self.delta is not None else 1.0 / (10.0 * max(n_records, 1))


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DPConfigError(f"{FIELD}.{name}", f"must be a finite number, got {value!r}")
    return float(value)


def parse(value: object) -> DPSettings | None:
    """The settings of a ``differential_privacy`` value (None or {} = off); DPConfigError names
    the offending key."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise DPConfigError(FIELD, "must be an object {target_epsilon, delta, max_grad_norm}")
    if not value:
        return None
    for key in value:
        if key not in KEYS:
            raise DPConfigError(f"{FIELD}.{key}", "unknown setting")
    if "target_epsilon" not in value:
        raise DPConfigError(f"{FIELD}.target_epsilon", "is required")
    epsilon = _number("target_epsilon", value["target_epsilon"])
    if not 0 < epsilon <= MAX_EPSILON:
        raise DPConfigError(f"{FIELD}.target_epsilon", f"must be in (0, {MAX_EPSILON:g}]")
    delta = value.get("delta")
    if delta is not None:
        delta = _number("delta", delta)
        if not 0 < delta < 1:
            raise DPConfigError(f"{FIELD}.delta", "must be in (0, 1)")
    norm = _number("max_grad_norm", value.get("max_grad_norm", DEFAULT_MAX_GRAD_NORM))
    if not 0 < norm <= 1e6:
        raise DPConfigError(f"{FIELD}.max_grad_norm", "must be in (0, 1e6]")
    return DPSettings(epsilon, delta, norm)


def normalized(value: object) -> dict[str, float] | None:
    """The JSON form a config keeps: None when off, else every key with its value."""
    settings = parse(value)
    if settings is None:
        return None
    return {
        "target_epsilon": settings.target_epsilon,
        "delta": settings.delta,  # type: ignore[dict-item]
        "max_grad_norm": settings.max_grad_norm,
    }


def combination_error(cfg: TrainConfig) -> tuple[str, str] | None:
    """(field, reason) when ``cfg`` asks for DP in a combination that cannot be private."""
    if parse(cfg.differential_privacy) is None:
        return None
    method = registry.method(cfg.method)
    if cfg.objective not in PER_RECORD_OBJECTIVES:
        return (
            "objective",
            f"differential privacy trains the supervised objective only: '{cfg.objective}' "
            "compares sequences within a pair or a step, which breaks the per-record unit",
        )
    if method.quantized:
        return ("method", "differential privacy is not supported with qlora; use lora or dora")
    if method.trains_tokenizer:
        return (
            "method",
            "from_scratch learns its tokenizer from the records without noise; differential "
            "privacy needs a base model (lora, dora, full or freeze)",
        )
    if cfg.parallelism == "fsdp":
        return ("parallelism", "differential privacy trains in one process; fsdp is refused")
    if cfg.max_processes > 1:
        return (
            "max_processes",
            "differential privacy trains in one process: set max_processes to 0 or 1",
        )
    if cfg.max_grad_norm != DEFAULT_MAX_GRAD_NORM:
        return (
            "max_grad_norm",
            "under differential privacy the per-record clip "
            "differential_privacy.max_grad_norm replaces global clipping; leave this at 1.0",
        )
    return None


def process_limit(cfg: TrainConfig) -> int:
    """The most processes the job may train with (0 = as many as offered): max_processes,
    and 1 under differential privacy (the DP step runs in one process)."""
    if cfg.differential_privacy is not None:
        return 1
    return cfg.max_processes


# -- the engine side ---------------------------------------------------------------------------


@dataclass
class DPState:
    """The calibrated mechanism and its accountant for one run."""

    settings: DPSettings
    delta: float
    noise_multiplier: float
    sample_rate: float
    n_records: int
    accountant: Any  # opacus.accountants.RDPAccountant

    @property
    def expected_batch(self) -> float:
        return self.sample_rate * self.n_records

    def epsilon(self) -> float:
        """Epsilon spent so far at ``delta`` (0 before the first step)."""
        if not self.accountant.history:
            return 0.0
        return float(self.accountant.get_epsilon(self.delta))

    def history_json(self) -> list[list[float]]:
        return [[float(s), float(q), int(n)] for s, q, n in self.accountant.history]

    def load_history(self, history: list[list[float]]) -> None:
        """Restore the accountant from a checkpoint's JSON history."""
        self.accountant.history = [(float(s), float(q), int(n)) for s, q, n in history]

    def summary(self, steps: int) -> dict[str, Any]:
        """What the model version records: the achieved guarantee and how it was reached."""
        return {
            "epsilon": self.epsilon(),
            "delta": self.delta,
            "target_epsilon": self.settings.target_epsilon,
            "max_grad_norm": self.settings.max_grad_norm,
            "noise_multiplier": self.noise_multiplier,
            "sample_rate": self.sample_rate,
            "steps": steps,
            "accountant": ACCOUNTANT,
            "unit": PRIVACY_UNIT,
        }


def set_up(cfg: TrainConfig, n_records: int) -> DPState | None:
    """Calibrate the noise for ``cfg`` over ``n_records`` train records (None without DP);
    DPConfigError when the target cannot be reached."""
    settings = parse(cfg.differential_privacy)
    if settings is None:
        return None
    from opacus.accountants import RDPAccountant
    from opacus.accountants.utils import get_noise_multiplier

    delta = settings.resolved_delta(n_records)
    rate = min(1.0, cfg.batch_size * cfg.grad_accum / max(n_records, 1))
    try:
        sigma = get_noise_multiplier(
            target_epsilon=settings.target_epsilon,
            target_delta=delta,
            sample_rate=rate,
            steps=cfg.max_steps,
            accountant=ACCOUNTANT,
        )
    except ValueError as exc:
        raise DPConfigError(f"{FIELD}.target_epsilon", f"cannot be reached: {exc}") from exc
    return DPState(settings, delta, float(sigma), rate, n_records, RDPAccountant())


def poisson_sample(n_records: int, rate: float) -> list[int]:
    """Indices of the records in this step: each independently with probability ``rate``
    (torch's generator, whose state every checkpoint keeps)."""
    import torch

    return torch.nonzero(torch.rand(n_records) < rate).squeeze(1).tolist()


def record_batch(record: TokenizedRecord, seq_len: int, pad_id: int) -> Batch | None:
    """A micro-batch holding one record alone: one row per seq_len chunk of it, padded to the
    longest chunk (not to seq_len). None for a record without a target."""
    from .packing import chunk_record, collate

    rows = [[segment] for segment in chunk_record(0, record, seq_len)]
    if not rows:
        return None
    width = max(row[0].length for row in rows)
    return collate(rows, [record], width, pad_id)


def clip_into(
    trainable: dict[str, nn.Parameter], sums: dict[str, torch.Tensor], clip: float
) -> None:
    """Add the current gradients, scaled to L2 norm at most ``clip`` over all tensors, into
    ``sums``; then clear them (the next record starts from zero)."""
    import torch

    grads = [p.grad for p in trainable.values() if p.grad is not None]
    if not grads:
        return
    norm = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(g.float()) for g in grads])
    )
    scale = torch.clamp(clip / (norm + 1e-6), max=1.0)
    for name, param in trainable.items():
        if param.grad is not None:
            sums[name].add_(param.grad.float() * scale)
            param.grad = None


def noisy_gradients(
    trainable: dict[str, nn.Parameter], sums: dict[str, torch.Tensor], state: DPState
) -> None:
    """Set every trainable tensor's .grad to (clipped sum + noise) / expected batch size."""
    import torch

    std = state.noise_multiplier * state.settings.max_grad_norm
    for name, param in trainable.items():
        total = sums[name]
        noise = torch.normal(0.0, std, size=total.shape, device=total.device)
        param.grad = ((total + noise) / state.expected_batch).to(param.dtype)


def extra_memory_bytes(trainable_params: int) -> float:
    """Extra bytes DP training holds beyond a normal step, for the estimate: the fp32 sum of
    clipped per-record gradients and one fp32 noise tensor at a time (at most the size of the
    trainable weights). Per-sample gradients are never materialised for a whole batch: records
    run one at a time and each record's gradient reuses .grad. (The activations the estimate
    counts for batch_size rows are an upper bound for one record's rows.)"""
    return 2.0 * 4.0 * trainable_params
