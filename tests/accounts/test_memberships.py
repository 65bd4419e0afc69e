"""Issue 18 item 8: at least one owner, audited removal, no user enumeration when adding."""

from __future__ import annotations

from typing import Any

from accounts.models import Membership
from audit.models import AuditEvent


def _members_url(cast: Any) -> str:
    return f"/api/v1/projects/{cast.project.pk}/members/"


def test_the_last_owner_cannot_demote_or_remove_themselves(cast: Any, api_client_for: Any) -> None:
    owner = api_client_for(cast.owner)
    demote = owner.post(_members_url(cast), {"username": "owner", "role": "viewer"}, format="json")
    assert demote.status_code == 409, demote.content
    remove = owner.delete(f"{_members_url(cast)}{cast.owner.pk}/")
    assert remove.status_code == 409, remove.content
    assert Membership.objects.filter(project=cast.project, role="owner").count() == 1
    assert AuditEvent.objects.filter(action__startswith="denied.membership_").count() == 2


def test_an_owner_removes_a_member_and_it_is_audited(cast: Any, api_client_for: Any) -> None:
    response = api_client_for(cast.owner).delete(f"{_members_url(cast)}{cast.viewer.pk}/")
    assert response.status_code == 204, response.content
    assert not Membership.objects.filter(project=cast.project, user=cast.viewer).exists()
    event = AuditEvent.objects.get(action="membership.delete")
    assert event.details == {
        "project": cast.project.pk,
        "user": cast.viewer.pk,
        "roles": ["viewer"],
    }
    assert (
        api_client_for(cast.engineer).delete(f"{_members_url(cast)}{cast.steward.pk}/").status_code
        == 403
    )
    missing = api_client_for(cast.owner).delete(f"{_members_url(cast)}{cast.outsider.pk}/")
    assert missing.status_code == 404


def test_a_second_owner_lets_the_first_one_step_down(cast: Any, api_client_for: Any) -> None:
    owner = api_client_for(cast.owner)
    body = {"username": "steward", "role": "owner", "add": True}
    assert owner.post(_members_url(cast), body, format="json").status_code == 201
    demote = owner.post(_members_url(cast), {"username": "owner", "role": "viewer"}, format="json")
    assert demote.status_code == 201, demote.content


def test_adding_answers_the_same_for_unknown_and_existing_non_members(
    cast: Any, api_client_for: Any
) -> None:
    owner = api_client_for(cast.owner)
    existing = owner.post(
        _members_url(cast), {"username": "outsider", "role": "viewer"}, format="json"
    )
    unknown = owner.post(
        _members_url(cast), {"username": "nobody-x", "role": "viewer"}, format="json"
    )
    assert existing.status_code == unknown.status_code == 403
    assert existing.json() == unknown.json()
    assert not Membership.objects.filter(project=cast.project, user=cast.outsider).exists()


def test_a_platform_admin_adds_people(cast: Any, api_client_for: Any) -> None:
    admin = api_client_for(cast.admin)
    body = {"username": "outsider", "role": "viewer"}
    assert admin.post(_members_url(cast), body, format="json").status_code == 201
    assert Membership.objects.filter(project=cast.project, user=cast.outsider).exists()
