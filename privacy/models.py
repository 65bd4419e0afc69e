"""Privacy audits of model versions and the per-project policy that judges them.

A ``PrivacyAudit`` row is one attempt at auditing one model version; re-running creates a new
row (``attempt`` + 1) and leaves the earlier ones as history. The gate and the pages read the
latest row (``latest_audit``). Its state machine, held by ``privacy.lease``::

    queued ──(claim: UPDATE ... WHERE state='queued')──▶ running ──(figures stored)──▶ succeeded
      ▲                                                    │  │
      └──(lease expired; claims < max: the sweeper)────────┘  └──(error, or claims exhausted)──▶ failed

``verdict`` is ``not_run`` until the audit succeeded, then ``passed`` or ``failed`` against the
project's ``PrivacyPolicy`` (``failed_measures`` names what failed). An owner may override a
failed or missing verdict with a written reason (``override_*``), which releases the version.

The row holds numbers only (``figures``); what quotes data (the longest reproduced spans, the
regurgitated outputs) is ``evidence``, an encrypted blob under the model version's data key.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Project
from trainer.models import ModelVersion


class AuditState(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Verdict(models.TextChoices):
    PASSED = "passed"
    FAILED = "failed"
    NOT_RUN = "not_run", "not run"


class PrivacyAudit(models.Model):
    """One attempt at auditing what ``model_version`` memorized. See the module docstring."""

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="privacy_audits"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    attempt = models.PositiveIntegerField(
        default=1, help_text="1 for the first audit, +1 per re-run."
    )
    state = models.CharField(
        max_length=12, choices=AuditState.choices, default=AuditState.QUEUED, db_index=True
    )
    claims = models.PositiveIntegerField(default=0, help_text="Workers that claimed this attempt.")
    lease_owner = models.CharField(max_length=64, blank=True, db_index=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    progress = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, help_text="Why the audit failed, for users.")
    figures = models.JSONField(default=dict, blank=True, help_text="Numbers only, never text.")
    evidence_blob = models.CharField(max_length=120, blank=True)
    thresholds = models.JSONField(
        default=dict, blank=True, help_text="The policy it was judged by."
    )
    verdict = models.CharField(max_length=8, choices=Verdict.choices, default=Verdict.NOT_RUN)
    failed_measures = models.JSONField(default=list, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    override_reason = models.TextField(blank=True)
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    override_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-attempt"]
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "attempt"], name="privacy_one_row_per_attempt"
            )
        ]

    def __str__(self) -> str:
        return f"privacy audit {self.attempt} of model version {self.model_version_id}"

    @property
    def overridden(self) -> bool:
        return self.override_at is not None

    @property
    def releases(self) -> bool:
        """True when this audit lets its version be deployed and exported."""
        return self.verdict == Verdict.PASSED or self.overridden


def latest_audit(version: ModelVersion | int) -> PrivacyAudit | None:
    """The model version's newest audit attempt (the one the gate reads), or None."""
    version_id = version if isinstance(version, int) else version.pk
    return PrivacyAudit.objects.filter(model_version_id=version_id).order_by("-attempt").first()


class PrivacyPolicy(models.Model):
    """A project's thresholds for the audit (owners set them). ``thresholds`` holds only the
    measures an owner changed; the engine's defaults fill the rest (``privacy.policy``)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="privacy_policy")
    thresholds = models.JSONField(default=dict, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"privacy policy of project {self.project_id}"
