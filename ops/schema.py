"""The OpenAPI schema's account of errors: every operation lists the error statuses it may
answer, each with the error envelope of its API, so the schema is true for failures too.

Statuses every operation of the native API may answer are added here (``AutoSchema``); the ones
only some operations answer (409, 413, a 400 for a query parameter) are declared on the view
with ``error_responses(...)``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

ERROR_DESCRIPTIONS = {
    400: "The request is invalid: `detail` (or `param`) names what is wrong.",
    401: "No credentials, or a bad, expired or revoked token.",
    403: "The caller's role or the token's scopes do not allow this.",
    404: "No such object, or one outside the caller's projects.",
    409: "The object is not in a state that allows this.",
    413: "The body (or upload) is larger than the configured limit.",
    415: "The body's Content-Type is not one the operation reads.",
    429: "Over the requests-per-minute limit (`Retry-After` says when to try again).",
}
WRITE_METHODS = ("POST", "PUT", "PATCH")


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A stable, machine-readable error code.")
    message = serializers.CharField(help_text="A sentence for people.")
    detail = serializers.JSONField(
        help_text="The full detail: a message, or each invalid field with its messages."
    )


class ApiErrorSerializer(serializers.Serializer):
    """``{"error": {"code", "message", "detail"}}``, the body of every native API error."""

    error = ErrorBodySerializer()


def error_responses(
    *statuses: int, serializer: type[serializers.Serializer] = ApiErrorSerializer
) -> dict[int, OpenApiResponse]:
    """``extend_schema(responses=...)`` entries for the error statuses a view adds."""
    return {
        code: OpenApiResponse(response=serializer, description=ERROR_DESCRIPTIONS[code])
        for code in statuses
    }


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema plus the errors of every operation: 400, 401 and 403 always
    (any URL may be malformed, as one holding a NUL byte, which ``ops.middleware`` refuses
    before a view runs; each view needs a caller and authorizes), 404 where the path names an
    object, 415 where the request has a body to parse."""

    error_serializer: type[serializers.Serializer] = ApiErrorSerializer

    def error_statuses(self) -> set[int]:
        statuses = {400, 401, 403}
        if "{" in self.path:
            statuses.add(404)
        if self.method in WRITE_METHODS and self.get_request_serializer() is not None:
            statuses.add(415)
            statuses.add(413)  # a declared Content-Length above the limit (ops.middleware)
        return statuses

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, response in error_responses(
            *sorted(self.error_statuses()), serializer=self.error_serializer
        ).items():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(
                    response, str(code), direction=direction
                )
        return dict(sorted(responses.items()))
