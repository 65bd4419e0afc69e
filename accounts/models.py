"""Projects, memberships and API tokens."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.roles import ROLE_CHOICES, Action, role_allows


class Project(models.Model):
    """A unit of isolation: datasets, jobs and models belong to exactly one project."""

    name = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    require_distinct_approver = models.BooleanField(
        default=False, help_text="The approver of a dataset must not be its uploader."
    )
    auto_approve_redaction = models.BooleanField(
        default=False,
        help_text="Files uploaded through the OpenAI-compatible API are approved after automatic "
        "redaction, without human review.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """One role of a user in one project; a user may hold several roles (one row each)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=ROLE_CHOICES)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user", "role"], name="one_row_per_role")
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.project}"

    def allows(self, action: Action) -> bool:
        """True when this membership's role permits ``action``."""
        return role_allows(self.role, action)


def hash_token(raw: str) -> str:
    """SHA-256 hex digest of a raw token; tokens are random, so no salt or slow hash is needed."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class ApiToken(models.Model):
    """A bearer token. Only its hash is stored; the raw value is shown once at creation."""

    SCOPE_CHOICES = ["read", "write", "admin", "inference"]

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=120, default="api")
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    def is_usable(self) -> bool:
        """True when the token is neither revoked nor expired."""
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()

    def has_scope(self, scope: str) -> bool:
        """True when the token carries ``scope`` (``admin`` implies every scope)."""
        return scope in self.scopes or "admin" in self.scopes


def usable_token(raw: str) -> ApiToken | None:
    """The token whose raw value is ``raw``, if it is neither revoked nor expired and its user
    is active; None otherwise."""
    token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(raw)).first()
    if token is None or not token.is_usable() or not token.user.is_active:
        return None
    return token
