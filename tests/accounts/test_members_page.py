"""The members page: owners change roles and remove members, the last owner is kept, platform
admins add anyone, every change and refusal is audited as through the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import Membership
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _roles(cast: Any, user: Any) -> list[str]:
    return sorted(
        Membership.objects.filter(project=cast.project, user=user).values_list("role", flat=True)
    )


def test_owner_changes_a_role_and_it_is_audited(cast: Any) -> None:
    url = f"/projects/{cast.project.pk}/members/"
    response = _client(cast.owner).post(url, {"username": "viewer", "role": "engineer"})
    assert response.status_code == 302
    assert _roles(cast, cast.viewer) == ["engineer"]
    assert AuditEvent.objects.filter(action="membership.change", outcome="allowed").exists()


def test_owner_cannot_add_a_stranger_and_learns_nothing_about_accounts(cast: Any) -> None:
    url = f"/projects/{cast.project.pk}/members/"
    client = _client(cast.owner)
    known = client.post(url, {"username": "outsider", "role": "viewer"})
    unknown = client.post(url, {"username": "nobody-here", "role": "viewer"})
    assert known.status_code == unknown.status_code == 400
    for response in (known, unknown):
        assert "Only platform administrators add people" in response.content.decode()
    assert AuditEvent.objects.filter(action="denied.membership_add").count() == 2
    assert not Membership.objects.filter(user=cast.outsider).exists()


def test_admin_adds_a_new_member(cast: Any) -> None:
    url = f"/projects/{cast.project.pk}/members/"
    _client(cast.admin).post(url, {"username": "outsider", "role": "viewer"})
    assert _roles(cast, cast.outsider) == ["viewer"]


def test_the_last_owner_can_be_neither_removed_nor_demoted(cast: Any) -> None:
    url = f"/projects/{cast.project.pk}/members/"
    client = _client(cast.owner)
    demoted = client.post(url, {"username": "owner", "role": "viewer"})
    assert demoted.status_code == 400 and "at least one owner" in demoted.content.decode()
    removed = client.post(url, {"remove": cast.owner.pk}, follow=True)
    assert "at least one owner" in removed.content.decode()
    assert _roles(cast, cast.owner) == ["owner"]
    assert AuditEvent.objects.filter(action__startswith="denied.membership_").count() == 2


def test_owner_removes_a_member(cast: Any) -> None:
    _client(cast.owner).post(f"/projects/{cast.project.pk}/members/", {"remove": cast.viewer.pk})
    assert _roles(cast, cast.viewer) == []
    assert AuditEvent.objects.filter(action="membership.delete").exists()


@pytest.mark.parametrize(("role", "status"), [("steward", 403), ("viewer", 403), ("outsider", 404)])
def test_others_may_not_manage_members(cast: Any, role: str, status: int) -> None:
    url = f"/projects/{cast.project.pk}/members/"
    client = _client(getattr(cast, role))
    assert client.get(url).status_code == status
    assert client.post(url, {"remove": cast.viewer.pk}).status_code == status
    assert _roles(cast, cast.viewer) == ["viewer"]


def test_settings_page_links_to_members(cast: Any) -> None:
    page = _client(cast.owner).get(f"/projects/{cast.project.pk}/settings/").content.decode()
    assert f'href="/projects/{cast.project.pk}/members/"' in page


def test_the_dashboard_links_owners_to_settings_and_members(cast: Any) -> None:
    members = f'href="/projects/{cast.project.pk}/members/"'
    assert members in _client(cast.owner).get("/").content.decode()
    assert members in _client(cast.admin).get("/").content.decode()
    assert members not in _client(cast.steward).get("/").content.decode()
