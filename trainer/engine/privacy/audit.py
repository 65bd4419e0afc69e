"""The privacy audit of one model version: four measurements, one report, one policy check.

``run_audit`` takes the tuned model and tokenizer, the records as plain texts (decrypted in
memory by the caller), the job's canary plan, the prompts and digests of the personal values
of the raw data, and returns an ``AuditReport``: ``figures()`` holds numbers only (safe for a
database row), ``evidence()`` holds quotes of training data and planted secrets (to be stored
encrypted and shown to data stewards only).

Cost is bounded by ``AuditConfig``: sampled records (one teacher-forced pass each for the tuned
model and the reference), ``canary_samples`` candidates per canary (short sentences, batched),
and a few greedy generations. ``evaluate_policy`` names the measures whose figures break the
thresholds (``DEFAULT_THRESHOLDS``, documented in docs/privacy.md).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from . import exposure as exposure_mod
from . import membership, records, regurgitation
from .canaries import SECRET_SPACE, CanaryPlan
from .policy import (
    DEFAULT_THRESHOLDS,
    MEASURES,
    default_thresholds,
    evaluate_policy,
    measure_value,
)
from .scoring import TextScores, score_ids, score_texts

Progress = Callable[[str, int, int], None]
Reference = Callable[[], AbstractContextManager[Any]]


@dataclass(frozen=True)
class AuditConfig:
    records_per_split: int = 48
    canary_samples: int = 100
    k: int = 32
    m: int = 32
    max_tokens: int = 256
    pii_prompts: int = 24
    new_tokens: int = 24
    seed: int = 0


@dataclass
class AuditInputs:
    """Plain texts of the approved version's train and test splits, the canary plan (None: the
    job had none), and for regurgitation the prompts preceding personal values in the raw
    data, the raw data's value digests, the detector and the digest function."""

    train_texts: Sequence[str]
    test_texts: Sequence[str]
    plan: CanaryPlan | None = None
    pii_prompts: Sequence[str] = ()
    raw_digests: Collection[str] = ()
    detect: regurgitation.Detect | None = None
    digest: Callable[[str, str], str] | None = None


@dataclass
class AuditReport:
    exposures: list[exposure_mod.Exposure] = field(default_factory=list)
    train: list[records.RecordResult] = field(default_factory=list)
    test: list[records.RecordResult] = field(default_factory=list)
    spans: list[dict[str, Any]] = field(default_factory=list)
    leaks: regurgitation.Regurgitation | None = None
    secrets: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        """Numbers only: nothing here quotes data or a secret."""
        return {
            "canary_exposure": self._exposure_figures(),
            "extraction": self._extraction_figures(),
            "regurgitation": self.leaks.figures() if self.leaks else None,
            "membership_inference": self._membership_figures(),
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "notes": list(self.notes),
        }

    def evidence(self) -> dict[str, Any]:
        """Quotes: the longest reproduced spans, regurgitated values, canary secrets."""
        return {
            "reproduced_spans": self.spans,
            "regurgitated_values": self.leaks.evidence if self.leaks else [],
            "canaries": self.secrets,
        }

    def _exposure_figures(self) -> dict[str, Any] | None:
        if not self.exposures:
            return None
        return {
            "canaries": len(self.exposures),
            "max_exposure": max(e.exposure for e in self.exposures),
            "space_bits": round(math.log2(SECRET_SPACE), 3),
            "by_repetitions": exposure_mod.by_repetitions(self.exposures),
        }

    def _extraction_figures(self) -> dict[str, Any] | None:
        train, test = records.extraction_rate(self.train), records.extraction_rate(self.test)
        if train is None:
            return None
        return {
            "train_rate": round(train, 4),
            "test_rate": None if test is None else round(test, 4),
            "excess": round(train - (test or 0.0), 4),
            "train_tested": sum(1 for r in self.train if r.k),
            "test_tested": sum(1 for r in self.test if r.k),
            "longest_reproduced_tokens": max((r.reproduced for r in self.train), default=0),
        }

    def _membership_figures(self) -> dict[str, Any] | None:
        if not self.train or not self.test:
            return None
        loss_auc = membership.auc([-r.loss for r in self.train], [-r.loss for r in self.test])
        figures: dict[str, Any] = {
            "train": len(self.train),
            "test": len(self.test),
            "loss_auc": _round(loss_auc),
            "loss_tpr_at_1pct_fpr": _round(
                membership.tpr_at_fpr([-r.loss for r in self.train], [-r.loss for r in self.test])
            ),
            "calibrated_auc": None,
            "calibrated_tpr_at_1pct_fpr": None,
        }
        if all(r.reference_loss is not None for r in (*self.train, *self.test)):
            members = [r.reference_loss - r.loss for r in self.train]  # type: ignore[operator]
            others = [r.reference_loss - r.loss for r in self.test]  # type: ignore[operator]
            figures["calibrated_auc"] = _round(membership.auc(members, others))
            figures["calibrated_tpr_at_1pct_fpr"] = _round(membership.tpr_at_fpr(members, others))
        figures["auc"] = (
            figures["calibrated_auc"] if figures["calibrated_auc"] is not None else loss_auc
        )
        return figures


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def run_audit(
    model: Any,
    tokenizer: Any,
    inputs: AuditInputs,
    config: AuditConfig = AuditConfig(),
    *,
    reference: Reference | None = None,
    progress: Progress | None = None,
) -> AuditReport:
    """Run the four measurements (see the module docstring). ``reference`` opens a context in
    which ``model`` (or the model it yields) is the reference: for adapters, the same model
    with adapters disabled (``peft``'s ``disable_adapter``); without it, the calibrated
    membership attack is skipped."""
    report = AuditReport()
    step = progress or (lambda stage, done, total: None)
    model.eval()
    with _timed(report, "records"):
        _measure_records(model, tokenizer, inputs, config, reference, report, step)
    with _timed(report, "canaries"):
        _measure_canaries(model, tokenizer, inputs, config, report, step)
    with _timed(report, "regurgitation"):
        _measure_regurgitation(model, tokenizer, inputs, config, reference, report, step)
    return report


