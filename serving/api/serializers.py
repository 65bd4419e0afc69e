"""Serializers of the native deployments API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from serving.models import Deployment, DeploymentKey, UsageDay


@extend_schema_field(serializers.ChoiceField(choices=["active", "stopped", "shredded"]))
class _DeploymentStatusField(serializers.Field):
    """``shredded`` when the model version's data key was destroyed (its weights can no longer
    be read, whatever the row's status says), else the row's status."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, deployment: Deployment) -> str:
        key = deployment.model_version.data_key
        return "shredded" if key.is_destroyed else deployment.status


class DeploymentSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    status = _DeploymentStatusField()

    class Meta:
        model = Deployment
        fields = [
            "id",
            "project",
            "model_version",
            "model_name",
            "suffix",
            "status",
            "pii_filter",
            "created_by",
            "created_at",
            "stopped_at",
        ]
        read_only_fields = fields


class DeploymentCreateSerializer(serializers.Serializer):
    model_version = serializers.IntegerField()
    suffix = serializers.CharField(required=False, allow_blank=True, default="", max_length=40)
    pii_filter = serializers.BooleanField(required=False, default=False)


class DeploymentUpdateSerializer(serializers.Serializer):
    pii_filter = serializers.BooleanField()


class DeploymentKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = DeploymentKey
        fields = [
            "id",
            "name",
            "prefix",
            "scopes",
            "rate_limit_rpm",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
        ]
        read_only_fields = fields


class DeploymentKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, default="key", max_length=120)
    rate_limit_rpm = serializers.IntegerField(
        required=False, default=60, min_value=1, max_value=100_000
    )
    expires_in_days = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=3650
    )


class IssuedKeySerializer(DeploymentKeySerializer):
    key = serializers.CharField(read_only=True, help_text="Shown once; only its hash is kept.")

    class Meta(DeploymentKeySerializer.Meta):
        fields = [*DeploymentKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class UsageDaySerializer(serializers.ModelSerializer):
    key_prefix = serializers.CharField(source="key.prefix", read_only=True, default=None)
    token_prefix = serializers.CharField(source="token.prefix", read_only=True, default=None)
    username = serializers.CharField(source="user.username", read_only=True, default=None)

    class Meta:
        model = UsageDay
        fields = [
            "day",
            "caller",
            "model_name",
            "deployment",
            "key",
            "key_prefix",
            "token_prefix",
            "username",
            "requests",
            "prompt_tokens",
            "completion_tokens",
        ]
        read_only_fields = fields


class ModelExportSerializer(serializers.Serializer):
    model_version = serializers.IntegerField()
    password = serializers.CharField(write_only=True, help_text="Your password, typed again.")
    format = serializers.ChoiceField(choices=["encrypted", "plain"], default="encrypted")
    passphrase = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        write_only=True,
        help_text="Encrypts the bundle (at least 12 characters).",
    )
    weights = serializers.ChoiceField(
        choices=["safetensors", "gguf"],
        default="safetensors",
        help_text="safetensors (Hugging Face folder) or gguf (one F16 file for llama.cpp and "
        "Ollama; Llama-architecture models only).",
    )


class QueryContentRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=500, help_text="Why you need to read what callers asked (audited)."
    )
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=500)
