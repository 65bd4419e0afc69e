"""Sign-in: audited either way, locked out after repeated failures (django-axes), and weak
passwords refused when administrators create users."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from audit.models import AuditEvent

PASSWORD = "pw-Long-123!"  # the cast's password (root conftest)


def _sign_in(client: Client, username: str, password: str) -> Any:
    return client.post("/login/", {"username": username, "password": password})


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_successful_sign_in_is_audited(cast: Any) -> None:
    client = Client()
    response = _sign_in(client, "owner", PASSWORD)
    assert response.status_code == 302 and _signed_in(client)
    event = AuditEvent.objects.get(action="auth.login", outcome="allowed")
    assert event.actor_id == cast.owner.pk and event.source_ip == "127.0.0.1"


def test_failed_sign_in_is_audited_with_the_name_but_never_the_password(cast: Any) -> None:
    client = Client()
    wrong = "Wrong-Secret-987"
    assert _sign_in(client, "owner", wrong).status_code == 200
    assert _sign_in(client, "nobody-here", wrong).status_code == 200
    assert not _signed_in(client)
    denied = AuditEvent.objects.filter(action="auth.login", outcome="denied").order_by("id")
    assert [e.actor_username for e in denied] == ["owner", "nobody-here"]
    assert all(e.actor_id is None for e in denied)
    for event in AuditEvent.objects.all():
        assert wrong not in json.dumps(event.details) and wrong not in event.user_agent


def test_repeated_failures_lock_the_account_out_even_for_the_right_password(cast: Any) -> None:
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 5  # SOBERANA_LOGIN_FAILURE_LIMIT's default
    client = Client()
    answers = [_sign_in(client, "steward", f"wrong-{i}").status_code for i in range(limit)]
    assert answers[: limit - 1] == [200] * (limit - 1)  # the form again, with an error
    assert answers[-1] == 429
    locked = _sign_in(client, "steward", PASSWORD)
    assert locked.status_code == 429 and b"locked" in locked.content.lower()
    assert not _signed_in(client)
    denied = AuditEvent.objects.filter(
        action="auth.login", outcome="denied", actor_username="steward"
    )
    assert denied.count() == limit + 1


def test_a_lockout_is_per_user_and_address(cast: Any) -> None:
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    for i in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(attacker, "steward", f"wrong-{i}")
    assert _sign_in(attacker, "steward", PASSWORD).status_code == 429
    colleague = Client(REMOTE_ADDR="198.51.100.2")
    assert _sign_in(colleague, "steward", PASSWORD).status_code == 302
    assert _sign_in(attacker, "engineer", PASSWORD).status_code == 302


@pytest.mark.parametrize(
    "password",
    ["password", "Ab1!xy", "84392847126", "newcomer1"],
    ids=["common", "short", "numeric", "like-the-username"],
)
def test_weak_passwords_are_refused_when_creating_users(
    password: str, cast: Any, api_client_for: Any
) -> None:
    response = api_client_for(cast.admin).post(
        "/api/v1/users/", {"username": "newcomer", "password": password}, format="json"
    )
    assert response.status_code == 400
    assert "password" in response.json()["error"]["detail"]


def test_a_strong_password_creates_a_user_who_can_sign_in(cast: Any, api_client_for: Any) -> None:
    body = {"username": "newcomer", "password": "Correct-Horse-Battery-77"}
    assert api_client_for(cast.owner).post("/api/v1/users/", body, format="json").status_code == 403
    response = api_client_for(cast.admin).post("/api/v1/users/", body, format="json")
    assert response.status_code == 201 and "password" not in response.json()
    assert _sign_in(Client(), "newcomer", body["password"]).status_code == 302
    assert AuditEvent.objects.filter(action="user.create", actor_username="root").exists()
