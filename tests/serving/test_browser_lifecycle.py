"""After training, in a real browser (Debian's Chromium) against the live server: an owner
deploys the fine-tuned version, creates a key in the page, the official ``openai`` client
queries the deployment with that key, the usage chart counts the query, and the owner exports
the merged weights through the export form and gets a loadable safetensors zip."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import requires_chromium, sign_in
from tests.e2e.conftest import browser_page  # noqa: F401 (the fixture, shared)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    requires_chromium,
]
PASSWORD = "pw-Long-123!"


def test_deploy_create_a_key_query_it_with_openai_and_export_in_the_browser(
    cast: Any,
    live_server: Any,
    browser_page: Any,  # noqa: F811
    fine_tuned_version: Any,
    openai_for: Any,
) -> None:
    from safetensors import safe_open

    from serving.models import Deployment

    page = browser_page
    sign_in(page, live_server.url, "owner")
    page.goto(f"{live_server.url}/deployments/")
    page.select_option("#id_model_version", str(fine_tuned_version.pk))
    page.fill("#id_suffix", "live")
    page.click("#deploy-submit")
    page.wait_for_selector("#create-key")
    deployment = Deployment.objects.get()
    page.fill("#id_name", "sdk")
    page.click("#create-key")
    secret = page.inner_text("#new-key-secret")

    answer = openai_for(secret).chat.completions.create(
        model=deployment.model_name,
        messages=[{"role": "user", "content": "Where is my order?"}],
        max_tokens=4,
    )
    assert answer.model == deployment.model_name and answer.choices[0].message is not None

    page.goto(f"{live_server.url}/deployments/{deployment.pk}/")
    assert page.locator("svg.chart rect.bar title", has_text=": 1 requests").count() == 1
    assert page.inner_text(".key-row .key-state") == "active"

    page.click("text=Export the model…")
    page.select_option("#id_format", "plain")
    page.fill("#id_password", PASSWORD)
    with page.expect_download() as download_info:
        page.click("#export-submit")
    download = download_info.value
    assert download.suggested_filename == f"model-version-{fine_tuned_version.pk}.zip"
    archive = zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes()))
    assert {"model.safetensors", "config.json", "export.json"} <= set(archive.namelist())
    weights = Path(download.path()).with_suffix(".safetensors")
    weights.write_bytes(archive.read("model.safetensors"))
    with safe_open(str(weights), framework="pt") as tensors:
        assert len(list(tensors.keys())) > 0
