"""Examples of what cleaning changed or dropped: raw text, so data stewards only, audited,
escaped on the page."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from datasets_app.models import Dataset
from datasets_app.services import run_ingestion

HTML_RECORD = {"text": "<p>Printer <b>jam</b></p><script>alert(1)</script> on floor two"}
RECORDS = [
    HTML_RECORD,
    {"text": "The VPN token of the night shift expired again this week."},
    {"text": "The VPN token of the night shift expired again this week."},  # exact copy
]


@pytest.fixture
def dataset(upload: Any) -> Dataset:
    dataset_id = upload(RECORDS)  # the shared upload fixture (tests/datasets_app/conftest.py)
    run_ingestion(dataset_id)
    return Dataset.objects.get(pk=dataset_id)


@pytest.fixture
def no_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    # The redacted sample on the dataset page is beside the point (and loads spaCy).
    monkeypatch.setattr("datasets_app.services.read_records", lambda *args, **kwargs: [])


def _raw_reads() -> Any:
    return AuditEvent.objects.filter(action="dataset.view_raw", outcome="allowed")


def test_steward_reads_each_steps_examples_and_the_read_is_audited(
    cast: Any, api_client_for: Any, dataset: Dataset
) -> None:
    response = api_client_for(cast.steward).get(f"/api/v1/datasets/{dataset.pk}/cleaning-examples/")
    assert response.status_code == 200
    steps = {step["name"]: step for step in response.json()["steps"]}
    html = steps["strip_html"]
    assert html["changed"] == 1
    assert html["examples"][0]["before"].startswith("<p>Printer <b>jam</b>")
    assert html["examples"][0]["after"].startswith("Printer jam")
    duplicate = steps["dedup_exact"]
    assert duplicate["dropped"] == 1
    assert duplicate["examples"][0]["reason"] == "exact duplicate of an earlier record"
    assert duplicate["examples"][0]["source"] == "t.jsonl:3"
    read = _raw_reads().get()
    assert read.details == {"part": "cleaning_examples"}


def test_the_dataset_row_and_its_api_keep_only_the_counts(
    cast: Any, api_client_for: Any, dataset: Dataset
) -> None:
    body = api_client_for(cast.engineer).get(f"/api/v1/datasets/{dataset.pk}/").json()
    assert all("examples" not in step for step in body["cleaning_report"]["steps"])
    assert "<script>" not in json.dumps(body)


@pytest.mark.parametrize("role", ["engineer", "viewer", "owner"])
def test_members_who_may_not_read_raw_text_get_403_and_the_denial_is_audited(
    cast: Any, api_client_for: Any, dataset: Dataset, role: str
) -> None:
    response = api_client_for(cast.users[role]).get(
        f"/api/v1/datasets/{dataset.pk}/cleaning-examples/"
    )
    assert response.status_code == 403
    assert "<script>" not in response.content.decode()
    assert AuditEvent.objects.filter(action="denied.view_raw_data").exists()
    assert not _raw_reads().exists()


def test_outsiders_get_404(cast: Any, api_client_for: Any, dataset: Dataset) -> None:
    url = f"/api/v1/datasets/{dataset.pk}/cleaning-examples/"
    assert api_client_for(cast.outsider).get(url).status_code == 404


def test_a_dataset_still_processing_has_no_examples_yet(
    cast: Any, api_client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("datasets_app.services._enqueue_ingestion", lambda _id: None)
    steward = api_client_for(cast.steward)
    created = steward.post(
        "/api/v1/datasets/",
        {"file": SimpleUploadedFile("t.jsonl", b'{"text": "hello there"}\n')},
        format="multipart",
    ).json()
    response = steward.get(f"/api/v1/datasets/{created['id']}/cleaning-examples/")
    assert response.status_code == 409
    assert "processing" in response.json()["error"]["message"]


def test_steward_page_shows_examples_escaped_only_when_asked(
    cast: Any, client: Any, dataset: Dataset, no_sample: None
) -> None:
    client.force_login(cast.steward)
    page = client.get(f"/datasets/{dataset.pk}/").content.decode()
    assert 'id="show-cleaning-examples"' in page and 'id="cleaning-examples"' not in page
    assert not _raw_reads().exists()  # no raw read without asking for it

    page = client.get(f"/datasets/{dataset.pk}/?cleaning_examples=1").content.decode()
    assert 'id="cleaning-examples"' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page and "<b>jam</b>" not in page
    assert "exact duplicate of an earlier record" in page
    assert _raw_reads().count() == 1


@pytest.mark.parametrize("role", ["engineer", "viewer"])
def test_other_roles_asking_on_the_page_see_a_refusal_and_no_examples(
    cast: Any, client: Any, dataset: Dataset, no_sample: None, role: str
) -> None:
    client.force_login(cast.users[role])
    page = client.get(f"/datasets/{dataset.pk}/?cleaning_examples=1").content.decode()
    assert 'id="cleaning-examples"' not in page and 'id="show-cleaning-examples"' not in page
    assert "alert(1)" not in page
    assert "does not allow" in page
    assert not _raw_reads().exists()
