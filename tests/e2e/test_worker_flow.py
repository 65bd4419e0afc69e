"""End to end with real Celery worker and beat processes (the broker of the configuration)."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.e2e.procs import celery_process, wait_for
from trainer.models import TrainingJob

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TICKETS = [
    "The VPN drops every hour on the Windows laptops; reinstalling the client helps.",
    "Password reset emails arrive late; the mail queue was full after the outage.",
    "The invoice export to CSV puts the currency in the wrong column.",
    "El portal de clientes tarda mucho en cargar por la mañana.",
]


def _upload(client: Any, project_id: int, n: int = 40) -> int:
    lines = [json.dumps({"text": f"{TICKETS[i % 4]} Ticket number {i}."}) for i in range(n)]
    upload = SimpleUploadedFile("tickets.jsonl", ("\n".join(lines) + "\n").encode())
    response = client.post(
        "/api/v1/datasets/", {"file": upload, "project": project_id}, format="multipart"
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def _dataset_status(client: Any, dataset_id: int) -> str | None:
    status = client.get(f"/api/v1/datasets/{dataset_id}/").json()["status"]
    return status if status != "processing" else None


def _job(client: Any, job_id: int) -> dict:
    return client.get(f"/api/v1/jobs/{job_id}/").json()


def test_upload_approve_train_succeeds_on_a_real_worker(
    cast: Any, api_client_for: Any, tiny_base_model: Any, tiny_hyperparameters: dict
) -> None:
    steward, engineer = api_client_for(cast.steward), api_client_for(cast.engineer)
    with celery_process("worker", "e2e-worker"):
        dataset_id = _upload(steward, cast.project.pk)
        status = wait_for(
            lambda: _dataset_status(steward, dataset_id),
            timeout=240,
            what="ingestion",
            logs=("e2e-worker",),
        )
        assert status == "needs_review"
        assert steward.post(f"/api/v1/datasets/{dataset_id}/approve/").status_code == 200
        response = engineer.post(
            "/api/v1/jobs/",
            {"dataset": dataset_id, "method": "lora", "hyperparameters": tiny_hyperparameters},
            format="json",
        )
        assert response.status_code == 201, response.content
        job_id = response.json()["id"]
        job = wait_for(
            lambda: (
                (j := _job(engineer, job_id))["status"] in ("succeeded", "failed", "cancelled")
                and j["evaluation_status"] not in ("pending", "running")  # a task of its own
                and j
            ),
            timeout=300,
            what="the job and its evaluation to finish",
            logs=("e2e-worker",),
        )
    assert job["status"] == "succeeded", job["error"]
    assert job["attempts"] == 1
    assert job["evaluation_status"] == "done", job["evaluation_error"]
    assert job["evaluation"]["tuned"]["perplexity"] > 0
    kinds = [
        e["kind"]
        for e in engineer.get(f"/api/v1/jobs/{job_id}/events/?limit=500").json()["results"]
    ]
    assert "started" in kinds and "succeeded" in kinds and "metrics" in kinds


def test_killed_worker_job_is_requeued_and_resumes_from_its_checkpoint(
    cast: Any,
    api_client_for: Any,
    tiny_base_model: Any,
    tiny_hyperparameters: dict,
    approved_version: Any,
) -> None:
    engineer = api_client_for(cast.engineer)
    lease_env = {"SOBERANA_JOB_LEASE_SECONDS": "6", "SOBERANA_LEASE_SWEEP_SECONDS": "1"}
    hyper = tiny_hyperparameters | {"max_steps": 400, "checkpoint_every": 2, "eval_every": 100}
    response = engineer.post(
        "/api/v1/jobs/",
        {"dataset": approved_version.dataset_id, "method": "lora", "hyperparameters": hyper},
        format="json",
    )
    job_id = response.json()["id"]
    with celery_process("beat", "e2e-beat", **lease_env):
        with celery_process("worker", "e2e-victim", **lease_env) as victim:
            wait_for(
                lambda: (_job(engineer, job_id)["progress"].get("step") or 0) >= 4,
                timeout=240,
                what="a checkpoint",
                logs=("e2e-victim",),
            )
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait()
        with celery_process("worker", "e2e-rescuer", **lease_env):
            wait_for(
                lambda: _job(engineer, job_id)["attempts"] >= 2,
                timeout=120,
                what="the job to be claimed again",
                logs=("e2e-beat", "e2e-rescuer"),
            )
            events = wait_for(
                lambda: [
                    e
                    for e in engineer.get(f"/api/v1/jobs/{job_id}/events/?kind=resumed").json()[
                        "results"
                    ]
                ],
                timeout=120,
                what="a resumed event",
                logs=("e2e-rescuer",),
            )
            assert events[0]["data"]["step"] >= 2
            engineer.post(f"/api/v1/jobs/{job_id}/cancel/")
            job = wait_for(
                lambda: (j := _job(engineer, job_id))["status"] == "cancelled" and j,
                timeout=60,
                what="cancellation",
                logs=("e2e-rescuer",),
            )
    assert job["attempts"] == 2
    assert TrainingJob.objects.get(pk=job_id).lease_owner == ""
    assert engineer.get(f"/api/v1/jobs/{job_id}/checkpoints/").json()["results"]
