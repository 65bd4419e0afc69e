"""Issue 18 item 7: the export's password re-check shares the sign-in's lockout and is audited."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from audit.models import AuditEvent
from audit.services import Actor

PASSWORD = "pw-Long-123!"


@pytest.fixture
def version(
    cast: Any,
    tiny_base_model: Any,
    approved_version: Any,
    tiny_hyperparameters: Any,
    monkeypatch: Any,
) -> Any:
    from trainer import services
    from trainer.models import ModelVersion

    monkeypatch.setattr(services, "enqueue_job", lambda _id: None)
    job = services.create_job(
        Actor(user=cast.engineer),
        approved_version,
        base_model=tiny_base_model,
        method="lora",
        hyperparameters=tiny_hyperparameters,
    )
    return ModelVersion.objects.create(
        project=job.project, job=job, name="tiny-lora", data_key=job.data_key, artifact_dir="-"
    )


def _export(client: Any, version: Any, password: str) -> Any:
    body = {"model_version": version.pk, "password": password, "format": "plain"}
    return client.post("/api/v1/model-exports/", body, format="json")


def test_wrong_passwords_lock_the_export_and_the_sign_in_alike(
    cast: Any, api_client_for: Any, version: Any
) -> None:
    client = api_client_for(cast.owner)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _export(client, version, "guess").status_code == 403
    assert _export(client, version, "guess").status_code == 429  # this one locks
    # Locked out: even the right password is not tried, and says so.
    locked = _export(client, version, PASSWORD)
    assert locked.status_code == 429, locked.content
    assert "locked out" in locked.json()["error"]["message"]
    assert locked["Retry-After"]
    denied = AuditEvent.objects.filter(action="model.export", outcome="denied")
    assert denied.count() == settings.AXES_FAILURE_LIMIT + 1
    assert denied.order_by("-id").first().details["reason"] == "locked out"
    assert AuditEvent.objects.filter(action="auth.login", outcome="denied").count() >= 5
    # The shared counter: signing in with the right password is refused as well.
    browser = Client(REMOTE_ADDR="127.0.0.1")
    browser.post("/login/", {"username": "owner", "password": PASSWORD})
    assert "_auth_user_id" not in browser.session
