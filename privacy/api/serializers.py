"""Shapes of the privacy audit, its override and the project's privacy policy."""

from __future__ import annotations

from rest_framework import serializers

from privacy.models import PrivacyAudit


class OverrideSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=2000,
        help_text="Why this model version may be deployed and exported despite its audit. "
        "Shown with the audit (API, job page); audited.",
    )


class PrivacyAuditSerializer(serializers.ModelSerializer):
    """The newest audit attempt of a model version. ``evidence`` (quotes of training data) is
    filled for data stewards only, null for everyone else."""

    id = serializers.IntegerField(read_only=True, allow_null=True, help_text="Null: never audited.")
    state = serializers.CharField(
        read_only=True,
        help_text="queued, running, succeeded or failed (could not run: see error); "
        "empty when the version was never audited.",
    )
    verdict = serializers.CharField(
        read_only=True,
        help_text="passed, failed (failed_measures names what) or not_run.",
    )
    evidence = serializers.SerializerMethodField(
        help_text="Longest reproduced spans and regurgitated outputs: data stewards only."
    )
    override = serializers.SerializerMethodField()
    releases = serializers.BooleanField(
        read_only=True, help_text="True when the version may be deployed and exported."
    )

    class Meta:
        model = PrivacyAudit
        fields = [
            "id",
            "model_version",
            "attempt",
            "state",
            "progress",
            "error",
            "verdict",
            "failed_measures",
            "figures",
            "thresholds",
            "releases",
            "override",
            "evidence",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_evidence(self, obj: PrivacyAudit) -> dict | None:
        return self.context.get("evidence")

    def get_override(self, obj: PrivacyAudit) -> dict | None:
        if obj.override_at is None:
            return None
        by = obj.override_by.get_username() if obj.override_by else ""
        return {"reason": obj.override_reason, "by": by, "at": obj.override_at.isoformat()}


class PrivacyPolicySerializer(serializers.Serializer):
    project = serializers.IntegerField(read_only=True)
    thresholds = serializers.DictField(
        child=serializers.FloatField(),
        help_text="Measure name: the largest figure that still passes. PATCH changes only the "
        "measures it names.",
    )
    defaults = serializers.DictField(child=serializers.FloatField(), read_only=True)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)


class PrivacyPolicyUpdateSerializer(serializers.Serializer):
    thresholds = serializers.JSONField(
        help_text="An object of measure name: a number (not negative)."
    )
