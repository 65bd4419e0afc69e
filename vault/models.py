"""Data keys: one per artifact (raw upload, dataset version, job, model), stored only wrapped."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class DataKey(models.Model):
    """A 256-bit data key wrapped by the master key identified by ``master_key_id``.

    Destroying the key (crypto-shredding) erases ``wrapped_key``; every blob encrypted under it
    becomes unreadable, wherever copies of the blob live.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    purpose = models.CharField(max_length=64)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="derived"
    )
    wrapped_key = models.BinaryField(null=True)
    master_key_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.purpose} {self.id}"

    @property
    def artifact_id(self) -> str:
        """The id bound into every wrapped key and blob header encrypted under this key."""
        return str(self.id)

    @property
    def is_destroyed(self) -> bool:
        return self.destroyed_at is not None
