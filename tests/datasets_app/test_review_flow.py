"""Review and approval over the API: findings, decisions, the 409 gate, versions, raw access."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from datasets_app.services import run_ingestion

RECORDS = [
    {"text": "Hi Mark, please call Mark Scott at +1 415 555 0134 about the refund."},
    {"text": "Mark said the invoice went to mark.scott@example.com yesterday."},
    {"text": "The build server leaked AKIAIOSFODNN7EXAMPLE in the deploy log."},
    {"text": "Nothing personal in this line about the printer on the third floor."},
]


@pytest.fixture
def dataset_id(cast: Any, api_client_for: Any, tiny_base_model: Any, monkeypatch: Any) -> int:
    monkeypatch.setattr("datasets_app.services._enqueue_ingestion", lambda _id: None)
    body = "\n".join(json.dumps(r) for r in RECORDS).encode() + b"\n"
    response = api_client_for(cast.steward).post(
        "/api/v1/datasets/",
        {
            "file": SimpleUploadedFile("t.jsonl", body),
            "project": cast.project.pk,
            "options": json.dumps({"require_full_review": True}),
        },
        format="multipart",
    )
    assert response.status_code == 202, response.content
    run_ingestion(response.json()["id"])
    return response.json()["id"]


def test_findings_cover_names_phone_email_and_secrets_including_propagated_name_parts(
    cast: Any, api_client_for: Any, dataset_id: int
) -> None:
    findings = (
        api_client_for(cast.steward)
        .get(f"/api/v1/datasets/{dataset_id}/findings/?limit=200")
        .json()["results"]
    )
    types = {f["entity_type"] for f in findings}
    assert {"PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "SECRET"} <= types
    # "Mark" alone in record 1 is caught because "Mark Scott" was found elsewhere.
    assert any(f["record_index"] == 1 and f["entity_type"] == "PERSON" for f in findings)


def test_approval_with_pending_findings_answers_409_naming_the_count(
    cast: Any, api_client_for: Any, dataset_id: int
) -> None:
    steward = api_client_for(cast.steward)
    response = steward.post(f"/api/v1/datasets/{dataset_id}/approve/")
    assert response.status_code == 409
    pending = steward.get(f"/api/v1/datasets/{dataset_id}/").json()["pending_findings"]
    assert str(pending) in response.json()["error"]["message"]


def test_bulk_decisions_then_approval_freeze_a_redacted_version_with_token_stats(
    cast: Any, api_client_for: Any, dataset_id: int
) -> None:
    steward = api_client_for(cast.steward)
    url = f"/api/v1/datasets/{dataset_id}/findings/bulk-decision/"
    accepted = steward.post(
        url, {"decision": "accept", "entity_types": ["SECRET", "PERSON"]}, format="json"
    ).json()["updated"]
    rest = steward.post(url, {"decision": "accept"}, format="json").json()["updated"]
    assert accepted >= 2 and rest >= 1
    response = steward.post(f"/api/v1/datasets/{dataset_id}/approve/")
    assert response.status_code == 200, response.content
    version = response.json()
    assert sum(version["split_counts"].values()) == len(RECORDS)
    assert version["token_stats"]["total_tokens"] > 0
    assert version["lineage"]["decisions"]["accepted"] == accepted + rest
    texts = [
        r["text"]
        for r in api_client_for(cast.engineer)
        .get(f"/api/v1/datasets/{dataset_id}/records/?limit=10")
        .json()["results"]
    ]
    joined = " ".join(texts)
    for secret in ("Mark", "555 0134", "mark.scott@example.com", "AKIAIOSFODNN7EXAMPLE"):
        assert secret not in joined
    assert AuditEvent.objects.filter(action="pii.bulk_decide").count() == 2
    assert AuditEvent.objects.filter(action="dataset.approve").exists()


def test_only_stewards_see_raw_text_and_every_view_is_audited(
    cast: Any, api_client_for: Any, dataset_id: int
) -> None:
    url = f"/api/v1/datasets/{dataset_id}/records/?raw=1"
    raw = api_client_for(cast.steward).get(url)
    assert raw.status_code == 200 and "Mark Scott" in raw.json()["results"][0]["text"]
    for user in (cast.engineer, cast.owner, cast.viewer):
        assert api_client_for(user).get(url).status_code == 403
    assert api_client_for(cast.outsider).get(url).status_code == 404
    assert AuditEvent.objects.filter(action="dataset.view_raw", outcome="allowed").count() == 1
    assert AuditEvent.objects.filter(action="denied.view_raw_data").count() == 3


def test_reviewer_adjusts_rejects_and_adds_findings(
    cast: Any, api_client_for: Any, dataset_id: int
) -> None:
    steward = api_client_for(cast.steward)
    base = f"/api/v1/datasets/{dataset_id}/findings/"
    finding = steward.get(base + "?entity_type=PHONE_NUMBER").json()["results"][0]
    response = steward.post(
        f"{base}{finding['id']}/decision/", {"decision": "reject"}, format="json"
    )
    assert response.status_code == 200 and response.json()["decision"] == "rejected"
    added = steward.post(
        base + "add/",
        {"record_index": 3, "field": "text", "start": 40, "end": 47, "entity_type": "LOCATION"},
        format="json",
    )
    assert added.status_code == 201 and added.json()["decision"] == "accepted"
    bad = steward.post(
        base + "add/", {"record_index": 99, "start": 0, "end": 2, "entity_type": "X"}, format="json"
    )
    assert bad.status_code == 400


def test_engineer_cannot_review_or_approve(cast: Any, api_client_for: Any, dataset_id: int) -> None:
    engineer = api_client_for(cast.engineer)
    assert engineer.get(f"/api/v1/datasets/{dataset_id}/findings/").status_code == 403
    assert engineer.post(f"/api/v1/datasets/{dataset_id}/approve/").status_code == 403