class _timed(AbstractContextManager[None]):
    def __init__(self, report: AuditReport, name: str) -> None:
        self.report, self.name = report, name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.report.seconds[self.name] = time.perf_counter() - self.start


def _sample(texts: Sequence[str], size: int, seed: int, salt: str) -> list[str]:
    chosen = [t for t in texts if t.strip()]
    random.Random(f"{seed}:{salt}").shuffle(chosen)
    return chosen[:size]


def _measure_records(
    model: Any,
    tokenizer: Any,
    inputs: AuditInputs,
    config: AuditConfig,
    reference: Reference | None,
    report: AuditReport,
    step: Progress,
) -> None:
    train = _sample(inputs.train_texts, config.records_per_split, config.seed, "train")
    test = _sample(inputs.test_texts, config.records_per_split, config.seed, "test")
    step("records", 0, 2)
    tuned = score_texts(model, tokenizer, [*train, *test], max_tokens=config.max_tokens)
    step("records", 1, 2)
    calibrated = _reference_scores(model, reference, [s.ids for s in tuned])
    if calibrated is None:
        report.notes.append("no reference model: the calibrated membership attack was skipped")
    results = records.measure(tuned, calibrated, k=config.k, m=config.m)
    report.train, report.test = results[: len(train)], results[len(train) :]
    report.spans = records.longest_spans(
        report.train, tuned[: len(train)], lambda ids: tokenizer.decode(ids)
    )
    step("records", 2, 2)


def _reference_scores(
    model: Any, reference: Reference | None, rows: list[list[int]]
) -> list[TextScores] | None:
    """Scores under the reference: the model the context yields, or ``model`` itself inside
    the context when it yields None (peft's ``disable_adapter()`` yields nothing)."""
    if reference is None:
        return None
    with reference() as base:
        return score_ids(base if base is not None else model, rows)


def _measure_canaries(
    model: Any,
    tokenizer: Any,
    inputs: AuditInputs,
    config: AuditConfig,
    report: AuditReport,
    step: Progress,
) -> None:
    if inputs.plan is None or not inputs.plan.canaries:
        report.notes.append("no canaries were planted: exposure not measured")
        return

    def score(sentences: Sequence[str]) -> list[float]:
        return [s.total for s in score_texts(model, tokenizer, sentences, max_tokens=64)]

    canaries = inputs.plan.canaries
    for done, canary in enumerate(canaries):
        step("canaries", done, len(canaries))
        result = exposure_mod.exposure_of(
            canary, score, samples=config.canary_samples, seed=config.seed
        )
        report.exposures.append(result)
        report.secrets.append(
            {"text": canary.text, "repetitions": canary.repetitions, "exposure": result.exposure}
        )
    step("canaries", len(canaries), len(canaries))


def _measure_regurgitation(
    model: Any,
    tokenizer: Any,
    inputs: AuditInputs,
    config: AuditConfig,
    reference: Reference | None,
    report: AuditReport,
    step: Progress,
) -> None:
    if inputs.detect is None or inputs.digest is None:
        report.notes.append("no detector given: regurgitation not measured")
        return
    prompts = [
        *_sample(inputs.pii_prompts, config.pii_prompts, config.seed, "pii"),
        *regurgitation.GENERIC_PROMPTS,
    ]
    step("regurgitation", 0, 2)
    outputs = regurgitation.generate_greedy(model, tokenizer, prompts, config.new_tokens)
    step("regurgitation", 1, 2)
    # What the untuned model says for the same prompts (common first names, a company's own
    # domain) is not memorized from the data: those values are counted apart, not as leaks.
    base_outputs: list[str] = []
    if reference is not None:
        with reference() as base:
            base_model = base if base is not None else model
            base_outputs = regurgitation.generate_greedy(
                base_model, tokenizer, prompts, config.new_tokens
            )
    else:
        report.notes.append("no reference model: regurgitation counted without a baseline")
    report.leaks = regurgitation.count(
        prompts,
        outputs,
        inputs.detect,
        inputs.digest,
        set(inputs.raw_digests),
        baseline=regurgitation.found_digests(base_outputs, inputs.detect, inputs.digest),
    )
    step("regurgitation", 2, 2)


def texts_of(record: dict[str, Any]) -> str:
    """A record as one text (what the audit scores): its text, prompt and completion, or its
    messages' contents, one per line."""
    parts: list[str] = []
    for message in record.get("messages") or []:
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            parts.append(message["content"])
    for key in ("text", "prompt", "completion", "chosen"):
        if isinstance(record.get(key), str):
            parts.append(record[key])
    return "\n".join(parts)


__all__ = [
    "DEFAULT_THRESHOLDS",
    "MEASURES",
    "AuditConfig",
    "AuditInputs",
    "AuditReport",
    "default_thresholds",
    "evaluate_policy",
    "measure_value",
    "run_audit",
    "texts_of",
]
