"""Runs the ingestion pipeline for one dataset: raw blob -> clean records blob + findings.

Streaming with bounded memory: records are parsed, cleaned and scanned in batches and written
to an encrypted blob as they go; the caller stores each batch's findings at once. A second pass
applies consistency (a value found once is found everywhere), again batch by batch, reading the
first pass's findings of just that batch back through a callback. What still grows with the
input: the value index of consistency (one entry per distinct value found, and its compiled
regular expressions), cleaning's exact-duplicate digests (one per kept record, about 100 bytes
each in Python) and its near-duplicate window (up to ``near_window`` records, then flat).
Driven by ``datasets_app.ingest_runner``; raises ``IngestionError`` with a message for the user
on bad input. Imports no Django.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

from datasets_app.digests import finding_digest
from datasets_app.options import IngestOptions
from datasets_app.provenance import UploadOrigin, record_provenance, source_key

T = TypeVar("T")
RECORDS_BLOB = "records.jsonl"
CLEANING_REPORT_BLOB = "cleaning_report.json"
BATCH_SIZE = 256

# (record index, field path) -> [(start, end, entity type)] of the findings already stored.
KnownSpans = dict[tuple[int, str], list[tuple[int, int, str]]]


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


TEXT_KEYS = ("text", "prompt", "completion", "chosen", "rejected")


def record_fields(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The (field path, text) pairs of a stored record that PII detection scans: every message
    content, then text / prompt / completion / chosen / rejected (both answers of a preference
    pair, so a value found in one is found, and redacted alike, in the other)."""
    messages = record.get("messages") or []
    fields = [(f"messages.{i}.content", m["content"]) for i, m in enumerate(messages)]
    fields += [(key, record[key]) for key in TEXT_KEYS if isinstance(record.get(key), str)]
    return fields or [("text", record.get("text") or "")]


def prompt_text(record: dict[str, Any]) -> str:
    """The prompt of a preference record (its text, or its conversation's contents)."""
    if isinstance(record.get("prompt"), str):
        return record["prompt"]
    return " ".join(m["content"] for m in record.get("messages") or [])


def split_text(record: dict[str, Any]) -> str:
    """What decides a record's split: its prompt for preference records, so every answer to a
    prompt (a pair, or KTO's good and bad answers) lands in one split; else all its text."""
    from datasets_app.pipeline.records import PREFERENCE_KINDS  # here: the package loads NLP

    if record.get("kind") in PREFERENCE_KINDS:
        return prompt_text(record)
    return " ".join(text for _, text in record_fields(record))


def trained_text(record: dict[str, Any]) -> str:
    """The text training reads, for token statistics: a pair trains its prompt twice, once
    before each answer, so both sides count."""
    if record.get("kind") == "preference":
        prompt = prompt_text(record)
        return " ".join((prompt, record["chosen"], prompt, record["rejected"]))
    return " ".join(text for _, text in record_fields(record))


def set_field(record: dict[str, Any], path: str, value: str) -> None:
    """Replace the text at ``path`` (as produced by ``record_fields``)."""
    if path.startswith("messages."):
        record["messages"][int(path.split(".")[1])]["content"] = value
    else:
        record[path] = value


@lru_cache(maxsize=2)
def _detector(config_json: str) -> Any:
    """One detector per configuration per process: loading spaCy models takes seconds."""
    from datasets_app.pipeline.pii import DetectorConfig, PiiDetector

    return PiiDetector(DetectorConfig.from_dict(json.loads(config_json)))


