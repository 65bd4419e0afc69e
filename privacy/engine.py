"""The adapter between the platform and the engine's audit library
(``trainer.engine.privacy``, no Django): everything the audit needs, decrypted in memory, in
the engine's types, and its report back as numbers (``figures``) and quotes (``evidence``).

All knowledge of the library's interface lives here, so the rest of the app reads plain data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trainer.models import ModelVersion, TrainingJob


@dataclass(frozen=True)
class AuditResult:
    """What an audit found: ``figures`` (numbers only, for the row) and ``evidence`` (quotes of
    training data, stored encrypted)."""

    figures: dict[str, Any]
    evidence: dict[str, Any]


def default_thresholds() -> dict[str, float]:
    """The engine's default thresholds by measure name."""
    from trainer.engine.privacy import audit

    return dict(audit.default_thresholds())


def failed_measures(figures: dict[str, Any], thresholds: dict[str, float]) -> list[str]:
    """Names of the measures whose figures break ``thresholds`` (the engine's policy)."""
    from trainer.engine.privacy import audit

    return list(audit.evaluate_policy(figures, thresholds))


def audit_model_version(version: ModelVersion, job: TrainingJob, progress: Any) -> AuditResult:
    """Run the four measurements on ``version`` (see the module docstring)."""
    raise NotImplementedError("waiting for the privacy-engine interface")
