"""The lease on an evaluation run's row, as ``trainer.lease`` holds one on a training job.

``claim_run`` is ``UPDATE ... SET status='running', lease_owner=<worker:uuid> WHERE
status='queued'`` (the row count says who won). Every later write of the worker
(``renew``, ``record_progress``, ``finish``) adds ``WHERE lease_owner=<mine> AND
status='running'``: zero rows means the lease was lost, and the worker stops writing.
``requeue_expired`` (beat) puts runs of dead workers back in the queue, or fails them after
``JOB_MAX_ATTEMPTS``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from audit.services import SYSTEM, record_event
from evaluation.models import EvaluationRun, RunStatus
from trainer.lease import lease_deadline

WORKER_LOST = (
    "The worker running this evaluation stopped answering {attempts} times (for example it "
    "ran out of memory). Try a smaller limit or a smaller model."
)


@dataclass(frozen=True)
class RunLease:
    """Proof of ownership of a running evaluation run."""

    run_id: int
    owner: str


def claim_run(run_id: int, worker: str) -> RunLease | None:
    """Take a queued run; None when someone else did (or it is not queued)."""
    owner = f"{worker}:{uuid.uuid4().hex}"[:64]
    now = timezone.now()
    won = EvaluationRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING,
        lease_owner=owner,
        attempts=F("attempts") + 1,
        lease_expires_at=lease_deadline(),
        heartbeat_at=now,
        started_at=now,
    )
    return RunLease(run_id, owner) if won == 1 else None


def owned(lease: RunLease) -> QuerySet[EvaluationRun]:
    return EvaluationRun.objects.filter(
        pk=lease.run_id, lease_owner=lease.owner, status=RunStatus.RUNNING
    )


def renew(lease: RunLease) -> bool:
    """Extend the lease; False when it was lost."""
    return owned(lease).update(heartbeat_at=timezone.now(), lease_expires_at=lease_deadline()) == 1


def record_progress(lease: RunLease, progress: dict[str, Any]) -> bool:
    """Store progress and renew the lease; False when it was lost."""
    fields = {"progress": progress, "heartbeat_at": timezone.now()}
    return owned(lease).update(**fields, lease_expires_at=lease_deadline()) == 1


def cancel_requested(lease: RunLease) -> bool:
    """True when a user asked to cancel, or the lease is no longer ours."""
    row = owned(lease).values_list("cancel_requested", flat=True).first()
    return row is None or bool(row)


def finish(lease: RunLease, status: str, *, error: str = "") -> bool:
    """Move the run to a terminal status (fenced) with an audit row. False: lease lost."""
    with transaction.atomic():
        ended = owned(lease).update(
            status=status,
            error=error,
            finished_at=timezone.now(),
            lease_owner="",
            lease_expires_at=None,
        )
        if ended != 1:
            return False
        record_event(
            SYSTEM,
            f"evaluation_run.{status}",
            object_type="evaluation.evaluationrun",
            object_id=str(lease.run_id),
            outcome="error" if error else "allowed",
            details={"reason": error[:300]} if error else {},
        )
    return True


def requeue_expired() -> list[int]:
    """Runs whose worker stopped answering go back to the queue (ids returned, for the caller
    to send again), or fail once they used ``JOB_MAX_ATTEMPTS``."""
    now = timezone.now()
    expired = EvaluationRun.objects.filter(status=RunStatus.RUNNING, lease_expires_at__lt=now)
    requeued = []
    for run in expired.only("pk", "attempts", "lease_owner"):
        lease = RunLease(run.pk, run.lease_owner)
        if run.attempts >= settings.JOB_MAX_ATTEMPTS:
            finish(lease, RunStatus.FAILED, error=WORKER_LOST.format(attempts=run.attempts))
            continue
        back = owned(lease).filter(lease_expires_at__lt=now)
        if back.update(status=RunStatus.QUEUED, lease_owner="", lease_expires_at=None):
            requeued.append(run.pk)
    return requeued
