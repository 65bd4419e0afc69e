"""The release check ``privacy`` registers with ``serving.release``: a model version whose
latest audit failed, or that has no passed audit, is neither deployed nor exported unless an
owner overrode the verdict with a written reason.

``SOBERANA_PRIVACY_AUDIT_REQUIRED`` (on, except in the test environment) decides what a model
version without a finished audit gets (never audited, queued, running, or the audit could not
run): refused (``not_run``), or let through. A failed verdict is refused whatever the setting.
"""

from __future__ import annotations

from django.conf import settings

from privacy.models import AuditState, Verdict, latest_audit
from serving.release import ReleaseAction, ReleaseRefusal, register_release_check
from trainer.models import ModelVersion

CHECK = "privacy"
VERBS = {"deploy": "deployed", "export": "exported"}


def register() -> None:
    """Called from ``PrivacyConfig.ready``."""
    register_release_check(CHECK, check_version)


def check_version(version: ModelVersion, action: ReleaseAction) -> ReleaseRefusal | None:
    """None when ``version`` may be released; else a refusal naming the failed measure."""
    audit = latest_audit(version)
    verb = VERBS.get(action, action)
    if audit is not None and audit.overridden:
        return None
    if audit is not None and audit.verdict == Verdict.FAILED:
        measures = ", ".join(audit.failed_measures) or "unknown"
        return ReleaseRefusal(
            CHECK,
            audit.failed_measures[0] if audit.failed_measures else "unknown",
            f"The privacy audit failed on {measures}: this model version cannot be {verb} "
            "unless an owner overrides the verdict with a written reason.",
        )
    if audit is not None and audit.verdict == Verdict.PASSED:
        return None
    if not settings.PRIVACY_AUDIT_REQUIRED:
        return None
    why = "has not run"
    if audit is not None and audit.state in (AuditState.QUEUED, AuditState.RUNNING):
        why = "is still running"
    elif audit is not None and audit.state == AuditState.FAILED:
        why = "could not run"
    return ReleaseRefusal(
        CHECK,
        "not_run",
        f"The privacy audit (measure: not_run) {why}: this model version cannot be {verb} "
        "until it passes or an owner overrides the verdict with a written reason.",
    )
