"""Versions: reopening makes a new immutable version; the owner-only re-identification map."""

from __future__ import annotations

import json
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from datasets_app.services import run_ingestion

RECORDS = [
    {"text": "Please ask Laura Gómez to send the invoice to laura.gomez@example.es today."},
    {"text": "The printer on the second floor keeps jamming during long print jobs."},
]


def _dataset(cast: Any, api_client_for: Any, monkeypatch: Any, **options: Any) -> int:
    monkeypatch.setattr("datasets_app.services._enqueue_ingestion", lambda _id: None)
    body = "\n".join(json.dumps(r, ensure_ascii=False) for r in RECORDS).encode() + b"\n"
    response = api_client_for(cast.steward).post(
        "/api/v1/datasets/",
        {
            "file": SimpleUploadedFile("t.jsonl", body),
            "project": cast.project.pk,
            "options": json.dumps(options),
        },
        format="multipart",
    )
    run_ingestion(response.json()["id"])
    return response.json()["id"]


def test_reopening_and_approving_again_freezes_a_new_version_and_keeps_the_old(
    cast: Any, api_client_for: Any, monkeypatch: Any
) -> None:
    steward = api_client_for(cast.steward)
    dataset_id = _dataset(cast, api_client_for, monkeypatch)
    first = steward.post(f"/api/v1/datasets/{dataset_id}/approve/").json()
    assert steward.post(f"/api/v1/datasets/{dataset_id}/approve/").status_code == 409
    assert steward.post(f"/api/v1/datasets/{dataset_id}/reopen/").status_code == 200
    email = steward.get(
        f"/api/v1/datasets/{dataset_id}/findings/?entity_type=EMAIL_ADDRESS"
    ).json()["results"][0]
    steward.post(
        f"/api/v1/datasets/{dataset_id}/findings/{email['id']}/decision/",
        {"decision": "reject"},
        format="json",
    )
    second = steward.post(f"/api/v1/datasets/{dataset_id}/approve/").json()
    assert (first["number"], second["number"]) == (1, 2)
    assert first["content_hash"] != second["content_hash"]
    versions = steward.get(f"/api/v1/datasets/{dataset_id}/versions/").json()
    assert [v["content_hash"] for v in versions] == [second["content_hash"], first["content_hash"]]
    assert (
        api_client_for(cast.engineer).post(f"/api/v1/datasets/{dataset_id}/reopen/").status_code
        == 403
    )
    assert AuditEvent.objects.filter(action="dataset.reopen").count() == 1


def test_owner_reads_the_reidentification_map_with_an_audited_reason(
    cast: Any, api_client_for: Any, monkeypatch: Any
) -> None:
    dataset_id = _dataset(cast, api_client_for, monkeypatch, reidentification_map=True)
    api_client_for(cast.steward).post(f"/api/v1/datasets/{dataset_id}/approve/")
    url = f"/api/v1/datasets/{dataset_id}/reidentification/"
    reason = {"reason": "Legal hold request LH-2291 from counsel"}
    for user in (cast.steward, cast.engineer, cast.viewer):
        assert api_client_for(user).post(url, reason, format="json").status_code == 403
    assert api_client_for(cast.outsider).post(url, reason, format="json").status_code == 404
    owner = api_client_for(cast.owner)
    assert owner.post(url, {"reason": "because"}, format="json").status_code == 400
    response = owner.post(url, reason, format="json")
    assert response.status_code == 200
    mapping = response.json()["map"]
    originals = {entry["value"] for entry in mapping.values()}
    assert "laura.gomez@example.es" in originals
    assert all(token.startswith("<") for token in mapping)
    event = AuditEvent.objects.get(action="dataset.reidentify")
    assert event.details["reason"] == reason["reason"] and event.actor == cast.owner


def test_a_version_approved_without_a_map_has_none(
    cast: Any, api_client_for: Any, monkeypatch: Any
) -> None:
    dataset_id = _dataset(cast, api_client_for, monkeypatch)
    api_client_for(cast.steward).post(f"/api/v1/datasets/{dataset_id}/approve/")
    response = api_client_for(cast.owner).post(
        f"/api/v1/datasets/{dataset_id}/reidentification/",
        {"reason": "Checking what the map holds"},
        format="json",
    )
    assert response.status_code == 409
