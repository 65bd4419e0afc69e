"""Upload parsing entry point: detect the format, then stream records out of it.

``iter_records`` never reads a whole large file into memory: line formats go line by line,
mbox message by message, Parquet batch by batch. Only Parquet and ZIP, which need random
access, are buffered in memory when the stream is not seekable (bounded by
``ParseOptions.max_spool_bytes``). Formats: jsonl, csv, tsv, parquet, text, markdown, eml,
mbox and zip archives of these.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from typing import BinaryIO

from datasets_app.pipeline.archive import iter_zip
from datasets_app.pipeline.formats_email import iter_eml, iter_mbox
from datasets_app.pipeline.formats_jsonl import iter_jsonl
from datasets_app.pipeline.formats_tabular import iter_csv, iter_parquet, iter_tsv
from datasets_app.pipeline.formats_text import iter_markdown, iter_text
from datasets_app.pipeline.records import (
    CHAT_ROLES,
    InvalidRecord,
    Message,
    ParseError,
    ParseOptions,
    ParseReport,
    Record,
    RecordKind,
)
from datasets_app.pipeline.textstream import UTF8_BOM, binary_reason, peek_head

__all__ = [
    "CHAT_ROLES",
    "FORMATS",
    "InvalidRecord",
    "Message",
    "ParseError",
    "ParseOptions",
    "ParseReport",
    "Record",
    "RecordKind",
    "detect_format",
    "iter_records",
]

EXTENSIONS = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv", ".tab": "tsv",
    ".parquet": "parquet", ".pq": "parquet", ".txt": "text", ".text": "text",
    ".md": "markdown", ".markdown": "markdown", ".eml": "eml", ".mbox": "mbox", ".zip": "zip",
}  # fmt: skip
FORMATS = frozenset(EXTENSIONS.values())
_MAGIC = {"parquet": (b"PAR1",), "zip": (b"PK\x03\x04", b"PK\x05\x06")}
_KNOWN_BINARY = {
    b"%PDF": "a PDF document", b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image", b"\x1f\x8b": "a gzip file", b"\x7fELF": "a program",
    b"Rar!": "a RAR archive", b"7z\xbc\xaf": "a 7-Zip archive",
    b"\xd0\xcf\x11\xe0": "an Office file",
}  # fmt: skip
_LABELS = {
    "jsonl": "a JSON Lines file", "csv": "a CSV file", "tsv": "a TSV file", "text": "a text file",
    "markdown": "a Markdown file", "eml": "an email", "mbox": "an mbox mailbox",
}  # fmt: skip
Parser = Callable[[str, BinaryIO, ParseOptions, ParseReport], Iterator[Record]]
_PARSERS: dict[str, Parser] = {
    "jsonl": iter_jsonl, "csv": iter_csv, "tsv": iter_tsv, "parquet": iter_parquet,
    "text": iter_text, "markdown": iter_markdown, "eml": iter_eml, "mbox": iter_mbox,
}  # fmt: skip


def detect_format(filename: str, head: bytes) -> str:
    """Returns the format of a file from its name and first bytes.

    Takes the extension first (content-sniffed when there is none) and verifies it
    against the head. Raises ParseError for an empty file, binary data in a text format,
    a wrong magic number, or an unsupported extension.
    """
    if not head.removeprefix(UTF8_BOM).strip():
        raise ParseError("the file is empty", path=filename)
    suffix = PurePosixPath(filename).suffix.lower()
    fmt = EXTENSIONS.get(suffix) if suffix else _sniff(head, filename)
    if fmt is None:
        supported = ", ".join(sorted(EXTENSIONS))
        raise ParseError(f'unsupported file type "{suffix}"; supported: {supported}', path=filename)
    if fmt in _MAGIC:
        if not head.startswith(_MAGIC[fmt]):
            raise ParseError(f"this is not a valid {fmt} file", path=filename)
        return fmt
    reason = _binary_description(head)
    if reason:
        raise ParseError(
            f"this looks like binary data, not {_LABELS[fmt]}: {reason}", path=filename
        )
    return fmt


def _name(filename: str) -> str:
    return PurePosixPath(filename).name or filename


def _sniff(head: bytes, filename: str) -> str:
    for fmt, magics in _MAGIC.items():
        if head.startswith(magics):
            return fmt
    reason = _binary_description(head)
    if reason:
        raise ParseError(f"this looks like binary data: {reason}", path=filename)
    text = head.removeprefix(UTF8_BOM).lstrip()
    if text.startswith(b"From "):
        return "mbox"
    return "jsonl" if text.startswith(b"{") else "text"


def _binary_description(head: bytes) -> str | None:
    for magic, what in _KNOWN_BINARY.items():
        if head.startswith(magic):
            return f"it is {what}"
    return binary_reason(head)


def iter_records(
    filename: str, stream: BinaryIO, options: ParseOptions, report: ParseReport
) -> Iterator[Record]:
    """Streams the records of one uploaded file (any supported format, ZIP included).

    ``filename`` names the upload (only its last path component is used in sources);
    ``stream`` is a binary file-like, seekable or not. ``report.records`` counts yielded
    records; skipped lines and notices are added as they happen. Raises ParseError
    (possibly mid-iteration) for unreadable input, and when a file holds no records.
    """
    path = _name(filename)
    head, stream = peek_head(stream)
    fmt = detect_format(path, head)
    produced_before = report.records + report.skipped_total
    for record in _parse(fmt, path, stream, options, report):
        report.records += 1
        yield record
    if report.records + report.skipped_total == produced_before:
        raise ParseError("no records found", path=path)


def _parse(
    fmt: str, path: str, stream: BinaryIO, options: ParseOptions, report: ParseReport
) -> Iterator[Record]:
    if fmt == "zip":
        member_parser = functools.partial(_parse_member, options=options, report=report)
        return iter_zip(path, stream, options, report, member_parser)
    return _PARSERS[fmt](path, stream, options, report)


def _parse_member(
    member_path: str, stream: BinaryIO, *, options: ParseOptions, report: ParseReport
) -> Iterator[Record]:
    """Parses one archive member; unsupported, empty and nested-archive members are skipped."""
    suffix = PurePosixPath(member_path).suffix.lower()
    if suffix and suffix not in EXTENSIONS:
        report.notice(f"{member_path}: skipped (unsupported file type {suffix})")
        return
    head, stream = peek_head(stream)
    if not head.removeprefix(UTF8_BOM).strip():
        report.notice(f"{member_path}: skipped (empty)")
        return
    fmt = detect_format(member_path, head)
    if fmt == "zip":
        report.notice(f"{member_path}: skipped (archives inside archives are not supported)")
        return
    yield from _PARSERS[fmt](member_path, stream, options, report)
