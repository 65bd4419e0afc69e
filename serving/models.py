"""Deployments of trained models, their API keys, usage and rate windows.

A ``Deployment`` makes one ``ModelVersion`` queryable under a public model name
(``ft:<base>:<project>:<suffix or job id>``) until it is stopped. ``DeploymentKey`` rows are
bearer keys for one deployment, stored as SHA-256 like ``ApiToken``. ``UsageDay`` counts
requests and tokens per caller per model per day (never content).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import ApiToken, Project
from trainer.models import ModelVersion


class DeploymentStatus(models.TextChoices):
    ACTIVE = "active"
    STOPPED = "stopped"


class Deployment(models.Model):
    """A model version served under a public model name."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="deployments")
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="deployments"
    )
    model_name = models.CharField(max_length=200, db_index=True)
    suffix = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=8, choices=DeploymentStatus.choices, default=DeploymentStatus.ACTIVE
    )
    pii_filter = models.BooleanField(
        default=False, help_text="Redact personal data detected in completions before returning."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["model_name"],
                condition=Q(status="active"),
                name="one_active_deployment_per_model_name",
            )
        ]

    def __str__(self) -> str:
        return self.model_name

    @property
    def is_active(self) -> bool:
        return self.status == DeploymentStatus.ACTIVE


class DeploymentKey(models.Model):
    """A bearer key that may query one deployment. Only its hash is stored."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="keys")
    name = models.CharField(max_length=120, default="key")
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    rate_limit_rpm = models.PositiveIntegerField(default=60)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    def is_usable(self) -> bool:
        """Neither revoked nor expired, and its deployment is still active."""
        if self.revoked_at is not None or not self.deployment.is_active:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class UsageDay(models.Model):
    """Requests and tokens of one caller on one model on one day (UTC). Never content."""

    day = models.DateField()
    caller = models.CharField(max_length=40, help_text="key:<id>, token:<id> or user:<id>")
    model_name = models.CharField(max_length=200)
    project = models.ForeignKey(Project, null=True, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(
        Deployment, null=True, on_delete=models.CASCADE, related_name="usage"
    )
    key = models.ForeignKey(
        DeploymentKey, null=True, on_delete=models.CASCADE, related_name="usage"
    )
    token = models.ForeignKey(ApiToken, null=True, on_delete=models.SET_NULL, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requests = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-day", "caller"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "caller", "model_name"], name="one_usage_row_per_caller_model_day"
            )
        ]


class QueryContent(models.Model):
    """The prompt and answer of one query to a deployment, kept only while
    ``SOBERANA_SERVING_LOG_CONTENT`` is on. The text lives in an encrypted blob under a data
    key of its own, a child of the model version's key: deleting the training data shreds the
    logged queries too. Owners read it with a reason (``services.read_query_content``)."""

    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="query_contents"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    caller = models.CharField(max_length=40, help_text="key:<id>, token:<id> or user:<id>")
    endpoint = models.CharField(max_length=32)
    data_key = models.ForeignKey("vault.DataKey", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]


class RateWindow(models.Model):
    """Requests of one caller in one minute, for the requests-per-minute limit."""

    caller = models.CharField(max_length=40)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["caller", "window_start"], name="one_rate_window")
        ]
