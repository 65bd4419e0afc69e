"""The review workspace in a real browser (Debian's Chromium driven by Playwright): a steward
walks to a finding with the keyboard and accepts it; the decision reaches the database."""

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
TEXT = 'Call Mark Scott <img src=x onerror="document.title=1"> about the refund.'


def _dataset_with_one_finding(cast: Any) -> Any:
    from datasets_app.ingestion import RECORDS_BLOB
    from datasets_app.models import Dataset, Finding
    from vault.services import create_data_key, write_blob

    raw_key, _ = create_data_key("upload")
    data_key, _ = create_data_key("dataset-records", parent=raw_key)
    write_blob(data_key, RECORDS_BLOB, json.dumps({"kind": "text", "text": TEXT}).encode() + b"\n")
    dataset = Dataset.objects.create(
        project=cast.project,
        name="tickets",
        status="needs_review",
        uploaded_by=cast.steward,
        source_name="t.jsonl",
        raw_key=raw_key,
        data_key=data_key,
        raw_sha256="0" * 64,
        record_count=1,
    )
    Finding.objects.create(
        dataset=dataset,
        record_index=0,
        start=5,
        end=15,
        entity_type="PERSON",
        score=0.85,
        recognizer="test",
    )
    return dataset


def test_steward_accepts_a_finding_with_the_keyboard_and_it_persists(
    cast: Any, live_server: Any, browser_page: Any
) -> None:
    dataset = _dataset_with_one_finding(cast)
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
