"""The pages after training in a real browser (Debian's Chromium driven by Playwright): the job
page's charts, the job form's live estimate and advanced settings, the models list, a model
version's page and the comparison of several versions.

Runs are made in the database (``tests/trainer/runs.py``), not trained, so each test takes
seconds. With ``SOBERANA_SCREENSHOTS_DIR`` set, each page is also saved there as a PNG
(``docs/screenshots/`` holds the committed ones)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.browser import requires_chromium, sign_in
from tests.e2e.screens import save_screenshot
from tests.trainer.runs import make_finished_run

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    requires_chromium,
]


MAX_SCREENSHOT_BYTES = 300_000


def screenshot(page: Any, name: str) -> None:
    """``tests/e2e/screens.py``'s screenshot (when SOBERANA_SCREENSHOTS_DIR is set), checked
    small enough to commit."""
    path = save_screenshot(page, name)
    assert path is None or path.stat().st_size < MAX_SCREENSHOT_BYTES, f"{path} is too large"


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
    # The charts are reachable by keyboard, and the arrow keys read the values step by step.
    page.mouse.move(0, 0)
    page.focus("#loss-chart")
    assert page.evaluate("document.activeElement.id") == "loss-chart"
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    step = page.locator("#loss-chart .u-legend .u-series").first.locator(".u-value")
    step.filter(has_text=re.compile(r"^2$")).wait_for()
    page.keyboard.press("End")
    step.filter(has_text=re.compile(r"^60$")).wait_for()
    screenshot(page, "job-page")
    assert no_csp_errors(page), page.console_errors
    page.click("#job-model-version a")
    page.wait_for_url(f"**/jobs/model-versions/{version.pk}/")


def test_job_form_estimate_follows_the_settings_and_errors_show_inline(
    cast: Any,
    approved_version: Any,
    tiny_base_model: Any,
    live_server: Any,
    browser_page: Any,
    monkeypatch: Any,
) -> None:
    from trainer import services

    page = browser_page
    sign_in(page, live_server.url, "engineer")
    page.goto(f"{live_server.url}/jobs/new/?dataset={approved_version.dataset_id}")
    page.wait_for_selector("#job-estimate[data-state=fits]")
    assert page.inner_text("#estimate-memory").endswith(("MiB", "GiB"))
    assert page.inner_text("#estimate-steps") == "30"
    # A changed setting updates the estimate.
    page.fill("input[name=max_steps]", "12")
    page.locator("#estimate-steps", has_text="12").wait_for()
    # The advanced settings open from the keyboard; an invalid value is named under its field.
    page.focus("#advanced-settings summary")
    page.keyboard.press("Enter")
    page.fill("input[name=warmup_steps]", "50")
    page.locator("#error-warmup_steps", has_text="smaller than max_steps").wait_for()
    assert page.get_attribute("input[name=warmup_steps]", "aria-invalid") == "true"
    assert page.locator("#advanced-settings").get_attribute("open") is not None
    assert page.get_attribute("#job-estimate", "data-state") == "invalid"
    page.fill("input[name=warmup_steps]", "2")
    page.wait_for_selector("#job-estimate[data-state=fits]")
    assert page.inner_text("#error-warmup_steps") == ""
    # Groups of another method hide with their settings; the chosen method's help shows.
    assert page.is_visible("#help-method li[data-choice=lora]")
    assert page.is_hidden("#help-method li[data-choice=full]")
    page.fill("input[name=lora_r]", "4")
    page.select_option("select[name=method]", "full")
    page.wait_for_selector("#group-lora", state="hidden")
    assert page.is_visible("#help-method li[data-choice=full]")
    # A changed setting that the chosen method does not use is named at the top.
    page.locator("#error-__all__", has_text="LoRA rank (r): Applies only").wait_for()
    page.select_option("select[name=method]", "lora")
    page.wait_for_selector("#group-lora", state="visible")
    page.wait_for_selector("#job-estimate[data-state=fits]")
    assert page.inner_text("#error-__all__") == ""
    # The settings are reachable by keyboard, in order, from the method select.
    page.focus("select[name=method]")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "max_steps"
    screenshot(page, "job-form")
    # A configuration too large for the worker says so, and why.
    too_big = {"fits": False, "reason": "needs about 90.0 GiB of 80.0 GiB GPU memory; lower"}
    monkeypatch.setattr(
        services,
        "estimate_job",
        lambda config, base: {
            **too_big,
            "peak_mem_bytes": 90 * 2**30,
            "est_seconds": 60,
            "trainable_params": 1,
            "total_params": 2,
        },
    )
    page.fill("input[name=batch_size]", "64")
    page.wait_for_selector("#job-estimate[data-state=too-big]")
    assert page.inner_text("#estimate-verdict").startswith("Does not fit: needs about 90.0 GiB")
    assert no_csp_errors(page), page.console_errors


def test_models_list_version_page_and_comparison_of_two_versions(
    cast: Any, approved_version: Any, tiny_base_model: Any, live_server: Any, browser_page: Any
) -> None:
    first = make_finished_run(
        approved_version, name="support-lora-r8", base_model=tiny_base_model, floor=1.3
    )
    second = make_finished_run(
        approved_version,
        name="support-lora-r16",
        base_model=tiny_base_model,
        steps=80,
        start_loss=3.0,
        floor=1.1,
        hyperparameters={"lora_r": 16, "learning_rate": 1e-4},
    )
    page = browser_page
    sign_in(page, live_server.url, "viewer")
    page.click("nav >> text=Models")
    page.wait_for_selector("table.models")
    assert page.locator("table.models tbody tr").count() == 2
    screenshot(page, "models-list")

    # A version's page: lineage, metrics, curves, checkpoints.
    page.click("text=support-lora-r8")
    page.wait_for_selector("#loss-chart canvas")
    assert "fixture v1" in page.inner_text("#lineage")
    assert "tuned" in page.inner_text("#version-metrics")
    assert page.get_attribute("#loss-chart", "data-points") == str(60 + 6)
    page.wait_for_selector("#lr-chart canvas")
    page.wait_for_selector("#checkpoints")
    screenshot(page, "model-version")

    # Compare: pick both with the keyboard (space toggles a focused checkbox), submit.
    page.go_back()
    page.wait_for_selector("table.models")
    for version in (first, second):
        page.focus(f"#compare-{version.pk}")
        page.keyboard.press("Space")
    page.focus("#compare-selected")
    page.keyboard.press("Enter")
    page.wait_for_selector("#compare-loss-chart canvas")
    page.wait_for_selector("#compare-val-chart canvas")
    header = page.inner_text("#compare-table thead")
    assert "support-lora-r8" in header and "support-lora-r16" in header
    # The overlaid chart has one series per version, named in its legend.
    legend = page.inner_text("#compare-loss-chart .u-legend")
    assert "support-lora-r8" in legend and "support-lora-r16" in legend
    assert page.get_attribute("#compare-loss-chart", "data-points") == str(60 + 80)
    best = page.locator("#compare-table tr", has_text="Final training loss").locator("td.best")
    assert best.count() == 1 and best.inner_text().startswith("1.")
    screenshot(page, "models-compare")
    assert no_csp_errors(page), page.console_errors


def test_running_job_page_adds_new_metrics_to_its_charts_and_shows_the_eta(
    cast: Any, approved_version: Any, tiny_base_model: Any, live_server: Any, browser_page: Any
) -> None:
    from tests.trainer.runs import metric_rows
    from trainer.models import JobEvent, TrainingJob

    version = make_finished_run(approved_version, name="live", base_model=tiny_base_model)
    job = version.job
    version.delete()
    rows = metric_rows(40, start_loss=3.0, floor=1.5)
    JobEvent.objects.filter(job=job, data__step__gt=20).delete()
    TrainingJob.objects.filter(pk=job.pk).update(
        status="running",
        evaluation_status="",
        progress={"step": 20, "total_steps": 40, "loss": rows[19]["loss"], "eta_s": 754},
    )
    page = browser_page
    sign_in(page, live_server.url, "viewer")
    page.goto(f"{live_server.url}/jobs/{job.pk}/")
    page.wait_for_selector("#loss-chart[data-points='22']")  # 20 losses, 2 validation losses
    assert page.inner_text("#job-eta") == "12 min 34 s"
    # The worker reports more steps: the page's next poll draws them.
    JobEvent.objects.bulk_create(
        JobEvent(job=job, kind="metrics", message="", data=row) for row in rows[20:]
    )
    page.wait_for_selector("#loss-chart[data-points='44']")
    page.wait_for_selector("#lr-chart[data-points='40']")
    assert no_csp_errors(page), page.console_errors
