"""Consistent JSON error bodies for the REST API: ``{"error": {"code", "message", "detail"}}``."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ops.errors import ActionDenied, InvalidField, StateConflict


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object is not in a state that allows this."
    default_code = "conflict"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map service exceptions to 4xx and wrap every error in the same envelope."""
    if isinstance(exc, ActionDenied):
        # Objects outside the caller's projects are already 404 (querysets are scoped by
        # membership); this is a member whose role does not allow the action.
        exc = exceptions.PermissionDenied("Your role in this project does not allow this action.")
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.messages)
    elif isinstance(exc, StateConflict):
        exc = Conflict(str(exc))
    elif isinstance(exc, InvalidField):
        exc = exceptions.ValidationError({exc.field: [exc.message]})
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, SuspiciousOperation):
        exc = _refused_request(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    message = _message_from(detail)
    code = getattr(exc, "default_code", "error")
    response.data = {"error": {"code": code, "message": message, "detail": detail}}
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        response["WWW-Authenticate"] = 'Bearer realm="soberana"'
    return response


def _refused_request(exc: SuspiciousOperation) -> exceptions.APIException:
    """A body Django refuses while parsing it (too many form fields, too large): the API's
    400/413 in its own envelope, logged on Django's security logger as Django would."""
    logging.getLogger(f"django.security.{type(exc).__name__}").warning("%s", exc)
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    return exceptions.ParseError(f"The request was refused: {exc}")


def _message_from(detail: Any) -> str:
    if isinstance(detail, dict):
        if "detail" in detail:
            return str(detail["detail"])
        field, value = next(iter(detail.items()), ("", ""))
        return f"{field}: {_message_from(value)}" if field else "Invalid request."
    if isinstance(detail, list):
        return _message_from(detail[0]) if detail else "Invalid request."
    return str(detail)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The upload is larger than the configured limit (SOBERANA_MAX_UPLOAD_MB)."
    default_code = "payload_too_large"


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A URL no route matches: the error envelope under ``/api/`` (clients parse JSON there),
    the usual page elsewhere. ``console.errors.not_found`` (Django's 404 handler) calls it for
    every path no other API claims."""
    if request.path.startswith("/api/"):
        message = str(exceptions.NotFound.default_detail)
        body = {"error": {"code": "not_found", "message": message, "detail": {"detail": message}}}
        return JsonResponse(body, status=status.HTTP_404_NOT_FOUND)
    return page_not_found(request, exception)
