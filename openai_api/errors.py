"""Errors of the OpenAI-compatible API, shaped as OpenAI clients expect them.

Every error body is ``{"error": {"message", "type", "param", "code"}}``. ``exception_handler``
maps DRF errors and our service exceptions onto it; views under ``/v1/`` install it instead of
the native API's envelope.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from accounts.services import PermissionDenied

logger = logging.getLogger(__name__)


class OpenAIError(Exception):
    """An error answered to the client as is."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 400,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def bad_request(message: str, param: str | None = None, code: str | None = None) -> OpenAIError:
    return OpenAIError(message, param=param, code=code)


def model_not_found(name: str) -> OpenAIError:
    return OpenAIError(
        f"The model `{name}` does not exist or you do not have access to it.",
        status_code=404,
        param="model",
        code="model_not_found",
    )


def not_found(message: str, param: str | None = None) -> OpenAIError:
    return OpenAIError(message, status_code=404, param=param, code="not_found")


def unknown_url(request: HttpRequest) -> JsonResponse:
    """The answer to a ``/v1/`` URL no route matches (``console.errors.not_found``)."""
    error = not_found(f"Unknown URL: {request.method} {request.path}")
    return JsonResponse(error.body(), status=error.status_code)


def rate_limited(limit: int, retry_after: int) -> OpenAIError:
    return OpenAIError(
        f"Rate limit reached: {limit} requests per minute. Try again in {retry_after}s.",
        status_code=429,
        type="requests",
        code="rate_limit_exceeded",
        headers={"Retry-After": str(retry_after)},
    )


def context_length_exceeded(limit: int, prompt: int, requested: int | None) -> OpenAIError:
    asked = f"{prompt} in the prompt"
    if requested:
        asked += f" and {requested} in the completion"
    return OpenAIError(
        f"This model's maximum context length is {limit} tokens. However, you requested "
        f"{prompt + (requested or 0)} tokens ({asked}). Please reduce the length.",
        param="messages",
        code="context_length_exceeded",
    )


def response_for(error: OpenAIError) -> Response:
    response = Response(error.body(), status=error.status_code)
    for name, value in error.headers.items():
        response[name] = value
    return response


def _from_drf(exc: exceptions.APIException) -> OpenAIError:
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        message = (
            "Incorrect API key provided."
            if isinstance(exc, exceptions.AuthenticationFailed)
            else "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'."
        )
        return OpenAIError(message, status_code=401, code="invalid_api_key")
    if isinstance(exc, exceptions.PermissionDenied):
        return OpenAIError(str(exc.detail), status_code=403, code="permission_denied")
    if isinstance(exc, exceptions.NotFound):
        return not_found(str(exc.detail))
    if isinstance(exc, exceptions.MethodNotAllowed):
        return OpenAIError(str(exc.detail), status_code=405, code="method_not_allowed")
    if isinstance(exc, exceptions.Throttled):
        return rate_limited(0, int(exc.wait or 60))
    if isinstance(exc, exceptions.ParseError):
        return bad_request(f"We could not parse the JSON body of your request. ({exc.detail})")
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return OpenAIError(str(exc.detail), status_code=415, code="unsupported_media_type")
    return OpenAIError(_message(exc.detail), status_code=exc.status_code)


def _message(detail: Any) -> str:
    if isinstance(detail, dict):
        field, value = next(iter(detail.items()), ("", ""))
        return f"{field}: {_message(value)}" if field else "Invalid request."
    if isinstance(detail, list):
        return _message(detail[0]) if detail else "Invalid request."
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Every exception raised by a ``/v1/`` view becomes an OpenAI error response."""
    if isinstance(exc, OpenAIError):
        error = exc
    elif isinstance(exc, PermissionDenied):
        error = OpenAIError(
            "Your role in this project does not allow this action.",
            status_code=403,
            code="permission_denied",
        )
    elif isinstance(exc, Http404):
        error = not_found("Not found.")
    elif isinstance(exc, RequestDataTooBig):
        error = OpenAIError("The request body is too large.", status_code=413)
    elif isinstance(exc, exceptions.APIException):
        error = _from_drf(exc)
    else:
        logger.exception("unexpected error in the OpenAI-compatible API")
        error = OpenAIError(
            "The server had an error while processing your request.",
            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
            type="server_error",
        )
    response = response_for(error)
    if error.status_code == 401:
        response["WWW-Authenticate"] = 'Bearer realm="soberana"'
    return response
