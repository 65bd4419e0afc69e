"""Bearer tokens: stored hashed, shown once, revocable, expiring, scoped, audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken, hash_token
from accounts.services import issue_api_token, revoke_api_token
from audit.models import AuditEvent
from audit.services import Actor


def _client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_token_is_stored_only_as_a_hash(cast: Any) -> None:
    issued = issue_api_token(Actor(user=cast.owner), cast.owner)
    row = ApiToken.objects.get(pk=issued.token.pk)
    assert row.token_hash == hash_token(issued.raw) and issued.raw not in row.token_hash


def test_valid_token_authenticates_and_records_last_use(cast: Any) -> None:
    issued = issue_api_token(Actor(user=cast.owner), cast.owner)
    assert _client(issued.raw).get("/api/v1/base-models/").status_code == 200
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at is not None


def test_bad_revoked_or_expired_token_answers_401(cast: Any) -> None:
    assert _client("sob_not-a-token").get("/api/v1/base-models/").status_code == 401
    revoked = issue_api_token(Actor(user=cast.owner), cast.owner)
    revoke_api_token(Actor(user=cast.owner), revoked.token)
    assert _client(revoked.raw).get("/api/v1/base-models/").status_code == 401
    expired = issue_api_token(Actor(user=cast.owner), cast.owner)
    ApiToken.objects.filter(pk=expired.token.pk).update(expires_at=timezone.now() - timedelta(1))
    assert _client(expired.raw).get("/api/v1/base-models/").status_code == 401
    assert AuditEvent.objects.filter(action="token.use", outcome="denied").count() == 3


def test_read_only_token_cannot_write(cast: Any, approved_version: Any) -> None:
    issued = issue_api_token(Actor(user=cast.engineer), cast.engineer, scopes=["read"])
    response = _client(issued.raw).post(
        "/api/v1/jobs/", {"dataset": approved_version.dataset_id}, format="json"
    )
    assert response.status_code == 403


def test_create_api_token_command_prints_token_on_last_line(cast: Any, capsys: Any) -> None:
    call_command("create_api_token", "engineer")
    raw = capsys.readouterr().out.strip().splitlines()[-1]
    assert _client(raw).get("/api/v1/jobs/").status_code == 200


def test_anonymous_api_request_answers_401(db: Any) -> None:
    assert APIClient().get("/api/v1/jobs/").status_code == 401


def test_tokens_page_creates_a_token_shown_once_and_revokes_it(cast: Any) -> None:
    from django.test import Client

    page = Client()
    page.force_login(cast.engineer)
    response = page.post("/account/tokens/", {"name": "laptop", "scopes": ["read"], "days": "30"})
    raw = response.context["created"].raw
    assert raw in response.content.decode()
    assert raw not in page.get("/account/tokens/").content.decode()  # shown once
    assert _client(raw).get("/api/v1/jobs/").status_code == 200
    token = ApiToken.objects.get(user=cast.engineer, name="laptop")
    page.post("/account/tokens/", {"revoke": token.pk})
    assert _client(raw).get("/api/v1/jobs/").status_code == 401


def test_token_use_is_audited_at_most_once_a_minute(cast: Any) -> None:
    issued = issue_api_token(Actor(user=cast.owner), cast.owner)
    for _ in range(3):
        _client(issued.raw).get("/api/v1/base-models/")
    uses = AuditEvent.objects.filter(action="token.use", outcome="allowed")
    assert uses.count() == 1 and uses.get().token_prefix == issued.token.prefix
    ApiToken.objects.filter(pk=issued.token.pk).update(
        last_used_at=timezone.now() - timedelta(minutes=2)
    )
    _client(issued.raw).get("/api/v1/base-models/")
    assert uses.count() == 2


def test_nobody_revokes_another_users_token_from_the_tokens_page(cast: Any) -> None:
    from django.test import Client

    issued = issue_api_token(Actor(user=cast.owner), cast.owner)
    page = Client()
    page.force_login(cast.engineer)
    page.post("/account/tokens/", {"revoke": issued.token.pk})
    assert ApiToken.objects.get(pk=issued.token.pk).revoked_at is None
    assert issued.token.prefix not in page.get("/account/tokens/").content.decode()
