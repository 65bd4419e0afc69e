"""The playground page and the browser's way into /v1: the session, with CSRF enforced."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _signed_in(user: Any) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_playground_page_has_no_inline_script_and_sets_the_csrf_cookie(cast: Any) -> None:
    response = _signed_in(cast.viewer).get("/playground/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<script src="/static/js/playground.js"></script>' in html
    assert "<script>" not in html and "style=" not in html
    assert "csrftoken" in response.cookies


def test_anonymous_visitor_is_sent_to_sign_in() -> None:
    response = Client().get("/playground/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_session_chat_streams_with_the_csrf_token_and_is_refused_without(
    cast: Any, tiny_base_model: Any
) -> None:
    client = _signed_in(cast.viewer)
    token = client.get("/playground/").cookies["csrftoken"].value
    body = {
        "model": "tiny",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 3,
        "stream": True,
    }
    refused = client.post("/v1/chat/completions", body, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    response = client.post(
        "/v1/chat/completions", body, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 200 and response.streaming
    events = b"".join(response.streaming_content).decode().strip().split("\n\n")
    assert events[-1] == "data: [DONE]"
    assert '"object":"chat.completion.chunk"' in events[0]


def test_session_lists_models_and_usage_page_shows_the_query(
    cast: Any, tiny_base_model: Any
) -> None:
    client = _signed_in(cast.engineer)
    token = client.get("/playground/").cookies["csrftoken"].value
    assert client.get("/v1/models").json()["data"][0]["id"] == "tiny"
    client.post(
        "/v1/completions",
        {"model": "tiny", "prompt": "hi", "max_tokens": 2},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    page = client.get("/usage/")
    assert page.status_code == 200 and b"<code>tiny</code>" in page.content
