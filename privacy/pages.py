"""The privacy audit's section on the job page and the model-version page (registered with
``trainer.pages``): a verdict in plain words, the figures beside their thresholds, the
override, and the evidence (quotes of training data) for data stewards only, each read
audited."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from accounts.roles import Action
from accounts.services import membership_for
from audit.services import actor_from_request
from privacy import services
from privacy.models import AuditState, PrivacyAudit, Verdict, latest_audit
from trainer.models import ModelVersion, TrainingJob
from trainer.pages import register_job_section, register_model_version_section


def register() -> None:
    """Called from ``PrivacyConfig.ready``."""
    register_job_section("privacy", render_audit_section)
    register_model_version_section("privacy", render_version_audit_section)


def render_audit_section(request: HttpRequest, job: TrainingJob) -> SafeString | str:
    """The section for the job's model version; "" while the job has none."""
    version = ModelVersion.objects.filter(job=job).first()
    if version is None:
        return ""
    return render_version_audit_section(request, version)


def render_version_audit_section(request: HttpRequest, version: ModelVersion) -> SafeString:
    """The section for ``version`` (which the page has already let the user see)."""
    audit = latest_audit(version)
    access = membership_for(request.user, version.project_id)
    evidence = None
    if audit is not None and access is not None and access.allows(Action.VIEW_RAW_DATA):
        evidence = services.read_evidence(actor_from_request(request), audit)
    context = {
        "audit": audit,
        "verdict_text": verdict_text(audit),
        "rows": figure_rows(audit),
        "evidence": json.dumps(evidence, indent=2, ensure_ascii=False) if evidence else "",
    }
    return render_to_string("privacy/audit_section.html", context, request=request)


def verdict_text(audit: PrivacyAudit | None) -> str:
    """One plain sentence about what the audit says (and what it allows)."""
    held = "It cannot be deployed or exported unless an owner overrides the verdict."
    if audit is None:
        return f"This model has not been audited for privacy yet. {held}"
    if audit.state in (AuditState.QUEUED, AuditState.RUNNING):
        return f"The privacy audit is {audit.state}. {held}"
    if audit.verdict == Verdict.PASSED:
        return (
            "Passed: by every measure, the model reproduces no more of its training data than "
            "the project's policy allows. This does not prove it memorized nothing."
        )
    if audit.verdict == Verdict.FAILED:
        return (
            f"Failed on {', '.join(audit.failed_measures)}: the model reproduces more of its "
            f"training data than the project's policy allows. {held}"
        )
    return f"The privacy audit could not run: {audit.error} {held}"


def figure_rows(audit: PrivacyAudit | None) -> list[dict[str, Any]]:
    """(measure, value, threshold, failed) rows from the figures, nested keys joined by '.'."""
    if audit is None:
        return []
    rows = []
    for name, value in _flatten(audit.figures):
        measure = name.split(".")[0]
        rows.append(
            {
                "name": name,
                "value": value,
                "threshold": audit.thresholds.get(name, audit.thresholds.get(measure, "")),
                "failed": name in audit.failed_measures or measure in audit.failed_measures,
            }
        )
    return rows


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        items: list[tuple[str, Any]] = []
        for key, item in value.items():
            items.extend(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return items
    return [(prefix, value)]