def detector_for(options: IngestOptions, *, parallel: bool = False) -> Any:
    """The process's detector for ``options``. ``parallel`` spreads large batches over the
    CPUs this process may use (``pii_workers.default_processes``: workers forked from this
    process, same findings): for the ingestion worker and ``manage.py redact``, never for a
    process that loaded PyTorch (serving, training), whose CUDA state and thread pools a fork
    would copy."""
    from datasets_app.pipeline.pii_workers import default_processes

    config = {
        "score_threshold": options.score_threshold,
        "allow_list": options.allow_list,
        "deny_list": options.deny_list,
        "n_process": default_processes() if parallel else 1,
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
    """Everything the ingestion learned, for the dataset row (findings go to the database as
    they are found, so only their counts live here)."""

    records: int = 0
    languages: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    parse_report: dict[str, Any] = field(default_factory=dict)
    cleaning_report: dict[str, Any] = field(default_factory=dict)
    # Records dropped before cleaning because their source is blocked, by source key.
    blocked: Counter[str] = field(default_factory=Counter)


def clean_stream(
    name: str,
    stream: Any,
    options: IngestOptions,
    result: IngestResult,
    *,
    on_record: Callable[[], None] | None = None,
    upload: UploadOrigin | None = None,
    blocked: frozenset[str] = frozenset(),
    on_kept: Callable[[dict[str, Any]], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Parse and clean records, yielding stored-record dicts with a ``lang`` field and, given
    ``upload``, their ``provenance`` (``datasets_app.provenance``).

    Records whose source key is in ``blocked`` are dropped before cleaning and counted in
    ``result.blocked``. ``on_kept`` is called with ``screen_view`` of each kept record as
    parsed (before cleaning), just before it is yielded. ``on_record`` is called once per parsed record, kept or dropped (the
    runner keeps its lease alive with it); whatever it raises ends the stream."""
    from datasets_app.pipeline import cleaning, parsing

    upload = upload or UploadOrigin(0, name, "")
    parse_options = parsing.ParseOptions(
        source_column=options.source_column,
        text_columns=options.text_columns,
        skip_bad_lines=options.skip_bad_lines,
        text_split=options.text_split,
    )
    report = parsing.ParseReport()
    cleaner = cleaning.Cleaner(cleaning.CleaningConfig.from_dict(options.cleaning))
    try:
        for record in parsing.iter_records(name, stream, parse_options, report):
            if on_record is not None:
                on_record()
            if blocked:
                key = source_key(record.origin, record.source, upload)
                if key in blocked:
                    result.blocked[key] += 1
                    continue
            kept = cleaner.process(record)
            if kept is None:
                continue
            stored = kept.to_dict()
            stored["lang"] = _language(kept, options)
            stored["provenance"] = record_provenance(
                kept.origin, kept.source, upload, kept.origin_time
            )
            if on_kept is not None:
                on_kept(screen_view(record, stored["provenance"]["source"]))
            yield stored
    except parsing.ParseError as exc:
        raise IngestionError(str(exc)) from exc
    result.parse_report = _parse_report_dict(report)
    result.cleaning_report = cleaner.report().to_dict()


def screen_view(record: Any, source: str) -> dict[str, Any]:
    """What the poisoning screen sees of a parsed record: its fields as parsed, under its
    source key, with its time when the data gave one (origin and time, which would be screened
    as text, left out as such)."""
    view = record.to_dict()
    view.pop("origin", None)
    when = view.pop("origin_time", "")
    if when:
        view["timestamp"] = when
    view["source"] = source
    return view


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
            finding_digest(secret, f.entity_type, text[f.start : f.end]),
        )
        for f in findings
    ]


def propagate(
    stream: Any,
    secret: bytes,
    index: Any,
    known_in: Callable[[int, int], KnownSpans],
) -> Iterator[list[FoundSpan]]:
    """Second pass: every occurrence of a value found anywhere becomes a finding too (a name
    found once as "Mark Scott" also catches a later "Hi Mark").

    Reads the records JSONL ``stream`` (closed at the end) in batches of ``BATCH_SIZE``; for
    each batch, ``known_in(first, stop)`` must return the first-pass findings of records
    ``first`` .. ``stop - 1``. Yields, per batch, only the new spans (overlapping no known
    finding); the caller may store them before the next batch is read. Memory: one batch of
    records and its findings, plus ``index``.
    """
    if len(index) == 0:
        stream.close()
        return
    with stream:
        first = 0
        for batch in batched((json.loads(line) for line in stream), BATCH_SIZE):
            known = known_in(first, first + len(batch))
            extra: list[FoundSpan] = []
            for record_index, record in enumerate(batch, start=first):
                for path, text in record_fields(record):
                    added = _new_only(known.get((record_index, path), []), index.scan(text))
                    extra.extend(_spans(record_index, path, text, added, secret))
            yield extra
            first += len(batch)


def _new_only(known: list[tuple[int, int, str]], candidates: list[Any]) -> list[Any]:
    """The ``candidates`` that overlap no ``known`` span (nor an earlier kept candidate)."""
    from datasets_app.pipeline.pii import Finding
    from datasets_app.pipeline.pii_propagation import merge_new

    # Only the positions and type of a known finding matter to the merge.
    existing = [Finding(start, end, entity_type, 0.0, "") for start, end, entity_type in known]
    kept = set(known)
    return [
        f for f in merge_new(existing, candidates) if (f.start, f.end, f.entity_type) not in kept
    ]


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
