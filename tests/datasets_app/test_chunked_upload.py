"""Chunked, resumable uploads over the API: chunks encrypted on arrival, resume, refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from audit.models import AuditEvent
from datasets_app.chunked import MIN_CHUNK_BYTES
from datasets_app.models import Dataset
from datasets_app.services import run_ingestion

CANARY = "Canary-Zebra-7731 lives at canary.zebra@example.com"
CHUNK = MIN_CHUNK_BYTES


def _body() -> bytes:
    """A JSONL file of a little over two chunks, the canary in every record."""
    lines, size, i = [], 0, 0
    while size < 2 * CHUNK + 1000:
        line = json.dumps({"text": f"Ticket {i}: {CANARY} asked about the invoice {i}."}) + "\n"
        lines.append(line)
        size += len(line)
        i += 1
    return "".join(lines).encode()


@pytest.fixture
def no_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("datasets_app.services._enqueue_ingestion", lambda _id: None)


def _start(client: Any, project: Any, size: int) -> Any:
    return client.post(
        "/api/v1/uploads/",
        {
            "filename": "tickets.jsonl",
            "total_size": size,
            "project": project.pk,
            "chunk_size": CHUNK,
        },
        format="json",
    )


def _put(client: Any, upload_id: int, index: int, data: bytes, **extra: Any) -> Any:
    return client.put(
        f"/api/v1/uploads/{upload_id}/chunks/{index}/",
        data=data,
        content_type="application/octet-stream",
        **extra,
    )


def _pieces(body: bytes) -> list[bytes]:
    return [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]


def test_chunks_sent_out_of_order_assemble_into_a_dataset_that_ingests(
    cast: Any, api_client_for: Any, no_queue: None
) -> None:
    client, body = api_client_for(cast.steward), _body()
    started = _start(client, cast.project, len(body))
    assert started.status_code == 201, started.content
    upload = started.json()
    assert upload["chunk_count"] == 3 and upload["missing"] == [0, 1, 2]
    pieces = _pieces(body)
    for index in (2, 0, 1):
        first = index * CHUNK
        response = _put(
            client,
            upload["id"],
            index,
            pieces[index],
            HTTP_CONTENT_RANGE=f"bytes {first}-{first + len(pieces[index]) - 1}/{len(body)}",
        )
        assert response.status_code == 200, response.content
    done = client.post(
        f"/api/v1/uploads/{upload['id']}/complete/", {"name": "chunked tickets"}, format="json"
    )
    assert done.status_code == 202, done.content
    dataset = Dataset.objects.get(pk=done.json()["id"])
    assert dataset.raw_size == len(body) and dataset.name == "chunked tickets"
    run_ingestion(dataset.pk)
    dataset.refresh_from_db()
    assert dataset.status == "needs_review", dataset.error
    assert dataset.record_count == body.count(b"\n")
    assert dataset.findings.filter(entity_type="EMAIL_ADDRESS").exists()
    assert AuditEvent.objects.filter(action="upload.start").count() == 1
    assert AuditEvent.objects.filter(action="upload.complete").count() == 1
    _assert_no_plaintext_on_disk()


def _assert_no_plaintext_on_disk() -> None:
    from tests.at_rest import files_containing

    found = files_containing(Path(settings.DATA_DIR), "Canary-Zebra-7731")
    assert not found, f"plaintext in {found}"


def test_a_missing_chunk_blocks_completion_and_the_client_resumes_with_it(
    cast: Any, api_client_for: Any, no_queue: None
) -> None:
    client, body = api_client_for(cast.steward), _body()
    upload_id = _start(client, cast.project, len(body)).json()["id"]
    pieces = _pieces(body)
    _put(client, upload_id, 0, pieces[0])
    _put(client, upload_id, 2, pieces[2])
    early = client.post(f"/api/v1/uploads/{upload_id}/complete/", {}, format="json")
    assert early.status_code == 409
    state = client.get(f"/api/v1/uploads/{upload_id}/").json()
    assert state["received"] == [0, 2] and state["missing"] == [1]
    assert _put(client, upload_id, 1, pieces[1]).json()["missing"] == []
    assert (
        client.post(f"/api/v1/uploads/{upload_id}/complete/", {}, format="json").status_code == 202
    )
    again = client.post(f"/api/v1/uploads/{upload_id}/complete/", {}, format="json")
    assert again.status_code == 409


def test_a_resent_chunk_replaces_the_first_and_a_short_or_misplaced_chunk_is_refused(
    cast: Any, api_client_for: Any
) -> None:
    client, body = api_client_for(cast.steward), _body()
    upload_id = _start(client, cast.project, len(body)).json()["id"]
    pieces = _pieces(body)
    assert _put(client, upload_id, 0, pieces[0]).status_code == 200
    assert _put(client, upload_id, 0, pieces[0]).json()["received_bytes"] == CHUNK
    assert _put(client, upload_id, 1, pieces[1][:-1]).status_code == 400
    assert _put(client, upload_id, 9, pieces[1]).status_code == 400
    wrong_range = _put(client, upload_id, 1, pieces[1], HTTP_CONTENT_RANGE="bytes 0-9/10")
    assert wrong_range.status_code == 400


def test_only_the_uploader_may_see_send_or_complete_chunks(cast: Any, api_client_for: Any) -> None:
    body = _body()
    upload_id = _start(api_client_for(cast.steward), cast.project, len(body)).json()["id"]
    for user in (cast.owner, cast.engineer, cast.outsider):
        other = api_client_for(user)
        assert _put(other, upload_id, 0, _pieces(body)[0]).status_code == 404
        assert other.get(f"/api/v1/uploads/{upload_id}/").status_code == 404
        assert (
            other.post(f"/api/v1/uploads/{upload_id}/complete/", {}, format="json").status_code
            == 404
        )


def test_roles_without_upload_rights_cannot_start_and_the_denial_is_audited(
    cast: Any, api_client_for: Any
) -> None:
    for user in (cast.engineer, cast.viewer):
        assert _start(api_client_for(user), cast.project, 1000).status_code == 403
    assert AuditEvent.objects.filter(action="denied.upload_data").count() == 2


def test_an_upload_over_the_limit_is_refused_with_413_before_anything_is_stored(
    cast: Any, api_client_for: Any, settings: Any
) -> None:
    from vault.models import DataKey

    settings.MAX_UPLOAD_BYTES = 2 * CHUNK
    keys = DataKey.objects.count()
    response = _start(api_client_for(cast.steward), cast.project, 2 * CHUNK + 1)
    assert response.status_code == 413
    assert DataKey.objects.count() == keys


def test_a_chunk_larger_than_its_slot_is_refused(cast: Any, api_client_for: Any) -> None:
    client = api_client_for(cast.steward)
    upload_id = _start(client, cast.project, 3 * CHUNK).json()["id"]
    assert _put(client, upload_id, 0, b"x" * (CHUNK + 1)).status_code == 400
    assert client.get(f"/api/v1/uploads/{upload_id}/").json()["received"] == []
