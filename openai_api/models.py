"""OpenAI-style fine-tuning jobs.

``FineTuneJob`` is the OpenAI-shaped job: it waits in ``validating_files`` until its training
file is approved, then points at the real ``TrainingJob`` whose status it reports::

    validating_files ──(file approved)──▶ submitted (status read from the TrainingJob)
          │  └──(file failed or deleted, or the job is refused)──▶ failed
          └──(cancel)──▶ cancelled

The model moved here from ``serving``: migration ``0001_initial`` takes over its table (renamed
from ``serving_finetunejob``, rows kept) and content type.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Project
from datasets_app.models import Dataset
from serving.models import Deployment
from trainer.models import BaseModel, TrainingJob


class FineTuneStatus(models.TextChoices):
    VALIDATING_FILES = "validating_files"
    SUBMITTED = "submitted"
    FAILED = "failed"
    CANCELLED = "cancelled"


class FineTuneJob(models.Model):
    """A fine-tuning job created through ``/v1/fine_tuning/jobs``. See the module docstring."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="fine_tunes")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    training_file = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="+")
    validation_file = models.ForeignKey(
        Dataset, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    base_model = models.ForeignKey(BaseModel, null=True, on_delete=models.PROTECT)
    method = models.CharField(max_length=16, default="lora")
    method_type = models.CharField(max_length=16, default="supervised")
    requested_hyperparameters = models.JSONField(default=dict, blank=True)
    suffix = models.CharField(max_length=64, blank=True)
    seed = models.IntegerField(default=1234)
    status = models.CharField(
        max_length=16, choices=FineTuneStatus.choices, default=FineTuneStatus.VALIDATING_FILES
    )
    error = models.TextField(blank=True)
    error_param = models.CharField(max_length=64, blank=True)
    training_job = models.OneToOneField(
        TrainingJob, null=True, blank=True, on_delete=models.PROTECT, related_name="fine_tune"
    )
    deployment = models.ForeignKey(
        Deployment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"ftjob-{self.pk}"
