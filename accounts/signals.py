"""Audit sign-in successes and failures."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from audit.services import Actor, actor_from_request, record_event


@receiver(user_logged_in)
def _audit_login(sender: object, request: HttpRequest, user: Any, **_: Any) -> None:
    record_event(actor_from_request(request), "auth.login", obj=user)


@receiver(user_login_failed)
def _audit_login_failure(
    sender: object, credentials: dict[str, Any], request: HttpRequest | None = None, **_: Any
) -> None:
    actor = actor_from_request(request) if request is not None else Actor()
    record_event(
        actor,
        "auth.login",
        outcome="denied",
        username=str(credentials.get("username", ""))[:150],
    )
