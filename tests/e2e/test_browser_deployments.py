"""Deployments, keys and export in a real browser (Debian's Chromium): an owner deploys a
version, creates a key with the keyboard and sees its secret once, revokes it, and meets the
export form's password re-check."""

from __future__ import annotations

from typing import Any

import pytest

from audit.services import Actor
from tests.e2e.browser import requires_chromium, sign_in
from tests.e2e.screens import save_screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    requires_chromium,
]


@pytest.fixture
def version(cast: Any, approved_version: Any, tiny_base_model: Any, monkeypatch: Any) -> Any:
    from trainer import services
    from trainer.models import ModelVersion

    monkeypatch.setattr(services, "enqueue_job", lambda _id: None)
    job = services.create_job(
        Actor(user=cast.engineer),
        approved_version,
        base_model=tiny_base_model,
        method="lora",
        hyperparameters={"max_steps": 2, "seq_len": 32},
    )
    return ModelVersion.objects.create(
        project=job.project, job=job, name="tiny-lora", data_key=job.data_key, artifact_dir="-"
    )


def test_owner_deploys_creates_a_key_with_the_keyboard_and_revokes_it(
    cast: Any, live_server: Any, browser_page: Any, version: Any
) -> None:
    from serving import services
    from serving.models import Deployment

    page = browser_page
    sign_in(page, live_server.url, "owner")
    page.goto(f"{live_server.url}/deployments/")
    page.select_option("#id_model_version", str(version.pk))
    page.fill("#id_suffix", "support")
    page.focus("#id_suffix")
    page.keyboard.press("Enter")  # submits the form
    page.wait_for_selector("h1 code")
    deployment = Deployment.objects.get()
    assert page.url.endswith(f"/deployments/{deployment.pk}/")
    page.fill("#id_name", "crm")
    page.fill("#id_rate_limit_rpm", "30")
    page.focus("#create-key")
    page.keyboard.press("Enter")
    secret = page.inner_text("#new-key-secret")
    assert services.find_deployment_key(secret) is not None
    assert page.inner_text(".key-row .key-state") == "active"
    assert page.locator("svg.chart rect.bar").count() == 30
    save_screenshot(page, "keys")
    key = services.find_deployment_key(secret)
    caller = services.Caller(actor=Actor(token_prefix=key.prefix), key=key)
    for tokens in (12, 30, 7):  # three queries with the key, as /v1/ records them
        services.record_query(
            caller,
            model_name=deployment.model_name,
            deployment=deployment,
            endpoint="chat.completions",
            prompt_tokens=tokens,
            completion_tokens=5,
        )
    page.goto(f"{live_server.url}/deployments/{deployment.pk}/")  # the secret is gone
    assert page.locator("svg.chart rect.bar title", has_text=": 3 requests").count() == 1
    assert page.locator("#new-key-secret").count() == 0
    save_screenshot(page, "deployment")
    page.click(".revoke-key")
    page.wait_for_selector(".key-row.revoked")
    page.goto(f"{live_server.url}/deployments/")
    save_screenshot(page, "deployments")
    page.click("text=Export…")
    page.wait_for_selector("#export-form")
    page.fill("#id_password", "not my password")
    page.click("#export-submit")
    page.wait_for_selector("text=That is not your password.")
    save_screenshot(page, "export")
    assert not [e for e in page.console_errors if "Content Security Policy" in e]
