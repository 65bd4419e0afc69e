"""Runs the ingestion pipeline for one dataset: raw blob -> clean records blob + findings.

Streaming with bounded memory: records are parsed, cleaned and scanned in batches and written
to an encrypted blob as they go. A second pass applies consistency (a value found once is found
everywhere). Called by ``datasets_app.tasks.ingest_dataset``; raises ``IngestionError`` with a
message for the user on bad input.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

from datasets_app.options import IngestOptions

T = TypeVar("T")
RECORDS_BLOB = "records.jsonl"
BATCH_SIZE = 256


class IngestionError(Exception):
    """Input the pipeline cannot use; the message is shown to the user as is."""


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Yield lists of up to ``size`` items."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def record_fields(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The (field path, text) pairs of a stored record that PII detection scans."""
    if record.get("messages"):
        return [(f"messages.{i}.content", m["content"]) for i, m in enumerate(record["messages"])]
    if record.get("prompt") is not None:
        return [("prompt", record["prompt"]), ("completion", record.get("completion") or "")]
    return [("text", record.get("text") or "")]


def set_field(record: dict[str, Any], path: str, value: str) -> None:
    """Replace the text at ``path`` (as produced by ``record_fields``)."""
    if path.startswith("messages."):
        record["messages"][int(path.split(".")[1])]["content"] = value
    else:
        record[path] = value


def value_digest(secret: bytes, entity_type: str, value: str) -> str:
    """Keyed digest of a found value: groups equal values without storing them."""
    normalized = " ".join(value.casefold().split())
    mac = hmac.new(secret, f"{entity_type}\x00{normalized}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


@lru_cache(maxsize=2)
def _detector(config_json: str) -> Any:
    """One detector per configuration per process: loading spaCy models takes seconds."""
    from datasets_app.pipeline.pii import DetectorConfig, PiiDetector

    return PiiDetector(DetectorConfig.from_dict(json.loads(config_json)))


def detector_for(options: IngestOptions) -> Any:
    config = {
        "score_threshold": options.score_threshold,
        "allow_list": options.allow_list,
        "deny_list": options.deny_list,
    }
    return _detector(json.dumps(config, sort_keys=True))


@dataclass
class FoundSpan:
    """A finding before it becomes a database row."""

    record_index: int
    field: str
    start: int
    end: int
    entity_type: str
    score: float
    recognizer: str
    digest: str


@dataclass
class IngestResult:
    """Everything the ingestion learned, for the dataset row."""

    records: int = 0
    languages: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    findings: list[FoundSpan] = field(default_factory=list)
    parse_report: dict[str, Any] = field(default_factory=dict)
    cleaning_report: dict[str, Any] = field(default_factory=dict)


def clean_stream(
    name: str, stream: Any, options: IngestOptions, result: IngestResult
) -> Iterator[dict[str, Any]]:
    """Parse and clean records, yielding stored-record dicts with a ``lang`` field."""
    from datasets_app.pipeline import cleaning, parsing

    parse_options = parsing.ParseOptions(
        text_columns=options.text_columns,
        skip_bad_lines=options.skip_bad_lines,
        text_split=options.text_split,
    )
    report = parsing.ParseReport()
    cleaner = cleaning.Cleaner(cleaning.CleaningConfig.from_dict(options.cleaning))
    try:
        for record in parsing.iter_records(name, stream, parse_options, report):
            kept = cleaner.process(record)
            if kept is None:
                continue
            stored = kept.to_dict()
            stored["lang"] = _language(kept, options)
            yield stored
    except parsing.ParseError as exc:
        raise IngestionError(str(exc)) from exc
    result.parse_report = _parse_report_dict(report)
    result.cleaning_report = cleaner.report().to_dict()


def _language(record: Any, options: IngestOptions) -> str:
    if options.language != "auto":
        return options.language
    from datasets_app.pipeline.language import detect_language

    lang = getattr(record, "lang", None) or detect_language(record.joined_text())
    return lang


def _parse_report_dict(report: Any) -> dict[str, Any]:
    return {
        "records": report.records,
        "skipped_lines": [
            {"source": src, "line": line, "reason": reason}
            for src, line, reason in report.skipped_lines[:100]
        ],
        "skipped_count": report.skipped_total,
        "notices": report.notices[:50],
    }


def scan_batch(
    batch: list[dict[str, Any]], first_index: int, detector: Any, secret: bytes, index: Any
) -> list[FoundSpan]:
    """Detect PII in every field of every record of the batch; index the found values in
    ``index`` (a ``ValueIndex``) for the consistency pass."""
    texts: list[str] = []
    langs: list[str] = []
    where: list[tuple[int, str]] = []
    for offset, record in enumerate(batch):
        for path, text in record_fields(record):
            texts.append(text)
            langs.append(record.get("lang") if record.get("lang") in ("en", "es") else "en")
            where.append((first_index + offset, path))
    spans: list[FoundSpan] = []
    detected = detector.detect(texts, langs)
    for (record_index, path), text, findings in zip(where, texts, detected, strict=True):
        index.add(text, findings)
        spans.extend(_spans(record_index, path, text, findings, secret))
    return spans


def _spans(
    record_index: int, path: str, text: str, findings: Any, secret: bytes
) -> list[FoundSpan]:
    return [
        FoundSpan(
            record_index,
            path,
            f.start,
            f.end,
            f.entity_type,
            f.score,
            f.recognizer,
            value_digest(secret, f.entity_type, text[f.start : f.end]),
        )
        for f in findings
    ]


def propagate(stream: Any, result: IngestResult, secret: bytes, index: Any) -> list[FoundSpan]:
    """Second pass: every occurrence of a value found anywhere becomes a finding too (a name
    found once as "Mark Scott" also catches a later "Hi Mark"). Returns only the new spans."""
    from datasets_app.pipeline.pii import Finding

    if len(index) == 0:
        stream.close()
        return []
    existing: dict[tuple[int, str], list[Any]] = {}
    for span in result.findings:
        existing.setdefault((span.record_index, span.field), []).append(
            Finding(span.start, span.end, span.entity_type, span.score, span.recognizer)
        )
    extra: list[FoundSpan] = []
    with stream:
        for record_index, line in enumerate(stream):
            for path, text in record_fields(json.loads(line)):
                known = existing.get((record_index, path), [])
                added = _new_only(known, index.scan(text))
                extra.extend(_spans(record_index, path, text, added, secret))
    return extra


def _new_only(known: list[Any], candidates: list[Any]) -> list[Any]:
    from datasets_app.pipeline.pii_propagation import merge_new

    kept = {(f.start, f.end, f.entity_type) for f in known}
    return [f for f in merge_new(known, candidates) if (f.start, f.end, f.entity_type) not in kept]


def read_slice(stream: Any, offset: int, limit: int) -> list[dict[str, Any]]:
    """Records ``offset`` .. ``offset+limit`` of a JSONL stream (closes the stream)."""
    page: list[dict[str, Any]] = []
    with stream:
        for index, line in enumerate(stream):
            if index < offset:
                continue
            if index >= offset + limit:
                break
            page.append(json.loads(line))
    return page
