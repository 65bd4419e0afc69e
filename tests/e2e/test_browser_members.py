"""Members and roles in a real browser (Debian's Chromium): an owner reaches the members page
from the project settings and changes a role with the keyboard alone."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.browser import requires_chromium, sign_in
from tests.e2e.screens import save_screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    requires_chromium,
]


def test_owner_changes_a_role_with_the_keyboard(
    cast: Any, live_server: Any, browser_page: Any
) -> None:
    from accounts.models import Membership

    page = browser_page
    sign_in(page, live_server.url, "owner")
    page.goto(f"{live_server.url}/projects/{cast.project.pk}/settings/")
    page.focus("#members-link")
    page.keyboard.press("Enter")
    page.wait_for_selector("#members")
    page.focus("#id_username")
    page.keyboard.type("viewer")
    page.keyboard.press("Tab")
    page.keyboard.type("engineer")  # picks the option in the focused select
    page.keyboard.press("Tab")  # the "add this role" box, left unchecked: a role change
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "save-member"
    page.keyboard.press("Enter")
    page.wait_for_selector('.member-row[data-user="viewer"] .roles:has-text("engineer")')
    roles = Membership.objects.filter(project=cast.project, user=cast.viewer)
    assert list(roles.values_list("role", flat=True)) == ["engineer"]
    save_screenshot(page, "members")
    assert not [e for e in page.console_errors if "Content Security Policy" in e]
