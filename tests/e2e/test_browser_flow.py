"""The whole lifecycle in a real browser (Debian's Chromium driven by Playwright): upload,
review, train with the estimate visible, compare two versions, deploy, create a key, query it
with the ``openai`` package, export (issue #16's walk)."""

from __future__ import annotations

import io
import json
import zipfile
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


def test_upload_review_train_compare_deploy_query_and_export_in_the_browser(
    cast: Any, tiny_base_model: Any, live_server: Any, browser_page: Any, tmp_path: Path
) -> None:
    from accounts.models import Membership

    # One person holding the steward, engineer and owner roles walks the whole lifecycle.
    Membership.objects.create(project=cast.project, user=cast.steward, role="engineer")
    Membership.objects.create(project=cast.project, user=cast.steward, role="owner")
    # A 6-step tiny model over 24 records fails the default membership-inference threshold
    # whenever its audit finishes before the deployment (the gate is tested in tests/privacy):
    # this project accepts any audit result, so the walk does not depend on that timing.
    from privacy.models import PrivacyPolicy

    lenient = {"canary_exposure": 1e9, "extraction": 1.0, "regurgitation": 1e9}
    PrivacyPolicy.objects.create(
        project=cast.project, thresholds={**lenient, "membership_inference": 1.0}
    )
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
    trained = _compare_with_a_second_run(page, live_server.url, tiny_base_model)
    _deploy_query_and_export(page, live_server.url, trained)


def _compare_with_a_second_run(page: Any, url: str, base_model: Any) -> Any:
    """A second finished run on the same data (written to the database: training twice in a
    browser test costs minutes), then both compared from the models list."""
    from tests.trainer.runs import make_finished_run
    from trainer.models import ModelVersion

    trained = ModelVersion.objects.get()
    other = make_finished_run(trained.job.dataset_version, name="second", base_model=base_model)
    page.click("nav >> text=Models")
    page.wait_for_selector("table.models")
    for version in (trained, other):
        page.check(f"#compare-{version.pk}")
    page.click("#compare-selected")
    page.wait_for_selector("#compare-loss-chart canvas")
    header = page.inner_text("#compare-table thead")
    assert trained.name in header and "second" in header
    return trained


def _deploy_query_and_export(page: Any, url: str, trained: Any) -> None:
    import openai

    from serving.models import Deployment

    page.goto(f"{url}/deployments/")
    page.select_option("#id_model_version", str(trained.pk))
    page.fill("#id_suffix", "walk")
    page.click("#deploy-submit")
    page.wait_for_selector("#create-key, .errorlist")
    assert page.locator(".errorlist").count() == 0, page.inner_text(".errorlist")
    page.fill("#id_name", "sdk")
    page.click("#create-key")
    secret = page.inner_text("#new-key-secret")
    deployment = Deployment.objects.get()
    client = openai.OpenAI(base_url=url + "/v1", api_key=secret, max_retries=0, timeout=120)
    answer = client.chat.completions.create(
        model=deployment.model_name,
        messages=[{"role": "user", "content": "When is the roadmap due?"}],
        max_tokens=4,
    )
    assert answer.model == deployment.model_name
    page.goto(f"{url}/deployments/{deployment.pk}/")
    page.click("text=Export the model…")
    page.select_option("#id_format", "plain")
    page.fill("#id_password", "pw-Long-123!")
    with page.expect_download() as download_info:
        page.click("#export-submit")
    archive = zipfile.ZipFile(io.BytesIO(Path(download_info.value.path()).read_bytes()))
    assert {"model.safetensors", "config.json", "export.json"} <= set(archive.namelist())
