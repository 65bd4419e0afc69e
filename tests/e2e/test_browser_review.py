"""The review workspace in a real browser (Debian's Chromium driven by Playwright): a steward
walks to a finding with the keyboard and accepts it; the decision reaches the database."""

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
TEXT = 'Call Mark Scott <img src=x onerror="document.title=1"> about the refund.'


def test_steward_accepts_a_finding_with_the_keyboard_and_it_persists(
    cast: Any, live_server: Any, browser_page: Any, review_dataset_from: Any
) -> None:
    dataset = review_dataset_from([{"kind": "text", "text": TEXT}], [(0, 5, 15, "PERSON", 0.85)])
    finding = dataset.findings.get()
    page = browser_page
    sign_in(page, live_server.url, "steward")
    page.goto(f"{live_server.url}/datasets/{dataset.pk}/review/")
    page.wait_for_selector(f'mark.pii[data-finding="{finding.pk}"]')
    # The markup inside the record is text on the page, not an element.
    assert page.locator(".field-text img").count() == 0
    assert '<img src=x onerror="document.title=1">' in page.inner_text(".field-text")
    page.keyboard.press("j")
    page.wait_for_selector("mark.pii.current")
    page.keyboard.press("a")
    page.wait_for_selector(f'.finding-row[data-finding="{finding.pk}"][data-decision=accepted]')
    assert page.inner_text("#decided-count") == "1"
    finding.refresh_from_db()
    assert finding.decision == "accepted" and finding.decided_by == cast.steward
    assert not [e for e in page.console_errors if "Content Security Policy" in e]
