"""Security headers not covered by Django's SecurityMiddleware, and refusal of NUL bytes."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse, JsonResponse

# No inline scripts or styles anywhere: every script is a static file of ours.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


class SecurityHeadersMiddleware:
    """Adds Content-Security-Policy and Permissions-Policy to every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        return response


NUL_MESSAGE = "The request's URL contains a NUL character (%00), which no field accepts."


class RefuseNulMiddleware:
    """Answers 400 to a URL whose path or query string holds a NUL byte.

    PostgreSQL text cannot hold NUL, so such a value reaching a filter or a lookup raised a
    server error (found by the schemathesis run on PostgreSQL: ``?action=%00`` on the audit
    list). No identifier, filter or name of ours can contain one, so the request is refused
    before any view runs, in the error shape of the API it addressed.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "\x00" in unquote(raw):
            return _nul_refusal(request.path)
        return self.get_response(request)


def _nul_refusal(path: str) -> HttpResponse:
    if path.startswith("/v1/"):  # the OpenAI error object
        body: dict[str, object] = {
            "error": {
                "message": NUL_MESSAGE,
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        }
        return JsonResponse(body, status=400)
    if path.startswith("/api/"):  # the native envelope (ops.api)
        detail = {"detail": NUL_MESSAGE}
        return JsonResponse(
            {"error": {"code": "invalid", "message": NUL_MESSAGE, "detail": detail}}, status=400
        )
    return HttpResponse(NUL_MESSAGE, status=400, content_type="text/plain; charset=utf-8")
