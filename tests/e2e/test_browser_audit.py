"""The audit explorer in a real browser (Debian's Chromium): a platform admin filters the trail
with the keyboard, sees denials highlighted and the chain verified."""

from __future__ import annotations

from typing import Any

import pytest

from audit.services import Actor, record_event
from tests.e2e.browser import requires_chromium, sign_in
from tests.e2e.screens import save_screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    requires_chromium,
]


def test_admin_filters_the_trail_and_sees_denials_highlighted(
    cast: Any, live_server: Any, browser_page: Any
) -> None:
    record_event(
        Actor(user=cast.owner), "model.export", object_type="trainer.modelversion", object_id="3"
    )
    record_event(
        Actor(user=cast.viewer, source_ip="10.0.0.7"),
        "denied.deploy_model",
        outcome="denied",
        details={"project": cast.project.pk},
    )
    page = browser_page
    sign_in(page, live_server.url, "root")
    page.click("nav >> text=Audit")
    page.wait_for_selector("#chain-status .chain-ok")
    save_screenshot(page, "audit-explorer")
    page.focus("#id_action")
    page.keyboard.type("denied.*")
    page.keyboard.press("Enter")
    page.wait_for_url("**/audit/?*action=denied.*")
    rows = page.locator(".audit-row")
    assert rows.count() >= 1 and rows.count() == page.locator(".audit-row.denied").count()
    href = page.get_attribute("#export-csv", "href")
    assert href is not None and "action=denied." in href
    assert not [e for e in page.console_errors if "Content Security Policy" in e]
