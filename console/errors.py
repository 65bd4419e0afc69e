"""Django's 404 handler (``platform_site.urls.handler404``): a URL no route matches answers in
the error shape of the API it is under, since clients parse JSON there; pages get the usual
404 page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from openai_api.errors import unknown_url
from ops.api import not_found as api_or_page_not_found


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """OpenAI's error object under ``/v1/``, the API's envelope under ``/api/``, else a page."""
    if request.path.startswith("/v1/"):
        return unknown_url(request)
    return api_or_page_not_found(request, exception)
