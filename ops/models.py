"""Worker heartbeats: how /healthz knows which workers are alive, on any broker."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class WorkerHeartbeat(models.Model):
    """Last sign of life of one Celery worker (written every few seconds by a bootstep)."""

    name = models.CharField(max_length=200, unique=True)
    queues = models.CharField(max_length=200, blank=True)
    pid = models.IntegerField(default=0)
    last_seen = models.DateTimeField(default=timezone.now)
    # What the worker can run, measured once when it starts (training workers: GPUs, QLoRA).
    capabilities = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return self.name
