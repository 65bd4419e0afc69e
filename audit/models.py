"""The audit trail: append-only rows, each carrying the hash of the one before it.

Editing or deleting a row through the application raises; a row edited directly in the
database breaks the chain, which ``manage.py verify_audit_log`` reports by id.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class Outcome(models.TextChoices):
    ALLOWED = "allowed"
    DENIED = "denied"
    ERROR = "error"


class AppendOnlyError(Exception):
    """Raised on any attempt to change or delete an audit entry."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("Audit entries cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Audit entries cannot be deleted.")


class AuditEvent(models.Model):
    """One sensitive action. ``details`` never holds secrets or personal data."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_username = models.CharField(max_length=150, blank=True, db_index=True)
    token_prefix = models.CharField(max_length=24, blank=True)  # user or deployment key
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True, db_index=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, db_index=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_username} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("Audit entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Audit entries cannot be deleted.")

    def canonical_payload(self) -> bytes:
        """The fields the hash covers, serialised deterministically."""
        payload = {
            "created_at": self.created_at.isoformat(),
            "actor": self.actor_username,
            "token": self.token_prefix,
            "ip": self.source_ip or "",
            "ua": self.user_agent,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "outcome": self.outcome,
            "details": self.details,
            "prev": self.prev_hash,
        }
        return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def compute_hash(self) -> str:
        """SHA-256 over the canonical payload (which includes the previous hash)."""
        return hashlib.sha256(self.canonical_payload()).hexdigest()


class AuditChainHead(models.Model):
    """A single row locked while appending, so concurrent writers extend the chain in turn."""

    last_hash = models.CharField(max_length=64, default="0" * 64)
