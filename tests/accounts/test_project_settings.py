"""Issue 18 item 3: separation of duties can be switched on (API and page), audited, enforced."""

from __future__ import annotations

from typing import Any

from django.test import Client

from accounts.models import Project
from audit.models import AuditEvent


def _patch(client: Any, project: Any, body: dict[str, Any]) -> Any:
    return client.patch(f"/api/v1/projects/{project.pk}/", body, format="json")


def test_settings_given_at_creation_are_kept(cast: Any, api_client_for: Any) -> None:
    body = {"name": "Gamma", "require_distinct_approver": True, "auto_approve_redaction": True}
    response = api_client_for(cast.admin).post("/api/v1/projects/", body, format="json")
    assert response.status_code == 201, response.content
    project = Project.objects.get(name="Gamma")
    assert project.require_distinct_approver and project.auto_approve_redaction


def test_an_owner_patches_the_settings_and_the_change_is_audited(
    cast: Any, api_client_for: Any
) -> None:
    response = _patch(api_client_for(cast.owner), cast.project, {"require_distinct_approver": True})
    assert response.status_code == 200, response.content
    assert response.json()["require_distinct_approver"] is True
    cast.project.refresh_from_db()
    assert cast.project.require_distinct_approver
    event = AuditEvent.objects.get(action="project.settings")
    assert event.details["before"]["require_distinct_approver"] is False
    assert event.details["after"]["require_distinct_approver"] is True


def test_other_roles_cannot_change_settings_and_unknown_ones_are_refused(
    cast: Any, api_client_for: Any
) -> None:
    body = {"require_distinct_approver": True}
    assert _patch(api_client_for(cast.steward), cast.project, body).status_code == 403
    assert _patch(api_client_for(cast.outsider), cast.project, body).status_code == 404
    assert _patch(api_client_for(cast.owner), cast.project, {"name": "x"}).status_code == 400
    cast.project.refresh_from_db()
    assert not cast.project.require_distinct_approver and cast.project.name == "Acme support"


def test_a_steward_cannot_approve_their_own_upload_once_switched_on(
    cast: Any, api_client_for: Any, review_dataset_from: Any
) -> None:
    _patch(api_client_for(cast.owner), cast.project, {"require_distinct_approver": True})
    dataset = review_dataset_from([{"text": "Nothing personal here."}], [])
    response = api_client_for(cast.steward).post(f"/api/v1/datasets/{dataset.pk}/approve/")
    assert response.status_code == 409, response.content
    assert "different data steward" in response.json()["error"]["message"]


def test_the_settings_page_lets_owners_change_them(cast: Any) -> None:
    owner, engineer = Client(), Client()
    owner.force_login(cast.owner)
    engineer.force_login(cast.engineer)
    url = f"/projects/{cast.project.pk}/settings/"
    assert owner.get(url).status_code == 200
    assert engineer.get(url).status_code == 403
    response = owner.post(url, {"auto_approve_redaction": "on"})
    assert response.status_code == 302
    cast.project.refresh_from_db()
    assert cast.project.auto_approve_redaction and not cast.project.require_distinct_approver
    assert AuditEvent.objects.filter(action="project.settings").count() == 1
