"""Every stored record says where it came from, through archives and e-mail, and the
provenance stays in the encrypted records (never in a redacted record or a version)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from audit.services import Actor
from datasets_app import ingestion
from datasets_app.models import Dataset, DatasetStatus
from datasets_app.services import approve_dataset, run_ingestion
from datasets_app.versioning import iter_version_records, preview_redacted
from vault import services as vault

EMAIL = (
    "From: Ana Ruiz <ana.ruiz@Proveedor.Example>\n"
    "To: soporte@example.com\n"
    "Subject: pedido\n\n"
    "Hola, el pedido llega el martes por la tarde a la oficina central.\n"
)
MBOX = (
    "From ana@proveedor.example Mon Dec  1 10:00:00 2026\n"
    "From: ana@proveedor.example\nSubject: uno\n\n"
    "The shipment for the north warehouse leaves on Tuesday morning.\n\n"
    "From bob@partner.example Mon Dec  1 11:00:00 2026\n"
    "From: Bob <bob@partner.example>\nSubject: dos\n\n"
    "Our invoice for the spring maintenance contract is attached as usual.\n"
)


def _upload(
    cast: Any, api_client_for: Any, monkeypatch: Any, name: str, body: bytes, **options: Any
) -> int:
    monkeypatch.setattr("datasets_app.services._enqueue_ingestion", lambda _id: None)
    data = {"file": SimpleUploadedFile(name, body), "project": cast.project.pk}
    if options:
        data["options"] = json.dumps(options)
    response = api_client_for(cast.steward).post("/api/v1/datasets/", data, format="multipart")
    assert response.status_code == 202, response.content
    dataset_id: int = response.json()["id"]
    run_ingestion(dataset_id)
    assert Dataset.objects.get(pk=dataset_id).status == DatasetStatus.NEEDS_REVIEW
    return dataset_id


def _stored(dataset_id: int) -> list[dict[str, Any]]:
    dataset = Dataset.objects.get(pk=dataset_id)
    with vault.open_blob(dataset.data_key, ingestion.RECORDS_BLOB) as stream:
        return [json.loads(line) for line in stream]


def _zip(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_jsonl_source_field_names_the_source_and_the_upload_and_uploader_are_kept(
    cast: Any, api_client_for: Any, monkeypatch: Any
) -> None:
    lines = [
        {"text": "The wiki page on refunds says thirty days from delivery.", "source": "wiki"},
        {"text": "Ticket about a printer jam on the second floor, fixed today."},
    ]
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    records = _stored(_upload(cast, api_client_for, monkeypatch, "t.jsonl", body))
    first, second = (record["provenance"] for record in records)
    assert first["source"] == "wiki" and first["file"] == "t.jsonl"
    assert first["uploader"] == cast.steward.username and first["upload"] == "t.jsonl"
    assert second["source"] == f"uploader:{cast.steward.username}"


def test_provenance_survives_an_archive_with_csv_source_column_and_email(
    cast: Any, api_client_for: Any, monkeypatch: Any
) -> None:
    body = _zip(
        {
            "export/tickets.csv": "text,system\n"
            "The router in room four restarts every night at two.,helpdesk\n"
            "Please renew the parking permits before the end of the month.,hr-portal\n",
            "mail/one.eml": EMAIL,
            "mail/box.mbox": MBOX,
            "notes.txt": "A plain note about the quarterly inventory count in March.",
        }
    )
    dataset_id = _upload(
        cast, api_client_for, monkeypatch, "bundle.zip", body, source_column="system"
    )
    by_file = {}
    for record in _stored(dataset_id):
        by_file.setdefault(record["provenance"]["file"], []).append(record["provenance"]["source"])
    assert by_file["bundle.zip/export/tickets.csv"] == ["helpdesk", "hr-portal"]
    assert by_file["bundle.zip/mail/one.eml"] == ["email:proveedor.example"]
    assert by_file["bundle.zip/mail/box.mbox"] == [
        "email:proveedor.example",
        "email:partner.example",
    ]
    assert by_file["bundle.zip/notes.txt"] == ["file:bundle.zip/notes.txt"]


def test_missing_source_column_fails_ingestion_with_a_reason(
    cast: Any, api_client_for: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr("datasets_app.services._enqueue_ingestion", lambda _id: None)
    body = b"text\nThe canteen opens at eight on weekdays and at nine on Saturdays.\n"
    response = api_client_for(cast.steward).post(
        "/api/v1/datasets/",
        {
            "file": SimpleUploadedFile("t.csv", body),
            "project": cast.project.pk,
            "options": json.dumps({"source_column": "system"}),
        },
        format="multipart",
    )
    run_ingestion(response.json()["id"])
    dataset = Dataset.objects.get(pk=response.json()["id"])
    assert dataset.status == DatasetStatus.FAILED
    assert 'source column "system" not found' in dataset.error


def test_provenance_stays_out_of_redacted_records_and_versions(
    cast: Any, api_client_for: Any, monkeypatch: Any
) -> None:
    body = json.dumps(
        {"text": "Reply from the vendor about the delayed pallets.", "source": "ana@corp.example"}
    ).encode()
    dataset_id = _upload(cast, api_client_for, monkeypatch, "t.jsonl", body + b"\n")
    assert _stored(dataset_id)[0]["provenance"]["source"] == "email:corp.example"
    dataset = Dataset.objects.get(pk=dataset_id)
    assert "provenance" not in preview_redacted(dataset, 0, 5)[0]
    version = approve_dataset(Actor(user=cast.steward), dataset)
    assert all("provenance" not in r and "origin" not in r for r in iter_version_records(version))


def test_the_upload_page_takes_the_source_column(cast: Any, client: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr("datasets_app.services._enqueue_ingestion", lambda _id: None)
    client.force_login(cast.steward)
    body = b"text,system\nThe canteen opens at eight on weekdays.,facilities\n"
    client.post(
        "/datasets/new/",
        {
            "project": cast.project.pk,
            "file": SimpleUploadedFile("t.csv", body),
            "operator": "placeholder",
            "source_column": "system",
        },
    )
    dataset = Dataset.objects.get()
    assert dataset.options["source_column"] == "system"
    run_ingestion(dataset.pk)
    assert _stored(dataset.pk)[0]["provenance"]["source"] == "facilities"


def test_the_time_a_record_was_written_is_kept_from_jsonl_and_email(
    cast: Any, api_client_for: Any, monkeypatch: Any
) -> None:
    body = _zip(
        {
            "a.jsonl": json.dumps(
                {"text": "The stock count is due on Friday.", "timestamp": "2026-03-01T10:00:00Z"}
            )
            + "\n",
            "b.eml": "Date: Mon, 02 Mar 2026 09:30:00 +0000\n" + EMAIL,
        }
    )
    dataset_id = _upload(cast, api_client_for, monkeypatch, "t.zip", body)
    times = [record["provenance"]["time"] for record in _stored(dataset_id)]
    assert times == ["2026-03-01T10:00:00Z", "2026-03-02T09:30:00+00:00"]
