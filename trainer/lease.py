"""Leases on the job row: who may work on a job, renewed while the work runs, and fenced
writes that change nothing once the lease is lost.

* The training lease (``Lease``): ``claim_job`` is ``UPDATE ... SET status='running',
  lease_owner=<worker:uuid> WHERE status='queued'`` (the row count says who won); every later
  write (``renew_lease``, ``record_progress``, ``finish_job``, ``record_success``,
  ``release_job``) adds ``WHERE lease_owner=<mine> AND status='running'``, and a False from
  one means ``LeaseLost``: stop at once, write nothing else.
* Work after training (``Stage``): a stage has its own status, deadline and error columns on
  the job row (``pending`` → ``running`` → ``done`` | ``failed``). ``claim_stage`` takes a
  pending one, ``renew_stage`` extends it, and writes go through ``running_stage`` so that a
  worker the sweeper gave up on writes nothing. ``EVALUATION`` is the first such stage.
* ``Heartbeat`` renews any of these from a thread while the work runs.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from accounts.models import Project
from audit.services import SYSTEM, record_event
from ops.signals import send_on_commit
from trainer import services, signals
from trainer.models import EvaluationStatus, JobStatus, ModelVersion, TrainingJob

logger = logging.getLogger(__name__)


class LeaseLost(Exception):
    """This worker no longer owns the job (lease expired and taken over, or job finished)."""


def lease_deadline() -> datetime:
    """When a lease taken or renewed now expires (``SOBERANA_JOB_LEASE_SECONDS``)."""
    return timezone.now() + timedelta(seconds=settings.JOB_LEASE_SECONDS)


class Heartbeat(threading.Thread):
    """Renews a lease while the work runs (model loading can take minutes between steps):
    calls ``renew`` every third of the lease; sets ``lost`` and ends when it returns False."""

    def __init__(self, name: str, renew: Callable[[], bool], lost: threading.Event) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{name}")
        self.renew = renew
        self.lost = lost
        self.stopped = threading.Event()

    def run(self) -> None:
        interval = max(1.0, settings.JOB_LEASE_SECONDS / 3)
        while not self.stopped.wait(interval):
            try:
                if not self.renew():
                    self.lost.set()
                    return
            except Exception:  # a transient database error must not kill the heartbeat
                logger.warning("heartbeat %s failed", self.name, exc_info=True)
            finally:
                close_old_connections()


# --- the training lease -------------------------------------------------------------------


@dataclass(frozen=True)
class Lease:
    """Proof of ownership of a running job."""

    job_id: int
    owner: str
    attempt: int


def claim_job(job_id: int, worker: str) -> Lease | None:
    """Take a queued job: ``UPDATE ... WHERE status='queued'``; None when someone else won.

    Also refuses when the project already runs its limit of jobs (the job stays queued and is
    offered again by the sweeper). The count and the UPDATE that adds to it run in one
    transaction holding the project's row lock, so two workers claiming two jobs of one
    project cannot both pass the limit (under READ COMMITTED each would count the other's
    job as still queued; SQLite's IMMEDIATE transactions serialize them anyway).
    """
    job = TrainingJob.objects.filter(pk=job_id).only("project_id", "status").first()
    if job is None or job.status != JobStatus.QUEUED:
        return None
    owner = f"{worker}:{uuid.uuid4().hex}"
    with transaction.atomic():
        list(Project.objects.select_for_update().filter(pk=job.project_id).values_list("pk"))
        if running_jobs(job.project_id) >= settings.MAX_RUNNING_JOBS_PER_PROJECT:
            return None
        now = timezone.now()
        won = TrainingJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING,
            lease_owner=owner,
            attempts=F("attempts") + 1,
            lease_expires_at=lease_deadline(),
            heartbeat_at=now,
            started_at=now,
            cancel_requested=False,
        )
    if won != 1:
        return None
    attempt = TrainingJob.objects.values_list("attempts", flat=True).get(pk=job_id)
    return Lease(job_id=job_id, owner=owner, attempt=attempt)


def running_jobs(project_id: int) -> int:
    """How many of the project's jobs run now (the claim's limit counts these)."""
    return TrainingJob.objects.filter(project_id=project_id, status=JobStatus.RUNNING).count()


def _owned(lease: Lease) -> QuerySet[TrainingJob]:
    return TrainingJob.objects.filter(
        pk=lease.job_id, lease_owner=lease.owner, status=JobStatus.RUNNING
    )


def renew_lease(lease: Lease) -> bool:
    """Extend the lease; False when it was lost (the caller must stop)."""
    return _owned(lease).update(heartbeat_at=timezone.now(), lease_expires_at=lease_deadline()) == 1


def record_progress(lease: Lease, progress: dict[str, Any]) -> bool:
    """Store the latest progress on the row and renew the lease; False when the lease is lost."""
    return (
        _owned(lease).update(
            progress=progress, heartbeat_at=timezone.now(), lease_expires_at=lease_deadline()
        )
        == 1
    )


def cancel_requested(lease: Lease) -> bool:
    """True when a user asked to cancel the job, or the lease is no longer ours."""
    row = _owned(lease).values_list("cancel_requested", flat=True).first()
    return row is None or bool(row)


def finish_job(
    lease: Lease,
    status: str,
    *,
    error: str = "",
    error_detail: str = "",
    evaluation_status: str | None = None,
) -> bool:
    """Move a running job to a terminal status (fenced), audited, and send ``job_finished``
    once that commits. False (nothing written, nothing sent) when the lease was lost.

    ``evaluation_status='pending'`` (with a succeeded job) is set in the same UPDATE, so a
    succeeded job always has its evaluation recorded as due."""
    fields: dict[str, Any] = {
        "status": status,
        "finished_at": timezone.now(),
        "lease_owner": "",
        "lease_expires_at": None,
        "error": error,
        "error_detail": error_detail,
    }
    if evaluation_status is not None:
        fields["evaluation_status"] = evaluation_status
        fields["evaluation_expires_at"] = services.pending_evaluation_deadline()
    with transaction.atomic():
        if _owned(lease).update(**fields) != 1:
            return False
        record_event(
            SYSTEM,
            f"job.{status}",
            object_type="trainer.trainingjob",
            object_id=str(lease.job_id),
            outcome="error" if error else "allowed",
            details={"reason": error[:300]} if error else {},
        )
        services.send_job_finished(lease.job_id, status)
    return True


def record_success(lease: Lease, version: ModelVersion) -> bool:
    """Move the leased job to ``succeeded`` with its evaluation due, and send
    ``job_finished`` then ``model_version_stored`` once that commits. Fenced: False (nothing
    written, nothing sent) when the lease was lost."""
    with transaction.atomic():
        if not finish_job(lease, JobStatus.SUCCEEDED, evaluation_status=EvaluationStatus.PENDING):
            return False
        job = TrainingJob.objects.get(pk=lease.job_id)
        send_on_commit(
            signals.model_version_stored, sender=ModelVersion, model_version=version, job=job
        )
    return True


def release_job(lease: Lease, reason: str) -> bool:
    """Give a running job back to the queue (the worker is shutting down). Fenced."""
    released = (
        _owned(lease).update(
            status=JobStatus.QUEUED,
            lease_owner="",
            lease_expires_at=None,
            heartbeat_at=timezone.now(),
        )
        == 1
    )
    if released:
        services.add_event(lease.job_id, "released", reason, level="warning")
    return released


# --- work after training: stages with their own state on the job row ----------------------


@dataclass(frozen=True)
class Stage:
    """A piece of work that follows a succeeded training on the same job row, with its own
    state machine (``EvaluationStatus`` values: pending → running → done | failed): the names
    of its status, deadline and error columns."""

    status: str
    expires_at: str
    error: str


EVALUATION = Stage("evaluation_status", "evaluation_expires_at", "evaluation_error")


def claim_stage(stage: Stage, job_id: int) -> bool:
    """Take the stage of a succeeded job when it is pending: ``UPDATE ... WHERE
    <status>='pending'``. False when it is not (done, running elsewhere, unknown job)."""
    won = TrainingJob.objects.filter(
        pk=job_id, status=JobStatus.SUCCEEDED, **{stage.status: EvaluationStatus.PENDING}
    ).update(
        **{
            stage.status: EvaluationStatus.RUNNING,
            stage.expires_at: lease_deadline(),
            stage.error: "",
        }
    )
    return won == 1


def running_stage(stage: Stage, job_id: int) -> QuerySet[TrainingJob]:
    """The job while its stage still runs: every write of the stage's worker goes through it
    (zero rows updated: the sweeper gave up on this worker, which must write nothing)."""
    return TrainingJob.objects.filter(pk=job_id, **{stage.status: EvaluationStatus.RUNNING})


def renew_stage(stage: Stage, job_id: int) -> bool:
    """Extend a running stage's lease; False when the sweeper gave up on it."""
    return running_stage(stage, job_id).update(**{stage.expires_at: lease_deadline()}) == 1


def finish_stage(
    stage: Stage, job_id: int, outcome: str, *, error: str = "", **fields: Any
) -> bool:
    """Record a running stage's end, ``done`` or ``failed`` (``error`` says why), with the
    stage's own result ``fields``, fenced: False (nothing written) when it no longer runs."""
    ended = {stage.status: outcome, stage.expires_at: None, stage.error: error}
    return running_stage(stage, job_id).update(**ended, **fields) == 1
