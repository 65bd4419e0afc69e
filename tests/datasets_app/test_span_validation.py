"""Issue 18 item 2: reviewer spans are validated and redaction fails closed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets_app.models import Dataset, Decision, Finding
from datasets_app.services import run_ingestion

RECORDS = [{"text": "The build server leaked a token in the deploy log."}]


@pytest.fixture
def dataset_id(cast: Any, api_client_for: Any, tiny_base_model: Any, monkeypatch: Any) -> int:
    monkeypatch.setattr("datasets_app.services._enqueue_ingestion", lambda _id: None)
    body = "\n".join(json.dumps(r) for r in RECORDS).encode() + b"\n"
    response = api_client_for(cast.steward).post(
        "/api/v1/datasets/",
        {"file": SimpleUploadedFile("t.jsonl", body), "project": cast.project.pk},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    run_ingestion(response.json()["id"])
    return response.json()["id"]


@pytest.mark.parametrize(
    "span",
    [
        {"start": 0, "end": 100000},
        {"start": 0, "end": 5, "field": "__class__"},
        {"start": 0, "end": 5, "field": "prompt"},
        {"start": 4, "end": 4},
    ],
)
def test_a_span_outside_the_text_or_on_no_field_is_refused(
    cast: Any, api_client_for: Any, dataset_id: int, span: dict[str, Any]
) -> None:
    steward = api_client_for(cast.steward)
    body = {"record_index": 0, "entity_type": "SECRET", **span}
    response = steward.post(f"/api/v1/datasets/{dataset_id}/findings/add/", body, format="json")
    assert response.status_code == 400, response.content
    assert not Finding.objects.filter(dataset_id=dataset_id, added_by_reviewer=True).exists()


def test_a_span_inside_the_text_is_accepted(
    cast: Any, api_client_for: Any, dataset_id: int
) -> None:
    steward = api_client_for(cast.steward)
    body = {"record_index": 0, "start": 4, "end": 9, "entity_type": "SECRET"}
    response = steward.post(f"/api/v1/datasets/{dataset_id}/findings/add/", body, format="json")
    assert response.status_code == 201, response.content


def test_adjusting_a_span_past_the_end_is_refused(
    cast: Any, api_client_for: Any, dataset_id: int
) -> None:
    steward = api_client_for(cast.steward)
    body = {"record_index": 0, "start": 4, "end": 9, "entity_type": "SECRET"}
    finding = steward.post(f"/api/v1/datasets/{dataset_id}/findings/add/", body, format="json")
    url = f"/api/v1/datasets/{dataset_id}/findings/{finding.json()['id']}/decision/"
    response = steward.post(url, {"decision": "accept", "start": 0, "end": 10**6}, format="json")
    assert response.status_code == 400, response.content


def test_an_accepted_finding_that_cannot_be_applied_blocks_the_version(
    cast: Any, api_client_for: Any, dataset_id: int
) -> None:
    dataset = Dataset.objects.get(pk=dataset_id)
    Finding.objects.create(
        dataset=dataset,
        record_index=0,
        field="text",
        start=0,
        end=100000,
        entity_type="SECRET",
        score=1.0,
        recognizer="reviewer",
        decision=Decision.ACCEPTED,
        added_by_reviewer=True,
    )
    response = api_client_for(cast.steward).post(f"/api/v1/datasets/{dataset_id}/approve/")
    assert response.status_code == 409, response.content
    assert "cannot be applied" in response.json()["error"]["message"]
    assert not dataset.versions.exists()
