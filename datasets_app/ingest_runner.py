"""Runs the ingestion of one dataset in the ingestion worker, with bounded memory.

``ingest`` streams the raw blob through parsing, cleaning and PII detection
(``datasets_app.ingestion``) into the encrypted records blob, and writes each batch's findings
to the database as soon as they are found (``FindingWriter``). The consistency pass then reads
the records blob again, batch by batch, reading back only that batch's first-pass findings.
So neither pass holds the dataset's findings in memory; what still grows with the input is
listed in ``datasets_app.ingestion``.

Findings appear while the dataset is still ``processing``: ``services.findings_for`` hides
them until ingestion ends, and the caller (``services.run_ingestion``) deletes them when it
fails. Findings left by an interrupted earlier attempt are deleted before a new one starts.

Every run holds the dataset's ingestion lease (``datasets_app.ingest_lease``): it is renewed
per parsed record and per findings batch (throttled to every few seconds), and the deletion at
the start and the final move to ``needs_review`` are fenced on it. A run that lost its lease
raises ``IngestLeaseLost`` and leaves the findings to the new owner.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from audit.services import SYSTEM, record_event
from datasets_app import ingestion
from datasets_app.digests import finding_secret
from datasets_app.ingest_lease import IngestLease, IngestLeaseLost
from datasets_app.models import Dataset, DatasetStatus, Finding, SourceTrust
from datasets_app.options import IngestOptions
from datasets_app.provenance import UploadOrigin
from datasets_app.risk_ingest import EVIDENCE_BLOB, IngestScreen, discard_risk_flags, source_rules
from datasets_app.signals import ingestion_finished
from datasets_app.uploads import RAW_BLOB
from ops.signals import send_on_commit
from vault import services as vault
from vault.models import DataKey

INSERT_BATCH = 1000


class FindingWriter:
    """Stores the findings of one leased dataset batch by batch and counts them by type."""

    def __init__(self, lease: IngestLease) -> None:
        self.lease = lease
        self.dataset_id = lease.dataset_id
        self.by_type: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return sum(self.by_type.values())

    def write(self, spans: Iterable[ingestion.FoundSpan]) -> None:
        """Insert ``spans`` as pending findings (one bulk insert per INSERT_BATCH rows).

        Keeps the lease alive first (called once per batch, with or without spans), in the
        same transaction as the insert. Raises ``IngestLeaseLost``, inserting nothing, when
        the lease is gone."""
        rows = [self._row(span) for span in spans]
        with transaction.atomic():
            self.lease.keep_alive()
            if rows:
                Finding.objects.bulk_create(rows, batch_size=INSERT_BATCH)
        self.by_type.update(row.entity_type for row in rows)

    def _row(self, span: ingestion.FoundSpan) -> Finding:
        return Finding(
            dataset_id=self.dataset_id,
            record_index=span.record_index,
            field=span.field,
            start=span.start,
            end=span.end,
            entity_type=span.entity_type,
            score=round(span.score, 4),
            recognizer=span.recognizer[:80],
            value_digest=span.digest,
        )

    def known_in(self, first: int, stop: int) -> ingestion.KnownSpans:
        """The stored findings of records ``first`` .. ``stop - 1`` (an indexed range query)."""
        rows = (
            Finding.objects.filter(
                dataset_id=self.dataset_id, record_index__gte=first, record_index__lt=stop
            )
            .order_by()
            .values_list("record_index", "field", "start", "end", "entity_type")
        )
        known: ingestion.KnownSpans = {}
        for record_index, path, start, end, entity_type in rows:
            known.setdefault((record_index, path), []).append((start, end, entity_type))
        return known


def upload_origin(dataset: Dataset) -> UploadOrigin:
    """What every record of ``dataset`` shares in its provenance."""
    uploader = dataset.uploaded_by.get_username() if dataset.uploaded_by else ""
    return UploadOrigin(dataset.pk, dataset.source_name, uploader)


def discard_findings(dataset_id: int) -> None:
    """Delete every finding and risk flag of a dataset (a failed or interrupted ingestion's
    partial set)."""
    Finding.objects.filter(dataset_id=dataset_id).delete()
    discard_risk_flags(dataset_id)


@dataclass
class _Run:
    """What both passes of one ingestion share."""

    dataset: Dataset
    lease: IngestLease
    options: IngestOptions
    data_key: DataKey
    secret: bytes
    detector: Any
    index: Any
    writer: FindingWriter
    rules: dict[str, frozenset[str]]
    screen: IngestScreen | None = None


def ingest(dataset: Dataset, lease: IngestLease) -> None:
    """Ingest ``dataset`` (in ``processing``, claimed with ``lease``) and leave it
    ``needs_review``.

    Raises ``ingestion.IngestionError`` (a message for the user) on unusable input and lets
    other errors through; either way findings written so far stay for the caller to delete.
    Raises ``IngestLeaseLost`` as soon as a renewal finds the lease taken over: the caller
    must then write nothing (the findings are the new owner's to delete).
    """
    with transaction.atomic():
        lease.renew()  # fences the deletion: no claim wins between the check and the delete
        discard_findings(dataset.pk)
    run = _start(dataset, lease)
    result = _scan_records(run)
    if result.records == 0:
        vault.destroy_data_key(SYSTEM, run.data_key, reason="empty dataset")
        raise ingestion.IngestionError(
            f"{dataset.source_name} contains no usable records after cleaning."
        )
    stream = vault.open_blob(run.data_key, ingestion.RECORDS_BLOB)
    for spans in ingestion.propagate(stream, run.secret, run.index, run.writer.known_in):
        run.writer.write(spans)
    _save(run, result)


def _start(dataset: Dataset, lease: IngestLease) -> _Run:
    options = IngestOptions.from_dict(dataset.options)
    data_key, raw_key = vault.create_data_key("dataset-records", parent=dataset.raw_key)
    detector = ingestion.detector_for(options, parallel=True)
    return _Run(
        dataset=dataset,
        lease=lease,
        options=options,
        data_key=data_key,
        secret=finding_secret(raw_key),
        detector=detector,
        index=detector.new_value_index(),
        writer=FindingWriter(lease),
        rules=source_rules(dataset.project_id),
    )


def _scan_records(run: _Run) -> ingestion.IngestResult:
    """First pass: raw blob -> cleaned records blob; each batch's findings stored at once."""
    result = ingestion.IngestResult()
    with (
        vault.open_blob(run.dataset.raw_key, RAW_BLOB) as raw,
        vault.blob_writer(run.data_key, ingestion.RECORDS_BLOB) as out,
        vault.blob_writer(run.data_key, EVIDENCE_BLOB) as evidence,
    ):
        if run.options.screen:
            run.screen = IngestScreen(run.lease, evidence, run.rules)
        records = ingestion.clean_stream(
            run.dataset.source_name,
            raw,
            run.options,
            result,
            # Cleaning may drop many records in a row; keep the lease alive meanwhile too.
            on_record=run.lease.keep_alive,
            upload=upload_origin(run.dataset),
            blocked=run.rules.get(SourceTrust.BLOCKED, frozenset()),
            on_kept=run.screen.observe if run.screen else None,
        )
        for batch in ingestion.batched(records, ingestion.BATCH_SIZE):
            run.writer.write(
                ingestion.scan_batch(batch, result.records, run.detector, run.secret, run.index)
            )
            for record in batch:
                result.kinds[record["kind"]] += 1
                result.languages[record["lang"]] += 1
                out.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")
            result.records += len(batch)
            if run.screen:
                run.screen.flush()
        if run.screen:
            run.screen.flush(final=True)
    return result


def without_examples(report: dict[str, Any]) -> dict[str, Any]:
    """The cleaning report minus its examples, which quote record text: those are kept only
    in the encrypted ``cleaning_report.json`` blob."""
    steps = [{k: v for k, v in step.items() if k != "examples"} for step in report.get("steps", [])]
    return {**report, "steps": steps}


def _screen_summary(run: _Run, result: ingestion.IngestResult) -> dict[str, Any]:
    if run.screen is None:
        blocked = dict(result.blocked)
        return {"blocked": blocked, "blocked_total": sum(blocked.values()), "skipped": True}
    return run.screen.summary(result.blocked)


def _save(run: _Run, result: ingestion.IngestResult) -> None:
    """Write the cleaning report blob and move the dataset to ``needs_review``, atomically and
    fenced on the lease (which it releases). Raises ``IngestLeaseLost``, changing no row, when
    the lease is gone."""
    report = json.dumps(result.cleaning_report).encode()
    vault.write_blob(run.data_key, ingestion.CLEANING_REPORT_BLOB, report)
    by_type = dict(run.writer.by_type)
    with transaction.atomic():
        saved = run.lease.owned().update(
            status=DatasetStatus.NEEDS_REVIEW,
            ingest_lease_owner="",
            ingest_lease_expires_at=None,
            data_key=run.data_key,
            record_count=result.records,
            languages=dict(result.languages),
            parse_report=result.parse_report,
            cleaning_report=without_examples(result.cleaning_report),
            pii_summary={
                "by_type": by_type,
                "total": run.writer.total,
                "detector": run.detector.versions(),
                "kinds": dict(result.kinds),
            },
            source_format=result.parse_report.get("format", ""),
            screen_summary=_screen_summary(run, result),
        )
        if saved != 1:
            raise IngestLeaseLost(f"dataset {run.dataset.pk}")
        record_event(
            SYSTEM,
            "dataset.ingest",
            obj=run.dataset,
            details={
                "records": result.records,
                "findings": run.writer.total,
                "risk_flags": sum(run.screen.by_detector.values()) if run.screen else 0,
                "blocked_records": sum(result.blocked.values()),
            },
        )
        send_on_commit(
            ingestion_finished,
            sender=Dataset,
            dataset_id=run.dataset.pk,
            outcome=DatasetStatus.NEEDS_REVIEW.value,
        )
