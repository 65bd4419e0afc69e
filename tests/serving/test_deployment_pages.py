"""The deployment, key and export pages: the API's services, authorization and audit behind
thin views; a key's secret shown once; the usage chart drawn as inline SVG."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from audit.models import AuditEvent
from audit.services import Actor
from serving import charts, services
from serving.models import Deployment, DeploymentKey

pytestmark = pytest.mark.django_db
PASSWORD = "pw-Long-123!"


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def version(cast: Any, approved_version: Any, tiny_base_model: Any, monkeypatch: Any) -> Any:
    """A model version row (no weights): deployment and key pages need none."""
    from trainer import services as trainer_services
    from trainer.models import ModelVersion

    monkeypatch.setattr(trainer_services, "enqueue_job", lambda _id: None)
    job = trainer_services.create_job(
        Actor(user=cast.engineer),
        approved_version,
        base_model=tiny_base_model,
        method="lora",
        hyperparameters={"max_steps": 2, "seq_len": 32},
    )
    return ModelVersion.objects.create(
        project=job.project, job=job, name="tiny-lora", data_key=job.data_key, artifact_dir="-"
    )


def test_engineer_deploys_from_the_page_and_lands_on_the_deployment(
    cast: Any, version: Any
) -> None:
    response = _client(cast.engineer).post(
        "/deployments/", {"model_version": version.pk, "suffix": "web"}
    )
    deployment = Deployment.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/deployments/{deployment.pk}/"
    assert deployment.model_name.endswith(":web")
    assert AuditEvent.objects.filter(action="deployment.create", outcome="allowed").exists()


def test_viewer_is_offered_no_version_and_a_forged_choice_is_refused(
    cast: Any, version: Any
) -> None:
    client = _client(cast.viewer)
    assert "No model version you may deploy" in client.get("/deployments/").content.decode()
    response = client.post("/deployments/", {"model_version": version.pk})
    assert response.status_code == 400 and not Deployment.objects.exists()


def test_a_new_key_is_shown_once_and_only_its_hash_is_kept(cast: Any, version: Any) -> None:
    deployment = services.create_deployment(Actor(user=cast.engineer), version)
    client = _client(cast.owner)
    created = client.post(
        f"/deployments/{deployment.pk}/keys/", {"name": "crm", "rate_limit_rpm": 7}
    )
    key = DeploymentKey.objects.get()
    page = created.content.decode()
    secret = page.split('id="new-key-secret">')[1].split("<")[0]
    assert secret.startswith("sobk_") and services.find_deployment_key(secret) == key
    assert key.rate_limit_rpm == 7 and created["Cache-Control"] == "no-store"
    assert secret not in client.get(f"/deployments/{deployment.pk}/").content.decode()


def test_owner_revokes_a_key_and_stops_the_deployment(cast: Any, version: Any) -> None:
    deployment = services.create_deployment(Actor(user=cast.engineer), version)
    issued = services.issue_deployment_key(Actor(user=cast.engineer), deployment)
    client = _client(cast.owner)
    client.post(f"/deployments/{deployment.pk}/keys/{issued.key.pk}/revoke/")
    client.post(f"/deployments/{deployment.pk}/stop/")
    issued.key.refresh_from_db()
    deployment.refresh_from_db()
    assert issued.key.revoked_at is not None and not deployment.is_active
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"deployment_key.revoke", "deployment.stop"} <= actions


def test_viewer_sees_the_deployment_but_cannot_stop_it(cast: Any, version: Any) -> None:
    deployment = services.create_deployment(Actor(user=cast.engineer), version)
    client = _client(cast.viewer)
    page = client.get(f"/deployments/{deployment.pk}/").content.decode()
    assert "stop-deployment" not in page and "<svg" in page
    client.post(f"/deployments/{deployment.pk}/stop/")
    deployment.refresh_from_db()
    assert deployment.is_active
    assert AuditEvent.objects.filter(action="denied.deploy_model").exists()


def test_outsider_gets_404_for_a_deployment(cast: Any, version: Any) -> None:
    deployment = services.create_deployment(Actor(user=cast.engineer), version)
    assert _client(cast.outsider).get(f"/deployments/{deployment.pk}/").status_code == 404


def test_export_page_is_for_owners_and_rechecks_the_password_with_lockout(
    cast: Any, version: Any
) -> None:
    assert _client(cast.engineer).get(f"/model-versions/{version.pk}/export/").status_code == 403
    client = _client(cast.owner)
    body = {"weights": "safetensors", "format": "plain", "password": "guess"}
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(f"/model-versions/{version.pk}/export/", body)
        assert response.status_code == 400
        assert "That is not your password." in response.content.decode()
    assert client.post(f"/model-versions/{version.pk}/export/", body).status_code == 429
    locked = client.post(f"/model-versions/{version.pk}/export/", body | {"password": PASSWORD})
    assert locked.status_code == 429 and "locked out" in locked.content.decode()
    denied = AuditEvent.objects.filter(action="model.export", outcome="denied")
    assert denied.count() == settings.AXES_FAILURE_LIMIT + 1


def test_export_refuses_a_short_passphrase_inline(cast: Any, version: Any) -> None:
    body = {"weights": "gguf", "format": "encrypted", "passphrase": "short", "password": PASSWORD}
    response = _client(cast.owner).post(f"/model-versions/{version.pk}/export/", body)
    assert response.status_code == 400
    assert "at least 12 characters" in response.content.decode()


def test_usage_chart_has_axes_and_a_hover_title_per_day() -> None:
    points = charts.fill_days({date(2026, 12, 5): 3}, date(2026, 12, 5), 3)
    svg = str(charts.daily_bars(points, label="Requests <per> day", unit="requests"))
    assert [p.value for p in points] == [0, 0, 3]
    assert svg.count('<rect class="bar"') == 3 and "<title>2026-12-05: 3 requests</title>" in svg
    assert "Requests &lt;per&gt; day" in svg and "<script" not in svg
    assert (
        charts.nice_ceiling(0) == 1
        and charts.nice_ceiling(7) == 10
        and charts.nice_ceiling(11) == 20
    )


def test_engineer_turns_the_pii_filter_on_and_a_viewer_cannot(cast: Any, version: Any) -> None:
    deployment = services.create_deployment(Actor(user=cast.engineer), version)
    _client(cast.viewer).post(f"/deployments/{deployment.pk}/pii-filter/", {"enabled": "1"})
    deployment.refresh_from_db()
    assert not deployment.pii_filter
    _client(cast.engineer).post(f"/deployments/{deployment.pk}/pii-filter/", {"enabled": "1"})
    deployment.refresh_from_db()
    assert deployment.pii_filter
    assert AuditEvent.objects.filter(action="deployment.pii_filter", outcome="allowed").exists()
