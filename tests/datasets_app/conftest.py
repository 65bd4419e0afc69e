"""Fixtures for ingestion tests: an upload through the API left in ``processing`` (its message
is not sent, so each test runs ingestion itself) and batches shrunk to cross boundaries."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets_app import ingest_runner, ingestion

RECORDS = [
    {"text": "Hi Mark, the refund for order 1182 went out this morning."},
    {"text": "The printer on the third floor was fixed by SCOTT yesterday afternoon."},
    {"prompt": "Who approved the refund?", "completion": "Mark Scott approved it on Monday."},
    {"text": "Please write to laura.gomez@example.com before Friday about the invoice."},
    {
        "messages": [
            {"role": "user", "content": "Can Laura call me back at +1 415 555 0134?"},
            {"role": "assistant", "content": "Yes, Scott will ask Laura to call you today."},
        ]
    },
    {"text": "The deploy log leaked AKIAIOSFODNN7EXAMPLE again, says Mark."},
    {"text": "Weekly note: the coffee machine on floor two is fixed."},
]


@pytest.fixture
def small_batches(monkeypatch: Any) -> None:
    monkeypatch.setattr(ingestion, "BATCH_SIZE", 2)
    monkeypatch.setattr(ingest_runner, "INSERT_BATCH", 3)


@pytest.fixture
def upload(cast: Any, api_client_for: Any, monkeypatch: Any) -> Any:
    """Returns ``make(records) -> dataset id`` of a dataset in ``processing``."""
    monkeypatch.setattr("datasets_app.services._enqueue_ingestion", lambda _id: None)

    def make(records: list[dict[str, Any]] = RECORDS) -> int:
        body = "".join(json.dumps(r) + "\n" for r in records).encode()
        response = api_client_for(cast.steward).post(
            "/api/v1/datasets/",
            {"file": SimpleUploadedFile("t.jsonl", body), "project": cast.project.pk},
            format="multipart",
        )
        assert response.status_code == 202, response.content
        return response.json()["id"]

    return make
