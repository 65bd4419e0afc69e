"""The blind arena in a real browser (Debian's Chromium driven by Playwright): a viewer asks
for two answers, sees no model name anywhere on the page, votes, and the vote is stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.browser import requires_chromium, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    requires_chromium,
]
NAMES = ("tiny-alpha", "tiny-beta")


def test_a_viewer_votes_blind(
    cast: Any, live_server: Any, browser_page: Any, tiny_model_dir: Any
) -> None:
    from audit.services import Actor
    from evaluation import arena
    from evaluation.models import ArenaVote
    from trainer.base_models import register_base_model

    bases = [register_base_model(name, tiny_model_dir) for name in NAMES]
    row = arena.create_round(
        Actor(user=cast.engineer), cast.project.pk, "blind", base_models=bases, voter_role="viewer"
    )
    page = browser_page
    sign_in(page, live_server.url, "viewer")
    page.goto(f"{live_server.url}/evaluation/arena/{row.pk}/")
    page.fill("#prompt", "Say hello")
    page.click("#ask")
    page.wait_for_selector("#arena-match:not([hidden])", timeout=120_000)
    html = page.content()
    assert not [name for name in NAMES if name in html]
    page.click("button.vote[data-choice=b]")
    page.wait_for_selector("#voted:not([hidden])")
    vote = ArenaVote.objects.get()
    assert vote.voter == cast.viewer and vote.choice == "b"
    assert not [e for e in page.console_errors if "Content Security Policy" in e]
