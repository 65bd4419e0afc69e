"""Datasets, their immutable approved versions, and PII findings awaiting review.

Dataset status machine::

    processing ──(ingestion ok)──▶ needs_review ──(steward approves)──▶ approved
        │                               │
        └──(bad input / error)──▶ failed ◀──(approval error)

    any state ──(owner or steward deletes: keys crypto-shredded)──▶ deleted

While ``processing``, the ingestion lease says which worker may write (``ingest_lease``)::

    unclaimed (owner "") ──(claim: UPDATE ... WHERE owner='' OR expires < now)──▶ owned
        ▲                                       │ renewed every few seconds while it runs
        │                                       ├──(ends: needs_review / failed, fenced)
        └──(sweeper: lease expired, or never claimed for a lease; message re-sent)
                            └──(sweeper, after INGEST_MAX_ATTEMPTS claims)──▶ failed

``ingest_lease_expires_at`` is the owned lease's deadline; on an unclaimed dataset it is when the
sweeper may re-send the message again (null: never re-sent). ``ingest_attempts`` counts claims.

Record text never lives in the database: records are encrypted blobs under the dataset's data
key, and findings store offsets, types and a keyed digest of the value, never the value.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Project
from vault.models import DataKey


class DatasetStatus(models.TextChoices):
    PROCESSING = "processing"
    NEEDS_REVIEW = "needs_review"
    APPROVED = "approved"
    FAILED = "failed"
    DELETED = "deleted"


class Dataset(models.Model):
    """An upload and everything derived from it until approval."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=16, choices=DatasetStatus.choices, default=DatasetStatus.PROCESSING
    )
    error = models.TextField(blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    source_name = models.CharField(max_length=255)
    source_format = models.CharField(max_length=16, blank=True)
    raw_key = models.ForeignKey(DataKey, on_delete=models.PROTECT, related_name="+")
    data_key = models.ForeignKey(
        DataKey, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    raw_sha256 = models.CharField(max_length=64)
    raw_size = models.BigIntegerField(default=0)
    options = models.JSONField(default=dict, blank=True)
    parse_report = models.JSONField(default=dict, blank=True)
    cleaning_report = models.JSONField(default=dict, blank=True)
    pii_summary = models.JSONField(default=dict, blank=True)
    record_count = models.IntegerField(default=0)
    languages = models.JSONField(default=dict, blank=True)
    purpose = models.CharField(max_length=32, default="training", blank=True)
    # Ingestion lease (see the module docstring): "<worker>:<random hex>" of the owning worker.
    ingest_lease_owner = models.CharField(max_length=64, blank=True)
    ingest_lease_expires_at = models.DateTimeField(null=True, blank=True)
    ingest_attempts = models.PositiveIntegerField(default=0)
    # The poisoning screen's report (version, settings, counts per detector and per source,
    # memory notes) and the records dropped at ingestion because their source is blocked.
    # Source keys only, never record text (datasets_app.provenance).
    screen_summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def latest_version(self) -> DatasetVersion | None:
        return self.versions.order_by("-number").first()


class DatasetVersion(models.Model):
    """An approved, immutable, content-hashed snapshot of redacted records with splits."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    data_key = models.ForeignKey(DataKey, on_delete=models.PROTECT, related_name="+")
    content_hash = models.CharField(max_length=64)
    record_count = models.IntegerField()
    split_counts = models.JSONField(default=dict)
    record_kinds = models.JSONField(default=dict)
    token_stats = models.JSONField(default=dict, blank=True)
    lineage = models.JSONField(default=dict)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["dataset", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "number"], name="unique_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.dataset.name} v{self.number}"

    @property
    def project(self) -> Project:
        return self.dataset.project


class Decision(models.TextChoices):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Finding(models.Model):
    """A detected span of personal data or a secret in one field of one record."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="findings")
    record_index = models.IntegerField()
    field = models.CharField(max_length=64, default="text")
    start = models.IntegerField()
    end = models.IntegerField()
    entity_type = models.CharField(max_length=40, db_index=True)
    score = models.FloatField()
    recognizer = models.CharField(max_length=80, blank=True)
    value_digest = models.CharField(max_length=32, blank=True, db_index=True)
    decision = models.CharField(
        max_length=10, choices=Decision.choices, default=Decision.PENDING, db_index=True
    )
    added_by_reviewer = models.BooleanField(default=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["record_index", "field", "start"]
        indexes = [
            models.Index(fields=["dataset", "decision"]),
            # Range reads by record: ingestion's consistency pass, the review workspace.
            models.Index(fields=["dataset", "record_index"]),
        ]

    def __str__(self) -> str:
        return f"{self.entity_type} in record {self.record_index}"


class ChunkedUpload(models.Model):
    """A resumable upload in progress: chunks arrive one by one, each encrypted on arrival.

    ``upload_key`` is the key the assembled raw blob is written under (it becomes the dataset's
    ``raw_key``); ``chunks`` maps a chunk index (as a string) to ``{"key": <DataKey id>,
    "size": <bytes>}``, each chunk being its own blob under its own child key of ``upload_key``.
    ``dataset`` is set on completion; until then ``touched_at`` says when it last moved.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    filename = models.CharField(max_length=255)
    total_size = models.BigIntegerField()
    chunk_size = models.IntegerField()
    upload_key = models.ForeignKey(DataKey, on_delete=models.PROTECT, related_name="+")
    chunks = models.JSONField(default=dict, blank=True)
    dataset = models.ForeignKey(
        Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Start and each stored chunk; uploads idle past SOBERANA_CHUNKED_UPLOAD_TTL_HOURS are
    # discarded (chunked.discard_abandoned_uploads).
    touched_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"upload of {self.filename}"

    @property
    def chunk_count(self) -> int:
        """How many chunks make the whole file (at least one)."""
        return max(1, -(-self.total_size // self.chunk_size))

    @property
    def received_bytes(self) -> int:
        return sum(int(c["size"]) for c in self.chunks.values())

    def expected_size(self, index: int) -> int:
        """Bytes chunk ``index`` must hold: ``chunk_size`` except for the last one."""
        if index == self.chunk_count - 1:
            return self.total_size - index * self.chunk_size
        return self.chunk_size


class SourceTrust(models.TextChoices):
    """How a project treats a source (a provenance source key, ``datasets_app.provenance``):
    trusted (its flooding flags are not raised), untrusted (its records are quarantined at
    ingestion until a steward dismisses that flag), blocked (its records are dropped at
    ingestion and counted)."""

    TRUSTED = "trusted"
    UNTRUSTED = "untrusted"
    BLOCKED = "blocked"


class SourceRule(models.Model):
    """A steward's trust decision about one source of one project. ``source`` is a source key:
    a system or file name, ``email:<domain>`` or ``uploader:<username>``, never an address or
    record text (see ``datasets_app.provenance``)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="source_rules")
    source = models.CharField(max_length=200)
    trust = models.CharField(max_length=10, choices=SourceTrust.choices)
    note = models.CharField(max_length=500, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["project", "source"]
        constraints = [
            models.UniqueConstraint(fields=["project", "source"], name="unique_source_rule")
        ]

    def __str__(self) -> str:
        return f"{self.source}: {self.trust}"


class RiskDecision(models.TextChoices):
    PENDING = "pending"
    ACCEPTED = "accepted"  # the risk is real: the record is dropped or quarantined
    DISMISSED = "dismissed"  # a false alarm: the record stays


class RiskAction(models.TextChoices):
    """What an accepted flag does to its record; either way it never reaches a version."""

    DROP = "drop"
    QUARANTINE = "quarantine"  # kept in the dataset's records for investigation


class RiskFlag(models.Model):
    """One screen detector's flag about one record (``datasets_app.pipeline.screen``).

    Plain columns never quote data: ``reason`` is the detector's data-free reason, ``group``
    a hash shared by one pattern's flags, ``source`` the record's source key. The evidence
    that quotes the record (hidden characters escaped) is line ``evidence_line`` of the
    encrypted ``risk_evidence.jsonl`` blob under the dataset's records key."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="risk_flags")
    record_index = models.IntegerField()
    detector = models.CharField(max_length=32, db_index=True)
    reason = models.CharField(max_length=300)
    score = models.FloatField()
    field = models.CharField(max_length=64, blank=True)
    group = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=200, blank=True, db_index=True)
    evidence_line = models.IntegerField(null=True, blank=True)
    decision = models.CharField(
        max_length=10, choices=RiskDecision.choices, default=RiskDecision.PENDING, db_index=True
    )
    action = models.CharField(
        max_length=10, choices=RiskAction.choices, default=RiskAction.QUARANTINE
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["record_index", "detector", "field"]
        indexes = [
            models.Index(fields=["dataset", "decision"]),
            models.Index(fields=["dataset", "record_index"]),
        ]

    def __str__(self) -> str:
        return f"{self.detector} flag on record {self.record_index}"


class DataRiskPolicy(models.Model):
    """A project's rule for data risk at approval: with ``require_no_pending_risk_flags``
    a dataset with a pending risk flag cannot be approved (409 naming the setting)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="+")
    require_no_pending_risk_flags = models.BooleanField(default=False)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"data risk policy of {self.project}"
