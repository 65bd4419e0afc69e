"""The walking skeleton in a real browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.e2e.browser import requires_chromium, sign_in
from tests.e2e.procs import celery_process

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    requires_chromium,
]


def test_sign_in_upload_approve_train_and_watch_it_succeed(
    cast: Any, tiny_base_model: Any, live_server: Any, browser_page: Any, tmp_path: Path
) -> None:
    from accounts.models import Membership

    # One person holding the steward and engineer roles walks the whole flow.
    Membership.objects.create(project=cast.project, user=cast.steward, role="engineer")
    data = tmp_path / "notes.jsonl"
    data.write_text(
        "\n".join(
            json.dumps(
                {"text": f"Meeting note {i}: the roadmap slips by {i % 3} weeks because of hiring."}
            )
            for i in range(30)
        )
        + "\n"
    )
    page = browser_page
    sign_in(page, live_server.url, "steward")
    with celery_process("worker", "browser-worker"):
        page.click("text=Upload data")
        page.set_input_files("input[name=file]", str(data))
        page.click("#upload-submit")
        page.wait_for_selector("#dataset-status[data-status=needs_review]", timeout=240_000)
        assert page.inner_text("#record-count") == "30"
        page.click("#approve")
        page.click("#train")
        # Only the chosen objective's and method's settings show (static/js/job_form.js);
        # each check waits for the script (the page may still be loading after the click).
        page.wait_for_selector("input[name=beta]", state="hidden")
        page.wait_for_selector("input[name=lora_r]", state="visible")
        page.select_option("select[name=objective]", "dpo")
        page.wait_for_selector("input[name=beta]", state="visible")
        page.wait_for_selector("input[name=orpo_lambda]", state="hidden")
        page.select_option("select[name=method]", "full")
        page.wait_for_selector("input[name=lora_r]", state="hidden")
        page.select_option("select[name=method]", "lora")
        page.select_option("select[name=objective]", "supervised")
        page.wait_for_selector("input[name=beta]", state="hidden")
        page.fill("input[name=max_steps]", "6")
        page.fill("input[name=seq_len]", "64")
        page.fill("input[name=batch_size]", "2")
        # The engine's estimate beside the form follows the settings (6 steps).
        page.locator("#estimate-steps", has_text="6").wait_for()
        assert page.get_attribute("#job-estimate", "data-state") == "fits"
        page.click("#start-training")
        page.wait_for_selector("#job-progress")
        # (wait_for_function would need 'unsafe-eval', which our CSP rightly forbids)
        page.wait_for_selector("#job-status.succeeded, #job-status.failed", timeout=300_000)
        assert page.inner_text("#job-status") == "succeeded", page.inner_text("#job-error")
        # The evaluation task follows training on the worker; the page keeps polling for it.
        page.wait_for_selector("#evaluation-table", timeout=120_000)
        page.screenshot(path=str(Path(settings.DATA_DIR) / "logs" / "job-page.png"), full_page=True)
    assert page.inner_text("#job-step") == "6"
    assert "tuned" in page.inner_text("#evaluation-table")
