"""``privacy_audit`` on job creation: canaries on by default, validated naming the field in the
native API (create and estimate) and the job form."""

from __future__ import annotations

from typing import Any

import pytest

from trainer import services
from trainer.canaries import CANARY_SEED_BLOB, canaries_enabled
from trainer.models import TrainingJob

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_messages(monkeypatch: Any) -> None:
    monkeypatch.setattr(services, "enqueue_job", lambda _id: None)


def _create(api_client_for: Any, cast: Any, approved_version: Any, **extra: Any) -> Any:
    body = {
        "dataset": approved_version.dataset.pk,
        "hyperparameters": {"max_steps": 4, "device": "cpu"},
        **extra,
    }
    return api_client_for(cast.engineer).post("/api/v1/jobs/", body, format="json")


def test_canaries_are_on_by_default_with_a_seed_kept_encrypted(
    cast: Any, api_client_for: Any, approved_version: Any, tiny_base_model: Any
) -> None:
    from vault.services import blob_path

    response = _create(api_client_for, cast, approved_version)
    assert response.status_code == 201, response.content
    assert response.json()["privacy_audit"] == {"canaries": True}
    job = TrainingJob.objects.get(pk=response.json()["id"])
    assert canaries_enabled(job)
    assert b"seed" not in blob_path(job.data_key, CANARY_SEED_BLOB).read_bytes()
    assert job.events.get(kind="queued").data == {"privacy_audit": {"canaries": True}}


def test_a_job_may_train_without_canaries(
    cast: Any, api_client_for: Any, approved_version: Any, tiny_base_model: Any
) -> None:
    response = _create(api_client_for, cast, approved_version, privacy_audit={"canaries": False})
    assert response.status_code == 201, response.content
    assert response.json()["privacy_audit"] == {"canaries": False}


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"canaries": "yes"}, "privacy_audit.canaries"),
        ({"canary": True}, "privacy_audit.canary"),
        ([True], "privacy_audit"),
        ("on", "privacy_audit"),
    ],
)
@pytest.mark.parametrize("endpoint", ["/api/v1/jobs/", "/api/v1/jobs/estimate/"])
def test_bad_privacy_audit_settings_are_a_400_naming_the_field(
    cast: Any,
    api_client_for: Any,
    approved_version: Any,
    tiny_base_model: Any,
    value: Any,
    field: str,
    endpoint: str,
) -> None:
    body = {"dataset": approved_version.dataset.pk, "privacy_audit": value}
    response = api_client_for(cast.engineer).post(endpoint, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["detail"]
    assert not TrainingJob.objects.exists()


def test_the_job_form_offers_canaries_on_and_honours_unticking(
    cast: Any, client: Any, approved_version: Any, tiny_base_model: Any
) -> None:
    client.force_login(cast.engineer)
    dataset = approved_version.dataset.pk
    page = client.get(f"/jobs/new/?dataset={dataset}")
    assert b'name="canaries"' in page.content and b"checked" in page.content
    form = {
        "dataset": dataset,
        "method": "lora",
        "objective": "supervised",
        "max_steps": 4,
        "learning_rate": 0.001,
        "batch_size": 2,
        "seq_len": 64,
        "checkpoint_every": 2,
    }
    response = client.post("/jobs/new/", form)
    assert response.status_code == 302, response.content
    assert not canaries_enabled(TrainingJob.objects.get())
