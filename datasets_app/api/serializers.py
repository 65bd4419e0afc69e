"""Serializers for the datasets API: validation only, no business logic."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from datasets_app.models import (
    Dataset,
    DatasetVersion,
    Decision,
    Finding,
    RiskAction,
    RiskDecision,
    RiskFlag,
    SourceRule,
    SourceTrust,
)

# Character offsets are stored in IntegerFields: 32 bits on PostgreSQL. A larger one would fail
# in the database (a server error) instead of being refused here.
MAX_OFFSET = 2**31 - 1


class DatasetVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = DatasetVersion
        fields = [
            "id",
            "number",
            "content_hash",
            "record_count",
            "split_counts",
            "record_kinds",
            "token_stats",
            "lineage",
            "approved_at",
        ]


class DatasetSerializer(serializers.ModelSerializer):
    # None until the first approval.
    latest_version = DatasetVersionSerializer(read_only=True, allow_null=True)
    pending_findings = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = [
            "id",
            "project",
            "name",
            "status",
            "error",
            "ingest_attempts",
            "created_at",
            "source_name",
            "source_format",
            "raw_sha256",
            "raw_size",
            "record_count",
            "languages",
            "parse_report",
            "cleaning_report",
            "pii_summary",
            "screen_summary",
            "pending_findings",
            "latest_version",
            "options",
        ]

    def get_pending_findings(self, obj: Dataset) -> int:
        return obj.findings.filter(decision=Decision.PENDING).count()


class DatasetUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The data file (encrypted as it arrives).")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    project = serializers.IntegerField(required=False)
    # Multipart forms carry options as a JSON string, hence binary=True (parse it).
    options = serializers.JSONField(required=False, binary=True)

    def validate_options(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value


class FindingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Finding
        fields = [
            "id",
            "record_index",
            "field",
            "start",
            "end",
            "entity_type",
            "score",
            "recognizer",
            "value_digest",
            "decision",
            "added_by_reviewer",
            "decided_at",
        ]


class CleaningExampleSerializer(serializers.Serializer):
    """A change (``before``/``after``) or a drop (``dropped``/``reason``); excerpts of raw text."""

    before = serializers.CharField(required=False)
    after = serializers.CharField(required=False)
    dropped = serializers.CharField(required=False)
    reason = serializers.CharField(required=False)
    source = serializers.CharField(help_text="File and line (or row) the record came from.")


class CleaningStepSerializer(serializers.Serializer):
    name = serializers.CharField()
    changed = serializers.IntegerField()
    dropped = serializers.IntegerField()
    examples = CleaningExampleSerializer(many=True)


class CleaningExamplesSerializer(serializers.Serializer):
    steps = CleaningStepSerializer(many=True)


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=[Decision.ACCEPTED, Decision.REJECTED, "accept", "reject"]
    )
    start = serializers.IntegerField(required=False, min_value=0, max_value=MAX_OFFSET)
    end = serializers.IntegerField(required=False, min_value=1, max_value=MAX_OFFSET)

    def validate_decision(self, value: str) -> str:
        return {"accept": Decision.ACCEPTED, "reject": Decision.REJECTED}.get(value, value)


class BulkDecisionSerializer(DecisionSerializer):
    entity_types = serializers.ListField(child=serializers.CharField(), required=False)
    min_score = serializers.FloatField(required=False, min_value=0, max_value=1)
    max_score = serializers.FloatField(required=False, min_value=0, max_value=1)


class NewFindingSerializer(serializers.Serializer):
    record_index = serializers.IntegerField(min_value=0)
    field = serializers.CharField(default="text")
    start = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET)
    end = serializers.IntegerField(min_value=1, max_value=MAX_OFFSET)
    entity_type = serializers.CharField(max_length=40)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": "must be greater than start"})
        return attrs


class UploadStartSerializer(serializers.Serializer):
    filename = serializers.CharField(max_length=255)
    total_size = serializers.IntegerField(min_value=1, help_text="Size of the whole file in bytes.")
    project = serializers.IntegerField(required=False)
    chunk_size = serializers.IntegerField(
        required=False, help_text="Bytes per chunk (the last one holds the rest); 8 MiB by default."
    )


class UploadStateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    filename = serializers.CharField()
    total_size = serializers.IntegerField()
    chunk_size = serializers.IntegerField()
    chunk_count = serializers.IntegerField()
    received = serializers.ListField(child=serializers.IntegerField())
    received_bytes = serializers.IntegerField()
    missing = serializers.ListField(child=serializers.IntegerField())
    dataset = serializers.IntegerField(allow_null=True)
    complete = serializers.BooleanField()


class UploadCompleteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    options = serializers.JSONField(required=False)

    def validate_options(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value


class ReidentificationSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text="Why you need the original values.")
    version = serializers.IntegerField(required=False, min_value=1)


class RiskFlagSerializer(serializers.ModelSerializer):
    """A data-risk flag; its fields never quote data (evidence is separate, on request)."""

    class Meta:
        model = RiskFlag
        fields = [
            "id",
            "record_index",
            "detector",
            "reason",
            "score",
            "field",
            "group",
            "source",
            "decision",
            "action",
            "decided_at",
        ]


class RiskFlagWithEvidenceSerializer(RiskFlagSerializer):
    """A flag with its evidence: record text with hidden characters escaped (raw data)."""

    evidence = serializers.CharField(read_only=True)

    class Meta(RiskFlagSerializer.Meta):
        fields = [*RiskFlagSerializer.Meta.fields, "evidence"]


class RiskDecisionSerializer(serializers.Serializer):
    """Decide the flags matching every filter given (none: every pending flag)."""

    decision = serializers.ChoiceField(choices=RiskDecision.choices)
    action = serializers.ChoiceField(choices=RiskAction.choices, default=RiskAction.QUARANTINE)
    detector = serializers.CharField(required=False, max_length=32)
    source = serializers.CharField(required=False, max_length=200)
    group = serializers.CharField(required=False, max_length=64)
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=10_000
    )


class SourceSummarySerializer(serializers.Serializer):
    source = serializers.CharField()
    trust = serializers.CharField()
    records = serializers.IntegerField()
    blocked = serializers.IntegerField()
    flags = serializers.DictField(child=serializers.IntegerField())
    decisions = serializers.DictField(child=serializers.IntegerField())


class SourceRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = SourceRule
        fields = ["source", "trust", "note", "updated_at"]


class SourceRuleUpdateSerializer(serializers.Serializer):
    """Mark a source; ``unmarked`` removes its rule."""

    source = serializers.CharField(max_length=200)
    trust = serializers.ChoiceField(choices=[*SourceTrust.values, "unmarked"])
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class DataRiskPolicySerializer(serializers.Serializer):
    require_no_pending_risk_flags = serializers.BooleanField()
