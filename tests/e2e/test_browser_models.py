"""The pages after training in a real browser (Debian's Chromium driven by Playwright): the job
page's charts, the job form's live estimate and advanced settings, the models list, a model
version's page and the comparison of several versions.

Runs are made in the database (``tests/trainer/runs.py``), not trained, so each test takes
seconds. With ``SOBERANA_SCREENSHOTS_DIR`` set, each page is also saved there as a PNG
(``docs/screenshots/`` holds the committed ones)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import requires_chromium, sign_in
from tests.trainer.runs import make_finished_run

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    requires_chromium,
]


def screenshot(page: Any, name: str) -> None:
    """Save the page as ``<SOBERANA_SCREENSHOTS_DIR>/<name>.png`` when that variable is set."""
    folder = os.environ.get("SOBERANA_SCREENSHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 1100, "height": 800})
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def no_csp_errors(page: Any) -> bool:
    return not [e for e in page.console_errors if "Content Security Policy" in e]


def test_job_page_charts_loss_validation_loss_learning_rate_and_throughput(
    cast: Any, approved_version: Any, tiny_base_model: Any, live_server: Any, browser_page: Any
) -> None:
    version = make_finished_run(approved_version, name="support-v1", base_model=tiny_base_model)
    page = browser_page
    sign_in(page, live_server.url, "viewer")
    page.goto(f"{live_server.url}/jobs/{version.job_id}/")
    # uPlot draws on a canvas inside each chart box once the events arrived.
    for chart in ("#loss-chart", "#lr-chart", "#speed-chart"):
        page.wait_for_selector(f"{chart} canvas")
    loss = page.locator("#loss-chart")
    assert loss.get_attribute("data-points") == str(60 + 6)  # 60 losses, 6 validation losses
    assert "validation loss" in loss.inner_text()  # the legend names both series
    assert "last" in (loss.get_attribute("aria-label") or "")
    # Hovering shows the values under the cursor in the legend.
    box = page.locator("#loss-chart .u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.locator("#loss-chart .u-legend .u-value", has_text=".").first.wait_for()
    # The charts are reachable by keyboard.
    page.focus("#loss-chart")
    assert page.evaluate("document.activeElement.id") == "loss-chart"
    screenshot(page, "job-page")
    assert no_csp_errors(page), page.console_errors
