"""Issue 18 item 5: refused object lookups are audited, rate-limited, and raise an alert."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from audit.models import AuditEvent
from audit.refusals import ALERT_ACTION, ALERT_THRESHOLD, RECORD_PER_WINDOW, resource_of


@pytest.fixture(autouse=True)
def _clear_counts() -> Any:
    cache.clear()
    yield
    cache.clear()


def test_probing_another_projects_ids_is_audited(cast: Any, api_client_for: Any) -> None:
    from accounts.models import Project

    other = Project.objects.create(name="Other")
    response = api_client_for(cast.viewer).get(f"/api/v1/projects/{other.pk}/members/")
    assert response.status_code == 404
    event = AuditEvent.objects.get(action="denied.lookup")
    assert event.actor_username == "viewer" and event.outcome == "denied"
    assert (event.object_type, event.object_id) == ("projects", str(other.pk))


def test_a_scan_is_rate_limited_per_type_and_raises_one_alert(
    cast: Any, api_client_for: Any
) -> None:
    client = api_client_for(cast.viewer)
    for i in range(ALERT_THRESHOLD + 5):
        assert client.get(f"/api/v1/datasets/{10_000 + i}/").status_code == 404
    assert AuditEvent.objects.filter(action="denied.lookup").count() == RECORD_PER_WINDOW
    assert AuditEvent.objects.filter(action=ALERT_ACTION, actor_username="viewer").count() == 1
    for i in range(3):
        client.get(f"/api/v1/jobs/{10_000 + i}/")
    assert AuditEvent.objects.filter(action="denied.lookup", object_type="jobs").count() == 3


def test_the_admin_sees_the_alert_on_the_dashboard_and_in_the_audit_filter(
    cast: Any, api_client_for: Any
) -> None:
    client = api_client_for(cast.viewer)
    for i in range(ALERT_THRESHOLD):
        client.get(f"/api/v1/jobs/{10_000 + i}/")
    admin = Client()
    admin.force_login(cast.admin)
    page = admin.get("/").content.decode()
    assert 'id="audit-alerts"' in page and "viewer" in page
    alerts = api_client_for(cast.admin).get("/api/v1/audit-events/?alert=1").json()["results"]
    assert [a["action"] for a in alerts] == [ALERT_ACTION]
    member = Client()
    member.force_login(cast.owner)
    assert 'id="audit-alerts"' not in member.get("/").content.decode()


def test_resource_names() -> None:
    assert resource_of("api/v1/datasets/<int:pk>/") == "datasets"
    assert resource_of("v1/models/<str:model>") == "v1/models"
    assert resource_of("datasets/<int:pk>/review/") == "datasets"
