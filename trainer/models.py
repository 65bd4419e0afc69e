"""Base models, training jobs, their events and the model versions they produce.

The ``TrainingJob`` row is the source of truth for a job, not the broker::

    queued ──(claim: conditional UPDATE ... WHERE status='queued')──▶ running
      ▲  │                                                        │  │  │
      │  └──(cancel)──▶ cancelled ◀──(cancel honoured, checkpoint kept)┘  │  │
      │                                                                │  │
      └──(lease expired: worker died; attempts < max)──────────────────┘  │
                                  failed ◀──(error, or attempts exhausted)─┤
                               succeeded ◀──(training done, model version stored)─┘

A worker holds a lease (``lease_owner`` token + ``lease_expires_at``) renewed by a heartbeat.
Every write by the worker is fenced by ``lease_owner``: a worker whose lease was taken over
finds its updates matching zero rows and stops, so two workers never train one job at once.

Evaluation is a task of its own, run after training succeeded; its state lives beside the
job's and never changes the job's ``status``::

    "" ──(training succeeded)──▶ pending ──(claim: UPDATE ... WHERE evaluation_status='pending')
                                                     ▼
                               done ◀──(metrics stored)── running ──(error, or the evaluating
                                                                    worker stopped answering)──▶ failed

``evaluation_expires_at`` is when a pending evaluation's message counts as lost (the sweeper
sends it again) and, while running, when its worker counts as dead (renewed by a heartbeat).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Project
from datasets_app.models import DatasetVersion
from vault.models import DataKey


class BaseModel(models.Model):
    """A causal language model on local disk that jobs can start from."""

    name = models.CharField(max_length=120, unique=True)
    path = models.CharField(max_length=500, help_text="Local Hugging Face model directory.")
    architecture = models.CharField(max_length=64, blank=True)
    parameters = models.BigIntegerField(default=0)
    max_seq_len = models.IntegerField(default=2048)
    source = models.CharField(max_length=255, blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def differentially_private(self) -> bool:
        """True when the model was trained with DP-SGD (its guarantee is recorded)."""
        return self.dp_epsilon is not None


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_STATUSES = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}


class EvaluationStatus(models.TextChoices):
    NONE = "", "not evaluated"
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class TrainingJob(models.Model):
    """One training run and its evaluation. See the module docstring for the state machines."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="jobs")
    dataset_version = models.ForeignKey(
        DatasetVersion, on_delete=models.PROTECT, related_name="jobs"
    )
    validation_version = models.ForeignKey(
        DatasetVersion,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="validating_jobs",
        help_text="Validate on this approved version instead of the training version's "
        "validation split (which then trains too).",
    )
    base_model = models.ForeignKey(BaseModel, null=True, on_delete=models.PROTECT)
    method = models.CharField(max_length=16)
    hyperparameters = models.JSONField(default=dict)
    priority = models.IntegerField(default=0)
    status = models.CharField(
        max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.IntegerField(default=0)
    lease_owner = models.CharField(max_length=64, blank=True, db_index=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    progress = models.JSONField(default=dict, blank=True)
    evaluation = models.JSONField(default=dict, blank=True)
    evaluation_status = models.CharField(
        max_length=8, choices=EvaluationStatus.choices, default=EvaluationStatus.NONE, blank=True
    )
    evaluation_error = models.TextField(blank=True, help_text="Why evaluation failed, for users.")
    evaluation_expires_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Reason shown to users.")
    error_detail = models.TextField(blank=True, help_text="Traceback, for admins only.")
    data_key = models.ForeignKey(DataKey, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.method}, {self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def is_settled(self) -> bool:
        """Terminal, and no evaluation still to come: nothing about the job will change."""
        waiting = (EvaluationStatus.PENDING, EvaluationStatus.RUNNING)
        return self.is_terminal and self.evaluation_status not in waiting


class JobEvent(models.Model):
    """A line in a job's history: state changes, metrics, warnings. Never holds record text."""

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=8, default="info")
    kind = models.CharField(max_length=32)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


class ModelVersion(models.Model):
    """A trained adapter or model, stored encrypted, with its lineage."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_versions")
    job = models.OneToOneField(TrainingJob, on_delete=models.PROTECT, related_name="model_version")
    name = models.CharField(max_length=200)
    data_key = models.ForeignKey(DataKey, on_delete=models.PROTECT, related_name="+")
    artifact_dir = models.CharField(max_length=500)
    metrics = models.JSONField(default=dict)
    lineage = models.JSONField(default=dict)
    # Differential privacy (trainer/engine/dp.py): the (epsilon, delta) guarantee the run
    # achieved per training record, None for a model trained without DP; `dp_accounting` says
    # how (noise multiplier, sample rate, steps, accountant, clipping norm, target epsilon).
    dp_epsilon = models.FloatField(null=True, blank=True)
    dp_delta = models.FloatField(null=True, blank=True)
    dp_accounting = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def differentially_private(self) -> bool:
        """True when the model was trained with DP-SGD (its guarantee is recorded)."""
        return self.dp_epsilon is not None
