"""Refused object lookups: a signed-in caller asked for an object by id and got 404.

Objects outside a caller's projects answer 404 (their querysets are scoped by membership), so
a member probing another project's ids left no trace. ``RefusedLookupMiddleware`` records each
such refusal as ``denied.lookup`` (object type = the URL's resource, id = its path parameters),
at most ``RECORD_PER_WINDOW`` per actor and object type per window, so a scan cannot flood the
chain; past that the refusals are only counted. When an actor's refusals in one window reach
``ALERT_THRESHOLD`` one ``alert.refused_lookups`` entry is written: the dashboard shows it to
platform admins and ``GET /api/v1/audit-events/?alert=1`` lists it.

Counts live in Django's cache (per process with the default local-memory cache, shared when a
shared cache is configured): a best-effort limit, never a reason to drop the first entries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from audit.services import actor_from_request, record_event

WINDOW_SECONDS = 600
RECORD_PER_WINDOW = 5
ALERT_THRESHOLD = 20
ALERT_ACTION = "alert.refused_lookups"


def resource_of(route: str) -> str:
    """The object type a URL route names: ``api/v1/datasets/<pk>/`` -> ``datasets``,
    ``v1/models/<model>`` -> ``v1/models``, a page ``datasets/<int:pk>/`` -> ``datasets``."""
    parts = [p for p in route.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        parts = parts[2:]
    if parts and parts[0] == "v1":
        return "/".join(parts[:2])
    return parts[0] if parts else ""


def _count(key: str) -> int:
    cache.add(key, 0, WINDOW_SECONDS)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, WINDOW_SECONDS)
        return 1


def note_refused_lookup(request: HttpRequest) -> None:
    """Count (and within the limit, record) one refused lookup by the request's actor."""
    match = request.resolver_match
    actor = actor_from_request(request)
    if actor.user is None or match is None or not match.kwargs:
        return
    if not hasattr(actor.user, "_meta"):  # a deployment key's holder: no user row
        actor = replace(actor, user=None)
        user = f"key:{actor.token_prefix}"
    else:
        user = str(actor.user.pk)
    kind = resource_of(match.route)[:64]
    window = int(time.time() // WINDOW_SECONDS)
    if _count(f"refused:{user}:{kind}:{window}") <= RECORD_PER_WINDOW:
        ids = {name: str(value)[:64] for name, value in match.kwargs.items()}
        record_event(
            actor,
            "denied.lookup",
            object_type=kind,
            object_id=next(iter(ids.values()), ""),
            outcome="denied",
            details={"path_params": ids, "method": request.method},
        )
    if _count(f"refused:{user}:{window}") == ALERT_THRESHOLD:
        record_event(
            actor,
            ALERT_ACTION,
            outcome="denied",
            details={"refusals": ALERT_THRESHOLD, "window_seconds": WINDOW_SECONDS},
        )


class RefusedLookupMiddleware:
    """Notes every 404 answered to a signed-in caller on a URL naming an object."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 404:
            note_refused_lookup(request)
        return response


def recent_alerts(hours: int = 24) -> Any:
    """Alert entries of the last ``hours`` hours, newest first (for the admin's dashboard)."""
    from datetime import timedelta

    from django.utils import timezone

    from audit.models import AuditEvent

    since = timezone.now() - timedelta(hours=hours)
    return AuditEvent.objects.filter(action__startswith="alert.", created_at__gte=since).order_by(
        "-id"
    )
