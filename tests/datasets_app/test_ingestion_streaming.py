"""Ingestion writes findings batch by batch and never keeps a partial set after a failure.

Batches are shrunk to two records (``small_batches``, in ``conftest.py``) so that a handful of
records crosses several batch boundaries; the results must equal detecting and propagating over the whole dataset at once.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from audit.models import AuditEvent
from datasets_app import ingest_runner, ingestion, services
from datasets_app.models import Dataset, DatasetStatus, Finding
from datasets_app.options import IngestOptions
from datasets_app.pipeline.pii import propagate_findings
from datasets_app.services import run_ingestion
from vault import services as vault


def _stored(dataset_id: int) -> set[tuple[Any, ...]]:
    return set(
        Finding.objects.filter(dataset_id=dataset_id).values_list(
            "record_index", "field", "start", "end", "entity_type", "recognizer"
        )
    )


def _reference(dataset: Dataset) -> set[tuple[Any, ...]]:
    """Detect over every field of the stored records in one batch, then propagate at once."""
    with vault.open_blob(dataset.data_key, ingestion.RECORDS_BLOB) as stream:
        records = [json.loads(line) for line in stream]
    where, texts, langs = [], [], []
    for index, record in enumerate(records):
        for path, text in ingestion.record_fields(record):
            where.append((index, path))
            texts.append(text)
            langs.append(record["lang"] if record["lang"] in ("en", "es") else "en")
    detector = ingestion.detector_for(IngestOptions.from_dict(dataset.options))
    found = propagate_findings(
        texts, detector.detect(texts, langs), index=detector.new_value_index()
    )
    return {
        (i, path, f.start, f.end, f.entity_type, f.recognizer[:80])
        for (i, path), fs in zip(where, found, strict=True)
        for f in fs
    }


def test_batched_ingestion_finds_exactly_what_a_whole_dataset_pass_finds(
    small_batches: None, upload: Any
) -> None:
    dataset_id = upload()
    run_ingestion(dataset_id)
    dataset = Dataset.objects.get(pk=dataset_id)
    assert dataset.status == DatasetStatus.NEEDS_REVIEW
    stored = _stored(dataset_id)
    assert stored == _reference(dataset)
    # "Mark Scott" (record 2, second batch) catches "SCOTT" in record 1 (first batch) and
    # "Scott" in record 4 (third batch): consistency crosses batches both ways.
    propagated = {f[0] for f in stored if f[4] == "PERSON" and f[5] == "propagation"}
    assert {1, 4} <= propagated
    assert dataset.pii_summary["total"] == len(stored) == Finding.objects.count()
    assert sum(dataset.pii_summary["by_type"].values()) == len(stored)


def test_findings_reach_the_database_while_records_are_still_being_scanned(
    small_batches: None, upload: Any, monkeypatch: Any
) -> None:
    seen_before_each_write: list[int] = []
    write = ingest_runner.FindingWriter.write

    def spying_write(self: Any, spans: Any) -> None:
        seen_before_each_write.append(Finding.objects.filter(dataset_id=self.dataset_id).count())
        write(self, spans)

    monkeypatch.setattr(ingest_runner.FindingWriter, "write", spying_write)
    dataset_id = upload()
    run_ingestion(dataset_id)
    # One write per batch of each pass: 4 batches of records, twice.
    assert len(seen_before_each_write) == 8
    assert seen_before_each_write[0] == 0
    assert seen_before_each_write[3] > 0  # earlier batches are stored before the last is scanned


def test_an_internal_error_midway_fails_the_dataset_and_leaves_no_findings(
    small_batches: None, upload: Any, monkeypatch: Any
) -> None:
    scan = ingestion.scan_batch
    calls = {"n": 0}

    def failing_third_batch(*args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("detector crashed")
        return scan(*args)

    monkeypatch.setattr(ingestion, "scan_batch", failing_third_batch)
    dataset_id = upload()
    with pytest.raises(RuntimeError, match="detector crashed"):
        run_ingestion(dataset_id)
    dataset = Dataset.objects.get(pk=dataset_id)
    assert dataset.status == DatasetStatus.FAILED
    assert "internal error" in dataset.error
    assert not Finding.objects.filter(dataset_id=dataset_id).exists()
    assert AuditEvent.objects.filter(action="dataset.ingest", outcome="error").exists()


def test_bad_input_found_during_the_consistency_pass_fails_with_its_message(
    small_batches: None, upload: Any, monkeypatch: Any
) -> None:
    def refuse(*_args: Any) -> Any:
        raise ingestion.IngestionError("The records could not be read back.")
        yield []  # a generator, like the real one

    monkeypatch.setattr(ingestion, "propagate", refuse)
    dataset_id = upload()
    run_ingestion(dataset_id)
    dataset = Dataset.objects.get(pk=dataset_id)
    assert (dataset.status, dataset.error) == ("failed", "The records could not be read back.")
    assert not Finding.objects.filter(dataset_id=dataset_id).exists()


def test_findings_of_an_interrupted_attempt_are_replaced_not_doubled(upload: Any) -> None:
    dataset_id = upload()
    Finding.objects.create(
        dataset_id=dataset_id, record_index=6, start=0, end=6, entity_type="PERSON", score=0.9
    )
    run_ingestion(dataset_id)
    stored = _stored(dataset_id)
    assert (6, "text", 0, 6, "PERSON", "") not in stored
    assert len(stored) == Finding.objects.filter(dataset_id=dataset_id).count()


def test_findings_stay_hidden_from_reviewers_while_the_dataset_is_processing(
    cast: Any, api_client_for: Any, upload: Any
) -> None:
    dataset_id = upload()
    Finding.objects.create(
        dataset_id=dataset_id, record_index=0, start=3, end=7, entity_type="PERSON", score=0.9
    )
    steward = api_client_for(cast.steward)
    response = steward.get(f"/api/v1/datasets/{dataset_id}/findings/")
    assert response.status_code == 200 and response.json()["results"] == []
    run_ingestion(dataset_id)
    assert steward.get(f"/api/v1/datasets/{dataset_id}/findings/").json()["count"] > 0


def test_a_duplicate_message_for_a_finished_dataset_changes_nothing(upload: Any) -> None:
    dataset_id = upload()
    run_ingestion(dataset_id)
    before = _stored(dataset_id)
    services.run_ingestion(dataset_id)
    assert _stored(dataset_id) == before
