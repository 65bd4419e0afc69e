"""The adapter between the platform and the engine's audit library
(``trainer.engine.privacy``, no Django): everything the audit needs, decrypted in memory, in
the engine's types, and its report back as numbers (``figures``) and quotes (``evidence``).

All knowledge of the library's interface lives here, so the rest of the app reads plain data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from privacy import inputs
from trainer.engine_io import finite_json
from trainer.models import ModelVersion, TrainingJob


@dataclass(frozen=True)
class AuditResult:
    """What an audit found: ``figures`` (numbers only, for the row) and ``evidence`` (quotes of
    training data, stored encrypted)."""

    figures: dict[str, Any]
    evidence: dict[str, Any]


def default_thresholds() -> dict[str, float]:
    """The engine's default thresholds by measure name."""
    from trainer.engine.privacy import policy as audit

    return dict(audit.default_thresholds())


def failed_measures(figures: dict[str, Any], thresholds: dict[str, float]) -> list[str]:
    """Names of the measures whose figures break ``thresholds`` (the engine's policy)."""
    from trainer.engine.privacy import policy as audit

    return list(audit.evaluate_policy(figures, thresholds))


def audit_model_version(version: ModelVersion, job: TrainingJob, progress: Any) -> AuditResult:
    """Run the four measurements on ``version`` with the engine's ``run_audit``: its figures
    (numbers only) and evidence (quotes). Raises what loading or the engine raises."""
    from contextlib import nullcontext

    from trainer.engine.privacy.audit import AuditInputs, run_audit, texts_of

    progress("loading", 0, 1)
    data = inputs.gather(version, job)
    reference = data.reference
    report = run_audit(
        data.model,
        data.tokenizer,
        AuditInputs(
            train_texts=[texts_of(r) for r in data.train],
            test_texts=[texts_of(r) for r in data.test],
            plan=data.canary_plan,
            pii_prompts=data.pii_prompts,
            raw_digests=data.known_digests,
            detect=data.detect,
            digest=data.digest,
        ),
        reference=(lambda: nullcontext(reference)) if reference is not None else None,
        progress=progress,
    )
    return AuditResult(figures=finite_json(report.figures()), evidence=report.evidence())
