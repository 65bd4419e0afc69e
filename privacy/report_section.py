"""The privacy audit's section of the evaluation report and model card (registered with
``evaluation.report`` from ``PrivacyConfig.ready``; evaluation imports nothing of privacy).

It shows the latest audit's figures beside the thresholds they were judged by, the verdict,
the measures that failed and an owner's override with its reason. Numbers only: the evidence
(quotes of training data) is never read here, and a figure that is not a number is left out.
"""

from __future__ import annotations

from typing import Any

from evaluation.report import register_section
from privacy.models import latest_audit
from privacy.pages import figure_rows
from trainer.models import ModelVersion

NUMBER = int | float | bool


def register() -> None:
    """Called from ``PrivacyConfig.ready``: after the arena's section, before the curves."""
    register_section("privacy", "Privacy audit", audit_section, order=60)


def audit_section(version: ModelVersion) -> dict[str, Any] | None:
    """The version's latest audit attempt as figures; None when it was never audited."""
    audit = latest_audit(version)
    if audit is None:
        return None
    figures = [
        {k: row[k] for k in ("name", "value", "threshold", "failed")}
        for row in figure_rows(audit)
        if isinstance(row["value"], NUMBER) or row["value"] is None
    ]
    return {
        "attempt": audit.attempt,
        "state": audit.state,
        "verdict": audit.verdict,
        "failed_measures": list(audit.failed_measures),
        "releases": audit.releases,
        "figures": figures,
        "override_reason": audit.override_reason if audit.overridden else None,
        "overridden_at": audit.override_at.isoformat() if audit.override_at else None,
        "finished_at": audit.finished_at.isoformat() if audit.finished_at else None,
    }
