"""OpenAPI description of the OpenAI-shaped errors of ``/v1/`` (drf-spectacular)."""

from typing import Any

from rest_framework import serializers

from ops.schema import AutoSchema, error_responses


class OpenAIErrorBodySerializer(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField(help_text="invalid_request_error, requests or server_error.")
    param = serializers.CharField(allow_null=True, help_text="The offending parameter, if any.")
    code = serializers.CharField(allow_null=True, help_text="e.g. model_not_found, or null.")


class OpenAIErrorSerializer(serializers.Serializer):
    """``{"error": {"message", "type", "param", "code"}}``, as the OpenAI clients expect."""

    error = OpenAIErrorBodySerializer()


class OpenAIAutoSchema(AutoSchema):
    """The ``/v1/`` operations: OpenAI-shaped errors. Any body may be too large (413); bodies
    are read as JSON whatever their Content-Type, so no 415 unless a view declares it."""

    error_serializer = OpenAIErrorSerializer

    def error_statuses(self) -> set[int]:
        statuses = super().error_statuses() - {415}
        if 400 in statuses:
            statuses.add(413)
        return statuses


def openai_error_responses(*statuses: int) -> dict[int, Any]:
    """``extend_schema(responses=...)`` entries for the errors a ``/v1/`` view adds."""
    return error_responses(*statuses, serializer=OpenAIErrorSerializer)
