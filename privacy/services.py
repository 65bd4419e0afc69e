"""Verbs on privacy audits and policies: queue (or re-run) an audit, override its verdict, set
the project's policy, read the encrypted evidence. Atomic and audited; messages and signals
are sent on commit.

The worker's side (claim, progress, the fenced finish) is ``privacy.lease`` and
``privacy.runner``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from accounts.roles import Action
from accounts.services import project_ids_allowing, require
from audit.services import Actor, record_event
from ops.errors import InvalidField, StateConflict
from ops.signals import send_on_commit
from privacy import policy, signals
from privacy.models import AuditState, PrivacyAudit, PrivacyPolicy, Verdict, latest_audit
from serving.release import release_cleared
from trainer.models import ModelVersion
from vault import services as vault

logger = logging.getLogger(__name__)
MAX_REASON = 2000


class AuditRequestError(InvalidField):
    """A request about an audit is invalid; ``field`` names the input."""


class AuditStateError(StateConflict):
    """The audit is not in a state that allows this (409)."""


def visible_versions(user: Any) -> QuerySet[ModelVersion]:
    """Model versions of the projects the user belongs to."""
    return ModelVersion.objects.filter(
        project_id__in=project_ids_allowing(user, Action.VIEW_PROJECT)
    )


def request_audit(actor: Actor, version: ModelVersion, *, first: bool = False) -> PrivacyAudit:
    """Queue an audit of ``version``: a new attempt row (earlier ones stay as history; the
    newest decides the gate). ``first`` (the receiver of ``model_version_stored``) does nothing
    when an attempt exists. A user needs LAUNCH_JOB; a re-run while one is queued or running
    is a 409. Audited; the message is sent on commit."""
    if actor.user is not None or actor.token_prefix:
        require(actor, version.project_id, Action.LAUNCH_JOB, obj=version)
    with transaction.atomic():
        ModelVersion.objects.select_for_update().filter(pk=version.pk).first()
        current = latest_audit(version)
        if current is not None and first:
            return current
        if current is not None and current.state in (AuditState.QUEUED, AuditState.RUNNING):
            raise AuditStateError("An audit of this model version is already queued or running.")
        attempt = (
            PrivacyAudit.objects.filter(model_version=version).aggregate(n=Max("attempt"))["n"] or 0
        )
        audit = PrivacyAudit.objects.create(
            model_version=version,
            project_id=version.project_id,
            attempt=attempt + 1,
            requested_by=actor.user,
            thresholds=policy.thresholds_for(version.project_id),
        )
        record_event(
            actor,
            "privacy_audit.request",
            obj=audit,
            details={"model_version": version.pk, "attempt": audit.attempt},
        )
        transaction.on_commit(lambda: enqueue_audit(audit.pk))
    return audit


def enqueue_audit(audit_id: int) -> None:
    """Send the audit's message (ids only). A broker error is logged: the sweeper re-sends."""
    from privacy.tasks import run_privacy_audit

    try:
        run_privacy_audit.delay(audit_id)
    except Exception:  # kombu's connection errors have no common base worth naming
        logger.warning("could not send privacy audit %s", audit_id, exc_info=True)


def override_verdict(actor: Actor, version: ModelVersion, reason: str) -> PrivacyAudit:
    """Release ``version`` despite a failed (or missing) audit, with a written ``reason``.
    Owners only (EXPORT_MODEL, the owners' release right). Audited; sends
    ``serving.release.release_cleared`` on commit. A passed audit needs no override (409)."""
    require(actor, version.project_id, Action.EXPORT_MODEL, obj=version)
    reason = (reason or "").strip()
    if not reason:
        raise AuditRequestError("reason", "a written reason is required")
    if len(reason) > MAX_REASON:
        raise AuditRequestError("reason", f"at most {MAX_REASON} characters")
    with transaction.atomic():
        audit = latest_audit(version) or _not_run_audit(version)
        if audit.verdict == Verdict.PASSED:
            raise AuditStateError("The audit passed: there is nothing to override.")
        PrivacyAudit.objects.filter(pk=audit.pk).update(
            override_reason=reason, override_by=actor.user, override_at=timezone.now()
        )
        record_event(
            actor,
            "privacy_audit.override",
            obj=audit,
            details={
                "model_version": version.pk,
                "verdict": audit.verdict,
                "failed_measures": audit.failed_measures,
                "reason_chars": len(reason),
            },
        )
        send_on_commit(release_cleared, sender=ModelVersion, model_version=version, check="privacy")
    audit.refresh_from_db()
    return audit


def _not_run_audit(version: ModelVersion) -> PrivacyAudit:
    """A failed placeholder attempt for a version never audited (an override needs a row)."""
    return PrivacyAudit.objects.create(
        model_version=version,
        project_id=version.project_id,
        state=AuditState.FAILED,
        error="No audit ran before the override.",
        thresholds=policy.thresholds_for(version.project_id),
    )


def read_evidence(actor: Actor, audit: PrivacyAudit) -> dict[str, Any] | None:
    """The audit's evidence (quotes of training data), decrypted: data stewards only
    (VIEW_RAW_DATA), every read audited. None when there is none."""
    require(actor, audit.project_id, Action.VIEW_RAW_DATA, obj=audit)
    if not audit.evidence_blob:
        return None
    version = ModelVersion.objects.select_related("data_key").get(pk=audit.model_version_id)
    try:
        data = json.loads(vault.read_blob(version.data_key, audit.evidence_blob))
    except vault.KeyDestroyedError:
        return None
    record_event(actor, "privacy_audit.evidence", obj=audit, details={"attempt": audit.attempt})
    return data


def set_policy(actor: Actor, project_id: int, changes: dict[str, Any]) -> PrivacyPolicy:
    """Change some of the project's thresholds (owners: MANAGE_MEMBERS). Unknown measures and
    values that are not non-negative numbers are refused naming the field. Audited."""
    require(actor, project_id, Action.MANAGE_MEMBERS)
    cleaned = policy.validate_changes(changes)
    with transaction.atomic():
        row, _ = PrivacyPolicy.objects.select_for_update().get_or_create(project_id=project_id)
        row.thresholds = {**row.thresholds, **cleaned}
        row.updated_by = actor.user
        row.updated_at = timezone.now()
        row.save()
        record_event(actor, "privacy_policy.update", obj=row, details={"thresholds": cleaned})
    return row


def send_finished(audit_id: int, outcome: str) -> None:
    """``privacy_audit_finished`` (and ``release_cleared`` for a pass) for the audit whose end
    the caller's transaction writes."""
    audit = PrivacyAudit.objects.select_related("model_version").get(pk=audit_id)
    send_on_commit(
        signals.privacy_audit_finished,
        sender=PrivacyAudit,
        audit=audit,
        model_version=audit.model_version,
        outcome=outcome,
    )
    if outcome == Verdict.PASSED:
        send_on_commit(
            release_cleared, sender=ModelVersion, model_version=audit.model_version, check="privacy"
        )
