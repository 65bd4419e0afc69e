"""The privacy audit's lease, on its own row (``PrivacyAudit``), like the training job's.

* ``claim_audit``: ``UPDATE ... SET state='running', lease_owner=<worker:uuid> WHERE
  state='queued'``; the row count says who won, so a duplicate message audits nothing twice.
* Every later write of the worker (``renew_audit``, ``record_progress``, ``finish_audit``) adds
  ``WHERE lease_owner=<mine> AND state='running'``: a False means the lease was lost (the
  sweeper gave the audit to another worker, or failed it) and the worker writes nothing else.
* ``sweep_audits`` (beat): a running audit whose lease expired goes back to ``queued`` until
  ``SOBERANA_JOB_MAX_ATTEMPTS`` claims, then fails with a reason; queued audits whose message
  counts as lost are returned so the caller sends them again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from privacy.models import AuditState, PrivacyAudit

WORKER_LOST = (
    "The worker auditing this model stopped answering {claims} times (for example it ran out "
    "of memory); run the audit again, or ask an administrator to give the worker more memory."
)


@dataclass(frozen=True)
class AuditLease:
    """Proof that this worker runs one audit attempt."""

    audit_id: int
    owner: str


def lease_deadline() -> Any:
    return timezone.now() + timedelta(seconds=settings.JOB_LEASE_SECONDS)


def claim_audit(audit_id: int, worker: str) -> AuditLease | None:
    """Take a queued audit; None when someone else has it, it ended, or it does not exist."""
    owner = f"{worker}:{uuid.uuid4().hex}"
    now = timezone.now()
    won = PrivacyAudit.objects.filter(pk=audit_id, state=AuditState.QUEUED).update(
        state=AuditState.RUNNING,
        lease_owner=owner,
        lease_expires_at=lease_deadline(),
        heartbeat_at=now,
        started_at=now,
        claims=F("claims") + 1,
        error="",
    )
    return AuditLease(audit_id, owner) if won == 1 else None


def owned(lease: AuditLease) -> QuerySet[PrivacyAudit]:
    """The audit while this worker still holds it: every worker write goes through it."""
    return PrivacyAudit.objects.filter(
        pk=lease.audit_id, lease_owner=lease.owner, state=AuditState.RUNNING
    )


def renew_audit(lease: AuditLease) -> bool:
    """Extend the lease; False when it was lost (stop, write nothing)."""
    return owned(lease).update(heartbeat_at=timezone.now(), lease_expires_at=lease_deadline()) == 1


def record_progress(lease: AuditLease, progress: dict[str, Any]) -> bool:
    """Store progress (numbers and stage names only) and renew; False when the lease is lost."""
    return (
        owned(lease).update(
            progress=progress, heartbeat_at=timezone.now(), lease_expires_at=lease_deadline()
        )
        == 1
    )


def finish_audit(lease: AuditLease, state: str, **fields: Any) -> bool:
    """Move the audit to ``succeeded`` or ``failed`` with its result ``fields``, fenced; the
    caller's transaction sends the signal. False (nothing written) when the lease was lost."""
    ended = {
        "state": state,
        "lease_owner": "",
        "lease_expires_at": None,
        "finished_at": timezone.now(),
    }
    return owned(lease).update(**ended, **fields) == 1


def sweep_audits() -> list[int]:
    """Beat: requeue (or fail, after too many claims) running audits whose worker went silent;
    return the ids to send again (requeued ones and queued ones whose message counts as lost).
    The caller sends the messages; ``on_failed`` signals are sent on commit here."""
    now = timezone.now()
    resend: list[int] = []
    expired = PrivacyAudit.objects.filter(state=AuditState.RUNNING, lease_expires_at__lt=now)
    for audit in expired.only("pk", "claims", "lease_owner"):
        if _release_or_fail(audit, now):
            resend.append(audit.pk)
    cutoff = now - timedelta(seconds=10 * settings.JOB_LEASE_SECONDS)
    stale = PrivacyAudit.objects.filter(state=AuditState.QUEUED).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff)
    )
    ids = list(stale.values_list("pk", flat=True)[:50])
    PrivacyAudit.objects.filter(pk__in=ids).update(heartbeat_at=now)
    return resend + ids


def _release_or_fail(audit: PrivacyAudit, now: Any) -> bool:
    """True when the expired audit went back to the queue, False when it failed (or moved)."""
    from privacy.services import send_finished

    mine = PrivacyAudit.objects.filter(
        pk=audit.pk,
        state=AuditState.RUNNING,
        lease_owner=audit.lease_owner,
        lease_expires_at__lt=now,
    )
    if audit.claims < settings.JOB_MAX_ATTEMPTS:
        return (
            mine.update(
                state=AuditState.QUEUED, lease_owner="", lease_expires_at=None, heartbeat_at=now
            )
            == 1
        )
    with transaction.atomic():
        if mine.update(
            state=AuditState.FAILED,
            lease_owner="",
            lease_expires_at=None,
            finished_at=now,
            error=WORKER_LOST.format(claims=audit.claims),
        ):
            send_finished(audit.pk, "error")
    return False
