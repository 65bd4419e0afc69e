"""User creation is a service verb that audits in its own transaction (issue #15)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from accounts import services
from audit.models import AuditEvent
from audit.services import Actor

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_user_writes_the_account_and_its_audit_row(cast: Any) -> None:
    user = services.create_user(
        Actor(user=cast.admin), "nadia", email="n@example.org", password="a long pass phrase 42"
    )
    event = AuditEvent.objects.get(action="user.create", object_id=str(user.pk))
    assert event.actor_username == cast.admin.username
    assert user.check_password("a long pass phrase 42")


def test_an_account_never_exists_unaudited(cast: Any, monkeypatch: Any) -> None:
    def broken_audit(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the audit store is down")

    monkeypatch.setattr(services, "record_event", broken_audit)
    with pytest.raises(RuntimeError):
        services.create_user(Actor(user=cast.admin), "nadia", password="a long pass phrase 42")
    assert not get_user_model().objects.filter(username="nadia").exists()


def test_the_api_creates_users_through_the_service(
    cast: Any, api_client_for: Any, monkeypatch: Any
) -> None:
    calls: list[str] = []
    real = services.create_user

    def spy(actor: Actor, username: str, **kwargs: Any) -> Any:
        calls.append(username)
        return real(actor, username, **kwargs)

    monkeypatch.setattr(services, "create_user", spy)
    response = api_client_for(cast.admin).post(
        "/api/v1/users/", {"username": "omar", "password": "a long pass phrase 42"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert calls == ["omar"]
    assert AuditEvent.objects.filter(
        action="user.create", actor_username=cast.admin.username
    ).exists()
