"""The whole flow in one process, with the network cut off and canaries checked at rest.

Upload over the API -> ingestion -> approval -> a LoRA job on a tiny model -> succeeded, then
its evaluation task -> perplexity for base and tuned models. Meanwhile any connection beyond loopback raises, and at
the end no file under the data dir and no database row holds the canary text in plaintext.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

CANARY_TEXT = "zebracanary7781"
CANARY_EMAIL = "canary.person@example-canary.org"


class EgressAttempt(AssertionError):
    pass


@pytest.fixture
def no_egress(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Any connection to an address outside loopback raises (and is recorded)."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (
            host.startswith("127.") or host in ("localhost", "::1") or self.family == socket.AF_UNIX
        ):
            attempts.append(address)
            raise EgressAttempt(f"connection to {address!r} attempted")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(
        socket, "create_connection", _refuse_remote(socket.create_connection, attempts)
    )
    return attempts


def _refuse_remote(real: Any, attempts: list[Any]) -> Any:
    def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
        if not str(address[0]).startswith("127.") and address[0] not in ("localhost", "::1"):
            attempts.append(address)
            raise EgressAttempt(f"connection to {address!r} attempted")
        return real(address, *args, **kwargs)

    return create_connection


def _jsonl(n: int = 24) -> bytes:
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(7)
    lines = []
    for i in range(n):
        text = (
            f"Ticket {i}: {fake.paragraph(nb_sentences=3)} It mentions {CANARY_TEXT}. "
            f"Contact {CANARY_EMAIL} if it happens again."
        )
        lines.append(json.dumps({"text": text}))
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.django_db(transaction=True)
def test_upload_to_trained_model_offline_with_nothing_plaintext_at_rest(
    cast: Any,
    api_client_for: Any,
    tiny_base_model: Any,
    tiny_hyperparameters: dict,
    no_egress: list[Any],
    django_capture_on_commit_callbacks: Any,
    monkeypatch: Any,
) -> None:
    from datasets_app.services import run_ingestion
    from trainer import lease as leases
    from trainer import runner

    monkeypatch.setattr("datasets_app.services._enqueue_ingestion", lambda _id: None)
    monkeypatch.setattr("trainer.services.enqueue_job", lambda _id: None)
    monkeypatch.setattr("trainer.evaluations.enqueue_evaluation", lambda _id: None)
    steward = api_client_for(cast.steward)
    upload = SimpleUploadedFile("tickets.jsonl", _jsonl(), content_type="application/jsonl")
    response = steward.post(
        "/api/v1/datasets/",
        {"file": upload, "name": "tickets", "project": cast.project.pk},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    dataset_id = response.json()["id"]
    run_ingestion(dataset_id)

    body = steward.get(f"/api/v1/datasets/{dataset_id}/").json()
    assert body["status"] == "needs_review", body
    assert body["record_count"] == 24
    assert body["pii_summary"]["by_type"].get("EMAIL_ADDRESS", 0) >= 24

    assert steward.post(f"/api/v1/datasets/{dataset_id}/approve/").status_code == 200
    redacted = steward.get(f"/api/v1/datasets/{dataset_id}/records/?limit=3").json()["results"]
    assert all(CANARY_EMAIL not in r["text"] for r in redacted)

    engineer = api_client_for(cast.engineer)
    response = engineer.post(
        "/api/v1/jobs/",
        {
            "dataset": dataset_id,
            "base_model": tiny_base_model.pk,
            "method": "lora",
            "hyperparameters": tiny_hyperparameters,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    lease = leases.claim_job(job_id, "test-worker")
    assert lease is not None
    runner.run_claimed_job(lease)
    # Evaluation is a task of its own on the training queue: run it as the worker would.
    from trainer.tasks import evaluate_model_version

    evaluate_model_version(engineer.get(f"/api/v1/jobs/{job_id}/").json()["model_version"])

    job = engineer.get(f"/api/v1/jobs/{job_id}/").json()
    assert job["status"] == "succeeded", job["error"]
    assert job["evaluation_status"] == "done", job["evaluation_error"]
    assert job["progress"]["step"] == tiny_hyperparameters["max_steps"]
    assert job["evaluation"]["base"]["perplexity"] > 0
    assert job["evaluation"]["tuned"]["perplexity"] > 0
    assert engineer.get(f"/api/v1/jobs/{job_id}/checkpoints/").json()["results"]

    assert no_egress == []
    assert_no_plaintext_at_rest([CANARY_TEXT, CANARY_EMAIL])


def assert_no_plaintext_at_rest(canaries: list[str]) -> None:
    """No file under the data dir and no database row contains any canary."""
    from django.apps import apps
    from django.core import serializers

    from tests.at_rest import files_containing

    for canary in canaries:
        found = files_containing(Path(settings.DATA_DIR), canary)
        assert not found, f"{canary!r} in plaintext in {found}"
    for model in apps.get_models():
        dump = serializers.serialize("json", model.objects.all())
        for canary in canaries:
            assert canary not in dump, f"{canary!r} in plaintext in table {model._meta.db_table}"
