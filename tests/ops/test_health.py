"""/healthz answers without authentication and reports database, broker and workers."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django.utils import timezone

from ops.models import WorkerHeartbeat


def test_healthz_reports_database_broker_and_live_workers(db: Any) -> None:
    WorkerHeartbeat.objects.create(
        name="w1@host", queues="ingestion,training", last_seen=timezone.now()
    )
    WorkerHeartbeat.objects.create(
        name="dead@host", last_seen=timezone.now() - timezone.timedelta(minutes=5)
    )
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok" and body["broker"] == "ok"
    assert [w["name"] for w in body["workers"]["alive"]] == ["w1@host"]


def test_pages_carry_security_headers(db: Any) -> None:
    response = Client().get("/login/")
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_pages_require_sign_in(db: Any) -> None:
    response = Client().get("/")
    assert response.status_code == 302 and "/login/" in response["Location"]
