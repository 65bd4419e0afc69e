"""Span editing by selection in a real browser (Debian's Chromium): a steward selects text in
the record to widen a finding's span and to add a missed one, then undoes the last decision
with the keyboard; offsets come from the selection and the server checks them."""

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
TEXT = "Call Mark Scott (caf\u00e9 \U0001f600) about the refund of order 5521."

# Selects characters [start, end) of the record field's text, counted in code points, as a
# reviewer dragging the mouse over them would; the page's script turns it into offsets.
SELECT = """([start, end]) => {
  const box = document.querySelector('.field-text');
  const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let seen = 0, node;
  while ((node = walker.nextNode())) {
    const chars = Array.from(node.data);
    const unitsAt = (n) => chars.slice(0, n).join('').length;
    if (seen <= start && start <= seen + chars.length) range.setStart(node, unitsAt(start - seen));
    if (seen <= end && end <= seen + chars.length) { range.setEnd(node, unitsAt(end - seen)); break; }
    seen += chars.length;
  }
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}"""


def test_steward_fixes_spans_by_selecting_text_and_undoes_with_the_keyboard(
    cast: Any, live_server: Any, browser_page: Any, review_dataset_from: Any
) -> None:
    dataset = review_dataset_from([{"kind": "text", "text": TEXT}], [(0, 5, 9, "PERSON", 0.7)])
    finding = dataset.findings.get()
    page = browser_page
    sign_in(page, live_server.url, "steward")
    page.goto(f"{live_server.url}/datasets/{dataset.pk}/review/")
    page.wait_for_selector("mark.pii")
    page.keyboard.press("j")  # the finding "Mark" becomes current
    page.evaluate(SELECT, [5, 15])  # "Mark Scott"
    page.wait_for_function("document.getElementById('selection-text').textContent === 'Mark Scott'")
    save_screenshot(page, "review-selection")
    page.keyboard.press("s")  # the current finding's span becomes the selection
    page.wait_for_selector('.finding-row .span-end[value="15"]')
    finding.refresh_from_db()
    assert (finding.start, finding.end, finding.decision) == (5, 15, "accepted")
    # A missed span after an emoji: offsets count code points, as Python does.
    start = TEXT.index("5521")
    page.evaluate(SELECT, [start, start + 4])
    page.fill("#add-type", "ORDER_ID")
    page.click("#add-span")
    page.wait_for_selector('.finding-row:has-text("ORDER_ID")')
    added = dataset.findings.get(entity_type="ORDER_ID")
    assert TEXT[added.start : added.end] == "5521"
    page.keyboard.press("u")  # undo: the added span goes away
    page.wait_for_selector("text=Undone: the added span is removed.")
    assert not dataset.findings.filter(entity_type="ORDER_ID").exists()
    page.keyboard.press("u")  # and then the widened span goes back to "Mark", pending
    page.wait_for_selector("text=Undone: finding back to pending.")
    finding.refresh_from_db()
    assert (finding.start, finding.end, finding.decision) == (5, 9, "pending")
    assert not [e for e in page.console_errors if "Content Security Policy" in e]
