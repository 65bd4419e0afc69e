"""The chat playground in a real browser (Debian's Chromium driven by Playwright): a member
picks a model, asks, and the answer streams into the transcript, the same text the API gives,
audited by metadata only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.browser import requires_chromium, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    requires_chromium,
]
QUESTION = "Where is my parcel?"


def _api_answer(client: Any) -> str:
    """The streamed answer of the API to what the playground sends (greedy, 8 tokens)."""
    body = {
        "model": "tiny",
        "messages": [{"role": "user", "content": QUESTION}],
        "stream": True,
        "temperature": 0,
        "max_tokens": 8,
    }
    response = client.post(
        "/v1/chat/completions", data=json.dumps(body), content_type="application/json"
    )
    text = ""
    for event in b"".join(response.streaming_content).decode().split("\n\n"):
        data = event.removeprefix("data: ")
        if event and data != "[DONE]":
            for choice in json.loads(data)["choices"]:
                text += choice["delta"].get("content") or ""
    return text


def test_member_chats_in_the_playground_and_the_answer_streams_in(
    cast: Any, tiny_base_model: Any, live_server: Any, browser_page: Any
) -> None:
    from django.test import Client

    from audit.models import AuditEvent

    page = browser_page
    sign_in(page, live_server.url, "viewer")
    page.goto(f"{live_server.url}/playground/")
    page.wait_for_selector("#pg-model option[value=tiny]", state="attached")
    page.fill("#pg-max-tokens", "8")
    page.fill("#pg-input", QUESTION)
    page.click("#pg-send")
    # The usage line arrives with the last event of the stream (a string predicate would
    # need eval, which the page's Content Security Policy forbids).
    page.locator("#pg-usage", has_text="completion tokens").wait_for()
    turns = page.locator("#pg-transcript li")
    assert turns.count() == 2
    assert page.inner_text("#pg-transcript li.user span") == QUESTION
    shown = page.locator("#pg-transcript li.assistant span").text_content()
    session = Client()
    session.force_login(cast.viewer)
    assert shown == _api_answer(session)
    event = AuditEvent.objects.filter(action="inference.query", actor_username="viewer").first()
    assert event is not None and event.details["endpoint"] == "chat.completions"
    assert QUESTION not in json.dumps(event.details)
    assert page.inner_text("#pg-error") == ""
    assert not [e for e in page.console_errors if "Content Security Policy" in e]
