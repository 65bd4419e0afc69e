"""The job row as state machine: claims, leases, fencing, cancellation, requeue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from trainer import lease as leases
from trainer import services
from trainer.models import JobStatus, TrainingJob


@pytest.fixture
def job(cast: Any, tiny_base_model: Any, approved_version: Any, monkeypatch: Any) -> TrainingJob:
    from audit.services import Actor

    monkeypatch.setattr(services, "enqueue_job", lambda _id: None)
    return services.create_job(
        Actor(user=cast.engineer),
        approved_version,
        base_model=tiny_base_model,
        method="lora",
        hyperparameters={"max_steps": 4, "device": "cpu"},
    )


def test_only_one_of_two_claims_wins(job: TrainingJob) -> None:
    first = leases.claim_job(job.pk, "worker-a")
    second = leases.claim_job(job.pk, "worker-b")
    assert first is not None and second is None
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.attempts == 1
    assert job.lease_owner == first.owner


def test_a_worker_whose_lease_was_taken_over_cannot_write(job: TrainingJob) -> None:
    stale = leases.claim_job(job.pk, "worker-a")
    TrainingJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(1))
    assert services.requeue_expired_jobs() == [job.pk]
    fresh = leases.claim_job(job.pk, "worker-b")
    assert fresh is not None and fresh.attempt == 2
    assert leases.record_progress(stale, {"step": 99}) is False
    assert leases.finish_job(stale, JobStatus.SUCCEEDED) is False
    assert leases.renew_lease(fresh) is True
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.progress.get("step") != 99


def test_expired_job_fails_with_a_readable_reason_after_max_attempts(
    job: TrainingJob, settings: Any
) -> None:
    settings.JOB_MAX_ATTEMPTS = 1
    leases.claim_job(job.pk, "worker-a")
    TrainingJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(1))
    assert services.requeue_expired_jobs() == []
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "stopped answering" in job.error


def test_cancelling_a_queued_job_stops_it_at_once(job: TrainingJob, cast: Any) -> None:
    from audit.services import Actor

    services.request_cancel(Actor(user=cast.engineer), job)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert leases.claim_job(job.pk, "worker-a") is None


def test_cancelling_a_running_job_is_seen_by_its_worker(job: TrainingJob, cast: Any) -> None:
    from audit.services import Actor

    lease = leases.claim_job(job.pk, "worker-a")
    assert leases.cancel_requested(lease) is False
    services.request_cancel(Actor(user=cast.engineer), job)
    assert leases.cancel_requested(lease) is True


def test_viewer_cannot_cancel(job: TrainingJob, cast: Any) -> None:
    from accounts.services import PermissionDenied
    from audit.models import AuditEvent
    from audit.services import Actor

    with pytest.raises(PermissionDenied):
        services.request_cancel(Actor(user=cast.viewer), job)
    assert AuditEvent.objects.filter(action="denied.cancel_job", outcome="denied").exists()


def test_job_on_unknown_hyperparameter_is_refused_naming_the_field(
    cast: Any, tiny_base_model: Any, approved_version: Any
) -> None:
    from audit.services import Actor

    with pytest.raises(services.JobRequestError) as info:
        services.create_job(
            Actor(user=cast.engineer),
            approved_version,
            base_model=tiny_base_model,
            method="lora",
            hyperparameters={"learning_rate": 5},
        )
    assert info.value.field == "learning_rate"


def test_a_configuration_that_will_not_fit_is_refused_naming_what_to_change(
    cast: Any, tiny_base_model: Any, approved_version: Any, settings: Any
) -> None:
    from audit.services import Actor

    settings.TARGET_GPU_MEMORY_GB = 1
    with pytest.raises(services.JobRequestError) as info:
        services.create_job(
            Actor(user=cast.engineer),
            approved_version,
            base_model=tiny_base_model,
            method="full",
            hyperparameters={"batch_size": 512, "seq_len": 512, "device": "cuda"},
        )
    assert info.value.field == "batch_size" and "will not fit" in info.value.message


def test_estimate_endpoint_and_queue_positions(
    cast: Any, api_client_for: Any, tiny_base_model: Any, approved_version: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(services, "enqueue_job", lambda _id: None)
    client = api_client_for(cast.engineer)
    body = {"dataset": approved_version.dataset_id, "hyperparameters": {"max_steps": 4}}
    estimate = client.post("/api/v1/jobs/estimate/", body, format="json").json()
    assert estimate["fits"] is True and estimate["peak_mem_bytes"] > 0
    first = client.post("/api/v1/jobs/", body, format="json").json()
    urgent = client.post("/api/v1/jobs/", body | {"priority": 5}, format="json").json()
    assert client.get(f"/api/v1/jobs/{urgent['id']}/").json()["queue_position"] == 1
    assert client.get(f"/api/v1/jobs/{first['id']}/").json()["queue_position"] == 2


def test_a_base_model_missing_on_disk_is_refused_naming_the_field(
    cast: Any, approved_version: Any
) -> None:
    from audit.services import Actor
    from trainer.models import BaseModel

    gone = BaseModel.objects.create(name="gone", path="/nonexistent/model", max_seq_len=512)
    with pytest.raises(services.JobRequestError) as info:
        services.create_job(
            Actor(user=cast.engineer),
            approved_version,
            base_model=gone,
            method="lora",
            hyperparameters={"max_steps": 2},
        )
    assert info.value.field == "base_model" and "missing on disk" in info.value.message


def test_native_api_takes_a_validation_dataset_of_the_same_project_only(
    cast: Any,
    api_client_for: Any,
    tiny_base_model: Any,
    approved_version: Any,
    version_from_records: Any,
    monkeypatch: Any,
) -> None:
    from accounts.models import Project
    from datasets_app.models import Dataset

    monkeypatch.setattr(services, "enqueue_job", lambda _id: None)
    client = api_client_for(cast.engineer)
    other = version_from_records(version_from_records.default_records(10))
    body = {"dataset": approved_version.dataset_id, "hyperparameters": {"max_steps": 4}}
    created = client.post(
        "/api/v1/jobs/", body | {"validation_dataset": other.dataset_id}, format="json"
    )
    assert created.status_code == 201 and created.json()["validation_version"] == other.pk
    elsewhere = version_from_records(version_from_records.default_records(10))
    Dataset.objects.filter(pk=elsewhere.dataset_id).update(
        project=Project.objects.create(name="elsewhere")
    )
    refused = client.post(
        "/api/v1/jobs/", body | {"validation_dataset": elsewhere.dataset_id}, format="json"
    )
    assert refused.status_code == 400 and "validation_dataset" in str(refused.json())
