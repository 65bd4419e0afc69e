"""The signals ``trainer`` declares (``trainer.signals``): each sent once from the fenced
write that moved the job row, only after it commits, never when it rolls back or when the
worker lost its lease, with the documented arguments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from audit.services import Actor
from trainer import evaluations, services
from trainer import lease as leases
from trainer.models import EvaluationStatus, JobStatus, ModelVersion, TrainingJob
from trainer.signals import evaluation_finished, job_finished, model_version_stored

pytestmark = pytest.mark.django_db


class Rollback(Exception):
    """Raised to roll a transaction back."""


@pytest.fixture
def job(make_job: Any) -> TrainingJob:
    return make_job(max_steps=4)


def _version(job: TrainingJob) -> ModelVersion:
    return ModelVersion.objects.create(
        project=job.project, job=job, name="tiny-lora", data_key=job.data_key, artifact_dir="-"
    )


def test_a_fenced_finish_sends_job_finished_once_after_commit(
    job: TrainingJob, received: Any, django_capture_on_commit_callbacks: Any
) -> None:
    sends = received(job_finished)
    lease = leases.claim_job(job.pk, "worker-a")
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            assert leases.finish_job(lease, JobStatus.FAILED, error="boom")
            assert sends == []
    assert [(s["sender"], s["job"].pk, s["status"]) for s in sends] == [
        (TrainingJob, job.pk, "failed")
    ]
    assert sends[0]["job"].status == JobStatus.FAILED and sends[0]["job"].error == "boom"


def test_a_worker_that_lost_its_lease_sends_nothing(
    job: TrainingJob, received: Any, django_capture_on_commit_callbacks: Any
) -> None:
    sends = received(job_finished)
    stale = leases.claim_job(job.pk, "worker-a")
    TrainingJob.objects.filter(pk=job.pk).update(lease_owner="worker-b:1")
    with django_capture_on_commit_callbacks(execute=True):
        assert leases.finish_job(stale, JobStatus.SUCCEEDED) is False
        assert leases.record_success(stale, _version(job)) is False
    assert sends == []


def test_a_rolled_back_finish_sends_nothing(
    job: TrainingJob, received: Any, django_capture_on_commit_callbacks: Any
) -> None:
    sends = received(job_finished)
    lease = leases.claim_job(job.pk, "worker-a")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Rollback):
        with transaction.atomic():
            leases.finish_job(lease, JobStatus.CANCELLED)
            raise Rollback
    assert sends == []
    assert TrainingJob.objects.get(pk=job.pk).status == JobStatus.RUNNING


def test_success_sends_job_finished_then_model_version_stored(
    job: TrainingJob, received: Any, django_capture_on_commit_callbacks: Any
) -> None:
    order: list[str] = []
    finished, stored = received(job_finished), received(model_version_stored)
    job_finished.connect(lambda **_: order.append("job_finished"), weak=False, dispatch_uid="t1")
    model_version_stored.connect(
        lambda **_: order.append("model_version_stored"), weak=False, dispatch_uid="t2"
    )
    try:
        lease = leases.claim_job(job.pk, "worker-a")
        version = _version(job)
        with django_capture_on_commit_callbacks(execute=True):
            assert leases.record_success(lease, version)
    finally:
        job_finished.disconnect(dispatch_uid="t1")
        model_version_stored.disconnect(dispatch_uid="t2")
    assert order == ["job_finished", "model_version_stored"]
    assert [(s["job"].pk, s["status"]) for s in finished] == [(job.pk, "succeeded")]
    assert len(stored) == 1
    assert stored[0]["sender"] is ModelVersion and stored[0]["model_version"] == version
    assert stored[0]["job"].pk == job.pk and stored[0]["job"].status == JobStatus.SUCCEEDED
    assert stored[0]["job"].evaluation_status == EvaluationStatus.PENDING


def test_cancelling_a_queued_job_sends_cancelled_and_a_running_one_waits_for_its_worker(
    make_job: Any, cast: Any, received: Any, django_capture_on_commit_callbacks: Any
) -> None:
    sends = received(job_finished)
    queued, running = make_job(max_steps=4), make_job(max_steps=4)
    leases.claim_job(running.pk, "worker-a")
    with django_capture_on_commit_callbacks(execute=True):
        services.request_cancel(Actor(user=cast.engineer), queued)
        services.request_cancel(Actor(user=cast.engineer), running)
    assert [(s["job"].pk, s["status"]) for s in sends] == [(queued.pk, "cancelled")]


def test_the_sweeper_failing_an_exhausted_job_sends_failed(
    job: TrainingJob, received: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.JOB_MAX_ATTEMPTS = 1
    sends = received(job_finished)
    leases.claim_job(job.pk, "worker-a")
    TrainingJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(1))
    with django_capture_on_commit_callbacks(execute=True):
        services.requeue_expired_jobs()
    assert [(s["job"].pk, s["status"]) for s in sends] == [(job.pk, "failed")]


def _pending_evaluation(job: TrainingJob) -> ModelVersion:
    TrainingJob.objects.filter(pk=job.pk).update(
        status=JobStatus.SUCCEEDED,
        evaluation_status=EvaluationStatus.PENDING,
        evaluation_expires_at=services.pending_evaluation_deadline(),
    )
    return _version(job)


def test_a_recorded_evaluation_sends_evaluation_finished_done(
    job: TrainingJob, received: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    sends = received(evaluation_finished)
    version = _pending_evaluation(job)
    monkeypatch.setattr(evaluations, "_evaluate", lambda _job: ({"tuned": {}}, []))
    claim = evaluations.claim_evaluation(version.pk)
    with django_capture_on_commit_callbacks(execute=True):
        evaluations.run_claimed_evaluation(claim)
        evaluations.run_claimed_evaluation(claim)  # a stale second run records nothing
    assert len(sends) == 1 and sends[0]["outcome"] == "done"
    assert sends[0]["sender"] is ModelVersion and sends[0]["model_version"] == version
    assert sends[0]["model_version"].metrics == {"tuned": {}}


def test_failed_and_abandoned_evaluations_send_evaluation_finished_failed(
    make_job: Any, received: Any, django_capture_on_commit_callbacks: Any
) -> None:
    sends = received(evaluation_finished)
    failing, silent = _pending_evaluation(make_job()), _pending_evaluation(make_job())
    evaluations.claim_evaluation(silent.pk)
    TrainingJob.objects.filter(pk=silent.job_id).update(
        evaluation_expires_at=timezone.now() - timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        # nothing was trained for ``failing``: there is no final model to load
        evaluations.run_claimed_evaluation(evaluations.claim_evaluation(failing.pk))
        evaluations.sweep_evaluations()
    assert [(s["model_version"], s["outcome"]) for s in sends] == [
        (failing, "failed"),
        (silent, "failed"),
    ]


def test_a_real_run_sends_model_version_stored_once(
    job: TrainingJob, run_job: Any, received: Any, django_capture_on_commit_callbacks: Any
) -> None:
    stored = received(model_version_stored)
    with django_capture_on_commit_callbacks(execute=True):
        job = run_job(job)
    assert job.status == JobStatus.SUCCEEDED
    assert [s["model_version"] for s in stored] == [ModelVersion.objects.get(job=job)]
