"""Security headers not covered by Django's SecurityMiddleware, and refusal of NUL bytes,
of JSON bodies nested too deep and of strings holding lone UTF-16 surrogates."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse, JsonResponse

# No inline scripts or styles anywhere: every script is a static file of ours.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


STATIC_PREFIXES = ("/static/",)


class SecurityHeadersMiddleware:
    """Adds Content-Security-Policy and Permissions-Policy to every response, and
    ``Cache-Control: no-store`` to every response but static files (unless the view set its
    own Cache-Control)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(STATIC_PREFIXES):
            # API answers and pages carry raw text, tokens, keys and re-identification maps:
            # no browser, proxy or disk cache may keep them.
            response.headers.setdefault("Cache-Control", "no-store")
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
    return refusal(path, NUL_MESSAGE)


def refusal(path: str, message: str, status: int = 400) -> HttpResponse:
    """A refusal in the error shape of the API ``path`` addressed (OpenAI's under /v1/, the
    native envelope under /api/, plain text elsewhere)."""
    if path.startswith("/v1/"):  # the OpenAI error object
        body: dict[str, object] = {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        }
        return JsonResponse(body, status=status)
    if path.startswith("/api/"):  # the native envelope (ops.api)
        code = "invalid" if status == 400 else "payload_too_large"
        detail = {"detail": message}
        return JsonResponse(
            {"error": {"code": code, "message": message, "detail": detail}}, status=status
        )
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in ``body`` (strings skipped), without
    parsing it: a parser recursing 1,000 levels raises RecursionError (a server error)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub(b'""', body)):
        depth += 1 if match[0] in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def has_lone_surrogate(value: Any) -> bool:
    """Whether a parsed JSON value holds a string with an unpaired UTF-16 surrogate (valid
    pairs were joined by the parser, so any surrogate code point left is alone)."""
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(has_lone_surrogate(k) or has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_lone_surrogate(v) for v in value)
    return False


class RefuseHostileJsonMiddleware:
    """Answers 400 to a JSON body nested deeper than MAX_JSON_DEPTH or holding a lone
    surrogate (which cannot be encoded as UTF-8: it raised deep inside tokenizers and
    database drivers), before any view parses it. Bodies too large to hold in memory are
    left to the views, which refuse them on their own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = self._problem(request)
        if problem:
            return refusal(request.path, problem)
        return self.get_response(request)

    @staticmethod
    def _problem(request: HttpRequest) -> str:
        from django.conf import settings

        if "json" not in request.META.get("CONTENT_TYPE", ""):
            return ""
        length = request.META.get("CONTENT_LENGTH") or ""
        if not length.isdigit() or int(length) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return ""
        body = request.body
        if json_depth(body) > MAX_JSON_DEPTH:
            return f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels."
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):
            return ""  # malformed: the view's parser answers with its own message
        if has_lone_surrogate(parsed):
            return "The JSON body holds a lone UTF-16 surrogate (such as \\ud800)."
        return ""


# Room for multipart framing and form fields around the largest allowed file.
MULTIPART_OVERHEAD = 1024 * 1024


def body_limit(content_type: str) -> int:
    """The largest body a request of ``content_type`` may declare: the upload limit
    (SOBERANA_MAX_UPLOAD_MB) plus framing for files and chunks, Django's in-memory limit for
    everything else (JSON, forms)."""
    from django.conf import settings

    if content_type.startswith(("multipart/", "application/octet-stream")):
        return settings.MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class RefuseOversizedBodyMiddleware:
    """Answers 413 to a request whose declared Content-Length is above the limit, before a
    byte of its body is read (a client announcing 50 GB is not read for minutes first)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = request.META.get("CONTENT_LENGTH") or ""
        limit = body_limit(request.META.get("CONTENT_TYPE", ""))
        if length.isdigit() and int(length) > limit:
            message = f"The request body is larger than the limit of {limit} bytes."
            return refusal(request.path, message, status=413)
        return self.get_response(request)
