"""Evaluation as a task of its own: claimed once, recorded on job and model version, failing
without touching the succeeded training, swept when its worker or its message is lost.

Most tests stand up a succeeded job's rows without training (fast); the real scoring of a
trained model is covered in test_runner.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from audit.services import Actor
from trainer import evaluations, services
from trainer.models import EvaluationStatus, JobStatus, ModelVersion, TrainingJob
from trainer.tasks import evaluate_model_version, requeue_expired_jobs

pytestmark = pytest.mark.django_db(transaction=True)
SCORES = {"base": {"perplexity": 9.0}, "tuned": {"perplexity": 3.0}, "test_records": 4}


@pytest.fixture
def trained(
    cast: Any, tiny_base_model: Any, approved_version: Any, monkeypatch: Any
) -> ModelVersion:
    """The rows a succeeded training leaves: job succeeded, evaluation pending, model version
    (no model on disk: a real evaluation of it fails)."""
    monkeypatch.setattr(services, "enqueue_job", lambda _id: None)
    job = services.create_job(
        Actor(user=cast.engineer),
        approved_version,
        base_model=tiny_base_model,
        method="lora",
        hyperparameters={"max_steps": 4, "device": "cpu"},
    )
    TrainingJob.objects.filter(pk=job.pk).update(
        status=JobStatus.SUCCEEDED,
        evaluation_status=EvaluationStatus.PENDING,
        evaluation_expires_at=services.pending_evaluation_deadline(),
        progress={"step": 4, "total_steps": 4},
    )
    return ModelVersion.objects.create(
        project=job.project, job=job, name="tiny-lora", data_key=job.data_key, artifact_dir="-"
    )


@pytest.fixture
def scored(monkeypatch: Any) -> list[int]:
    """Replace the engine's scoring with fixed scores and one sample; count the calls."""
    calls: list[int] = []

    def fake_evaluate(job: TrainingJob) -> tuple[dict, list]:
        calls.append(job.pk)
        return dict(SCORES), [{"prompt": "private prompt text", "tuned": "answer"}]

    monkeypatch.setattr(evaluations, "_evaluate", fake_evaluate)
    return calls


def _job(version: ModelVersion) -> TrainingJob:
    return TrainingJob.objects.get(pk=version.job_id)


def test_a_duplicate_message_evaluates_once_and_records_on_job_and_model_version(
    trained: ModelVersion, scored: list[int]
) -> None:
    from vault.services import blob_path, read_blob

    evaluate_model_version(trained.pk)
    evaluate_model_version(trained.pk)  # the broker delivered it twice
    assert scored == [trained.job_id]
    job = _job(trained)
    trained.refresh_from_db()
    assert job.evaluation_status == EvaluationStatus.DONE and job.evaluation_expires_at is None
    assert job.evaluation == SCORES and trained.metrics == SCORES
    assert job.status == JobStatus.SUCCEEDED
    assert job.events.get(kind="evaluated").data == {"base": 9.0, "tuned": 3.0}
    assert b"private prompt text" in read_blob(job.data_key, evaluations.SAMPLES_BLOB)
    assert b"private prompt text" not in blob_path(job.data_key, "samples.json").read_bytes()


def test_a_failed_evaluation_gives_a_reason_and_leaves_the_training_succeeded(
    trained: ModelVersion,
) -> None:
    evaluate_model_version(trained.pk)  # nothing was trained: there is no final model to load
    job = _job(trained)
    assert job.status == JobStatus.SUCCEEDED
    assert job.evaluation_status == EvaluationStatus.FAILED
    assert job.evaluation_error.startswith("Evaluation failed: CheckpointError: no final model")
    assert "Traceback" not in job.evaluation_error
    assert job.events.last().kind == "evaluation_failed"
    evaluate_model_version(trained.pk)  # a late duplicate does not try again
    assert job.events.filter(kind="evaluating").count() == 1


def test_an_evaluation_whose_worker_stopped_answering_fails_and_writes_nothing_later(
    trained: ModelVersion, scored: list[int], sent_evaluations: list[int]
) -> None:
    claim = evaluations.claim_evaluation(trained.pk)
    assert claim is not None and evaluations.claim_evaluation(trained.pk) is None
    TrainingJob.objects.filter(pk=trained.job_id).update(
        evaluation_expires_at=timezone.now() - timedelta(seconds=1)
    )
    requeue_expired_jobs()
    job = _job(trained)
    assert job.evaluation_status == EvaluationStatus.FAILED
    assert job.evaluation_error == evaluations.WORKER_LOST and sent_evaluations == []
    assert job.status == JobStatus.SUCCEEDED
    evaluations.run_claimed_evaluation(claim)  # the old worker comes back and finishes
    job = _job(trained)
    assert job.evaluation_status == EvaluationStatus.FAILED and job.evaluation == {}


def test_a_pending_evaluation_whose_message_was_lost_is_sent_again_once(
    trained: ModelVersion, sent_evaluations: list[int]
) -> None:
    requeue_expired_jobs()
    assert sent_evaluations == []  # not lost yet
    TrainingJob.objects.filter(pk=trained.job_id).update(
        evaluation_expires_at=timezone.now() - timedelta(seconds=1)
    )
    requeue_expired_jobs()
    requeue_expired_jobs()
    assert sent_evaluations == [trained.pk]
    assert _job(trained).evaluation_expires_at > timezone.now()


def test_an_unknown_or_unfinished_job_has_nothing_to_evaluate(trained: ModelVersion) -> None:
    assert evaluations.claim_evaluation(trained.pk + 1000) is None
    TrainingJob.objects.filter(pk=trained.job_id).update(status=JobStatus.CANCELLED)
    assert evaluations.claim_evaluation(trained.pk) is None


def test_job_api_and_page_say_evaluation_pending_and_fine_tuning_still_reports_succeeded(
    trained: ModelVersion, cast: Any, api_client_for: Any, client: Any
) -> None:
    from openai_api.models import FineTuneJob, FineTuneStatus
    from openai_api.objects import status_of

    engineer = api_client_for(cast.engineer)
    body = engineer.get(f"/api/v1/jobs/{trained.job_id}/").json()
    assert body["status"] == "succeeded" and body["evaluation_status"] == "pending"
    assert body["evaluation"] == {} and body["model_version"] == trained.pk
    version = engineer.get(f"/api/v1/model-versions/{trained.pk}/").json()
    assert version["evaluation_status"] == "pending"
    client.force_login(cast.engineer)
    page = client.get(f"/jobs/{trained.job_id}/").content.decode()
    assert 'data-status="pending"' in page and "Evaluation pending" in page
    fine_tune = FineTuneJob.objects.create(
        project=cast.project,
        training_file=_job(trained).dataset_version.dataset,
        status=FineTuneStatus.SUBMITTED,
        training_job=_job(trained),
    )
    assert status_of(fine_tune) == "succeeded"


def test_evaluation_messages_go_to_the_training_queue() -> None:
    from platform_site.celery import app

    options = app.amqp.router.route({}, "trainer.tasks.evaluate_model_version", args=(1,))
    assert options["queue"].name == "training"
