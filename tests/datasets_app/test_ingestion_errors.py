"""Bad input through the whole ingestion path: a clear reason, never a 5xx, nothing lost."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets_app.services import run_ingestion


@pytest.fixture
def ingest(cast: Any, api_client_for: Any, monkeypatch: Any) -> Any:
    monkeypatch.setattr("datasets_app.services._enqueue_ingestion", lambda _id: None)
    client = api_client_for(cast.steward)

    def run(name: str, content: bytes, **options: Any) -> dict:
        response = client.post(
            "/api/v1/datasets/",
            {
                "file": SimpleUploadedFile(name, content),
                "project": cast.project.pk,
                "options": json.dumps(options),
            },
            format="multipart",
        )
        assert response.status_code == 202, response.content
        run_ingestion(response.json()["id"])
        return client.get(f"/api/v1/datasets/{response.json()['id']}/").json()

    return run


def test_malformed_jsonl_line_fails_the_dataset_naming_the_line(ingest: Any) -> None:
    body = ingest("t.jsonl", b'{"text": "one"}\n{"text": "two"}\n{"text": oops}\n')
    assert body["status"] == "failed"
    assert "line 3" in body["error"]


def test_skip_bad_lines_keeps_the_good_ones_and_reports_the_bad(ingest: Any) -> None:
    body = ingest(
        "t.jsonl",
        b'{"text": "the first good line"}\nnot json\n{"text": "another good line here"}\n',
        skip_bad_lines=True,
    )
    assert body["status"] == "needs_review"
    assert body["record_count"] == 2
    assert body["parse_report"]["skipped_count"] == 1
    assert body["parse_report"]["skipped_lines"][0]["line"] == 2


def test_binary_file_is_refused_with_a_reason(ingest: Any) -> None:
    body = ingest("blob.jsonl", b"\x00\x01\x02\xff" * 100)
    assert body["status"] == "failed" and body["error"]


def test_csv_without_the_chosen_column_names_the_columns_present(ingest: Any) -> None:
    body = ingest("t.csv", b"id,body\n1,hello there\n", text_columns=["message"])
    assert body["status"] == "failed"
    assert "message" in body["error"] and "body" in body["error"]


def test_archive_with_an_unsafe_path_is_refused(ingest: Any) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../evil.jsonl", '{"text": "x"}\n')
    body = ingest("a.zip", buffer.getvalue())
    assert body["status"] == "failed" and "evil.jsonl" in body["error"]


def test_html_in_records_is_stripped_and_never_executed(
    ingest: Any, cast: Any, api_client_for: Any
) -> None:
    body = ingest(
        "t.jsonl",
        json.dumps(
            {"text": "<p>Printer <b>jam</b></p><script>alert(1)</script> on floor two"}
        ).encode()
        + b"\n",
    )
    assert body["status"] == "needs_review"
    page = api_client_for(cast.steward).get(f"/api/v1/datasets/{body['id']}/records/?raw=1")
    text = page.json()["results"][0]["text"]
    assert "<script>" not in text and "alert(1)" not in text and "Printer jam" in text
