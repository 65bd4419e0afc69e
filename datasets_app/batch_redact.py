"""Batch redaction of a file, for data stewards who script (``manage.py redact``).

Applies the same parsing, detection, consistency pass and operators as the platform, accepting
every finding, and writes JSONL lines in input order. The input is read as is (no cleaning, no
deduplication), so line N of the output is record N of the input.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets_app import ingestion

BATCH = 256


@dataclass
class RedactSummary:
    """What the command did, for its closing line."""

    records: int = 0
    findings: int = 0
    dropped: int = 0


def _records(path: Path, language: str) -> Iterator[dict[str, Any]]:
    from datasets_app.pipeline import parsing
    from datasets_app.pipeline.language import detect_language

    report = parsing.ParseReport()
    with path.open("rb") as stream:
        for record in parsing.iter_records(path.name, stream, parsing.ParseOptions(), report):
            stored = record.to_dict()
            stored["lang"] = (
                language if language != "auto" else detect_language(record.joined_text())
            )
            yield stored


def _scan(records: list[dict[str, Any]], detector: Any) -> tuple[list[list[Any]], Any]:
    """Findings per (record, field) pair, in record_fields order, plus the value index."""
    index = detector.new_value_index()
    texts, langs = [], []
    for record in records:
        for _, text in ingestion.record_fields(record):
            texts.append(text)
            langs.append(record["lang"] if record["lang"] in ("en", "es") else "en")
    found: list[list[Any]] = []
    for start in range(0, len(texts), BATCH):
        chunk = texts[start : start + BATCH]
        for text, findings in zip(
            chunk, detector.detect(chunk, langs[start : start + BATCH]), strict=True
        ):
            index.add(text, findings)
            found.append(findings)
    return found, index


def redact_file(
    input_path: Path, output_path: Path, *, language: str, operator: str, secret: bytes
) -> RedactSummary:
    """Redact ``input_path`` into ``output_path`` (written atomically). Raises
    ``ingestion.IngestionError`` with a readable message for malformed input."""
    from datasets_app.options import IngestOptions
    from datasets_app.pipeline import parsing
    from datasets_app.pipeline.pii_propagation import merge_new
    from datasets_app.pipeline.redaction import redact_text

    try:
        records = list(_records(input_path, language))
    except parsing.ParseError as exc:
        raise ingestion.IngestionError(str(exc)) from exc
    detector = ingestion.detector_for(IngestOptions(operator=operator), parallel=True)
    found, index = _scan(records, detector)
    summary = RedactSummary(records=len(records))
    part = output_path.with_name(output_path.name + ".part")
    with part.open("w", encoding="utf-8") as out:
        cursor = 0
        for record in records:
            redacted: dict[str, Any] | None = dict(record)
            for path, text in ingestion.record_fields(record):
                findings = merge_new(found[cursor], index.scan(text))
                cursor += 1
                summary.findings += len(findings)
                value = (
                    redact_text(
                        text, findings, operators=operator, secret=secret, language=record["lang"]
                    )
                    if findings
                    else text
                )
                if value is None:
                    redacted = None
                    break
                ingestion.set_field(redacted, path, value)
            if redacted is None:
                summary.dropped += 1
                continue
            out.write(json.dumps(_output_shape(redacted), ensure_ascii=False) + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(part, output_path)
    return summary


def _output_shape(record: dict[str, Any]) -> dict[str, Any]:
    """The record in its input shape: its fields without the pipeline's bookkeeping."""
    keys = ("text", "prompt", "completion", "messages", "chosen", "rejected", "label")
    return {key: record[key] for key in keys if key in record}
