"""Issue 18 item 9: no caching of sensitive answers; oversized bodies refused unread."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.test import Client


def test_api_answers_and_pages_say_no_store(cast: Any, api_client_for: Any) -> None:
    response = api_client_for(cast.owner).get("/api/v1/projects/")
    assert response["Cache-Control"] == "no-store"
    browser = Client()
    browser.force_login(cast.steward)
    assert browser.get("/").headers["Cache-Control"] == "no-store"
    token = api_client_for(cast.owner).post("/api/v1/tokens/", {"name": "x"}, format="json")
    assert token.status_code == 201 and token["Cache-Control"] == "no-store"


class _Unreadable:
    """A body that fails the test if anything reads it."""

    def read(self, *_: Any) -> bytes:
        raise AssertionError("the body was read")

    readline = read


def test_a_declared_length_above_the_limit_is_refused_before_reading(cast: Any) -> None:
    client = Client()
    client.force_login(cast.steward)
    too_big = settings.MAX_UPLOAD_BYTES + 10 * 1024 * 1024
    for path, content_type in (
        ("/api/v1/datasets/", "multipart/form-data; boundary=x"),
        ("/api/v1/projects/", "application/json"),
        ("/v1/chat/completions", "application/json"),
    ):
        response = client.generic(
            "POST",
            path,
            data=b"",
            content_type=content_type,
            CONTENT_LENGTH=str(too_big),
            **{"wsgi.input": _Unreadable()},
        )
        assert response.status_code == 413, (path, response.content)
