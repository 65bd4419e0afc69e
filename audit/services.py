"""Writing and verifying the audit trail.

``record_event`` is the only way entries are created. It runs in its own atomic block and locks
the chain head, so entries from concurrent workers never fork the chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from audit.models import AuditChainHead, AuditEvent, Outcome


@dataclass(frozen=True)
class Actor:
    """Who did something, and from where."""

    user: Any = None
    token_prefix: str = ""
    source_ip: str | None = None
    user_agent: str = ""

    @property
    def username(self) -> str:
        if self.user is None or not getattr(self.user, "is_authenticated", False):
            return ""
        return str(self.user.get_username())


SYSTEM = Actor()


def actor_from_request(request: HttpRequest) -> Actor:
    """Build the actor of a request: user, API token prefix, client IP and user agent."""
    user = getattr(request, "user", None)
    token = getattr(request, "auth", None)
    return Actor(
        user=user if getattr(user, "is_authenticated", False) else None,
        token_prefix=getattr(token, "prefix", "") or "",
        source_ip=request.META.get("REMOTE_ADDR") or None,
        user_agent=(request.META.get("HTTP_USER_AGENT") or "")[:300],
    )


def record_event(
    actor: Actor,
    action: str,
    *,
    obj: Any = None,
    object_type: str = "",
    object_id: str = "",
    outcome: str = Outcome.ALLOWED,
    details: dict[str, Any] | None = None,
    username: str = "",
) -> AuditEvent:
    """Append one entry to the chain and return it.

    ``obj`` (any model instance) fills object type and id. ``details`` must hold no secrets or
    personal data: ids, counts, reasons. ``username`` records an attempted name on failed logins.
    """
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
        event = AuditEvent(
            actor=actor.user,
            actor_username=(actor.username or username)[:150],
            token_prefix=actor.token_prefix[:24],
            source_ip=actor.source_ip,
            user_agent=actor.user_agent,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            outcome=outcome,
            details=details or {},
            prev_hash=head.last_hash,
        )
        event.entry_hash = event.compute_hash()
        event.save()
        AuditChainHead.objects.filter(pk=1).update(last_hash=event.entry_hash)
    return event


@dataclass(frozen=True)
class ChainReport:
    """Result of verifying the chain: ``first_broken_id`` is None when the chain is intact."""

    checked: int
    first_broken_id: int | None
    reason: str = ""


def verify_chain() -> ChainReport:
    """Recompute every entry's hash in id order; report the first entry that does not match."""
    previous = "0" * 64
    checked = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        checked += 1
        if event.prev_hash != previous:
            return ChainReport(checked, event.pk, "its previous-hash link does not match")
        if event.compute_hash() != event.entry_hash:
            return ChainReport(checked, event.pk, "its content does not match its hash")
        previous = event.entry_hash
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and checked and head.last_hash != previous:
        return ChainReport(checked, None, "the chain head does not match the last entry")
    return ChainReport(checked, None)
