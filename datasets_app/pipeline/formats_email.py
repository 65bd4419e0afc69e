"""Email readers: a single ``.eml`` message, or an ``.mbox`` mailbox message by message.

Each message becomes one text record: the From/To/Cc/Subject headers (kept so PII
detection sees them), a blank line, then the body (text/plain preferred, HTML converted).
Attachments are ignored and counted in a notice. A record's origin is
``email:<the From address's domain>`` (never the address itself).
"""

from __future__ import annotations

import email.errors
import re
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import BinaryIO

from datasets_app.pipeline.htmltext import html_to_text
from datasets_app.pipeline.records import (
    ParseError,
    ParseOptions,
    ParseReport,
    Record,
    email_origin,
    reject_line,
)
from datasets_app.pipeline.textstream import decode_legacy, iter_raw_lines, read_up_to

KEPT_HEADERS = ("From", "To", "Cc", "Subject")
_MBOX_ESCAPED_FROM = re.compile(rb"^>+From ")
# Header parsing in the email package can fail on hostile input in several ways.
_EMAIL_ERRORS = (email.errors.MessageError, ValueError, IndexError, TypeError, AttributeError)


def iter_eml(
    path: str, stream: BinaryIO, options: ParseOptions, report: ParseReport
) -> Iterator[Record]:
    """Yields the one record of an ``.eml`` file; ParseError if it is too large or unreadable."""
    data = read_up_to(stream, options.max_message_bytes + 1)
    if len(data) > options.max_message_bytes:
        raise ParseError(f"the email is larger than {options.max_message_bytes} bytes", path=path)
    try:
        text, attachments, origin, when = message_parts(data)
    except _EMAIL_ERRORS as exc:
        raise ParseError(f"unreadable email ({type(exc).__name__})", path=path) from None
    _note_attachments(report, path, attachments)
    if text.strip():
        yield Record(kind="text", text=text, source=path, origin=origin, origin_time=when)


def iter_mbox(
    path: str, stream: BinaryIO, options: ParseOptions, report: ParseReport
) -> Iterator[Record]:
    """Yields one record per message of an mbox file, holding one message at a time.

    Sources are ``inbox.mbox:<line of the From_ separator>``. Messages over
    ``options.max_message_bytes`` or that fail to parse are bad lines (skip or ParseError).
    """
    attachments = 0
    for start, data in _split_mbox(path, stream, options, report):
        if data is None:
            reason = f"message is larger than {options.max_message_bytes} bytes"
            reject_line(reason, path=path, line=start, options=options, report=report)
            continue
        try:
            text, found, origin, when = message_parts(data)
        except _EMAIL_ERRORS as exc:
            reason = f"unreadable message ({type(exc).__name__})"
            reject_line(reason, path=path, line=start, options=options, report=report)
            continue
        attachments += found
        if text.strip():
            yield Record(
                kind="text", text=text, source=f"{path}:{start}", origin=origin, origin_time=when
            )
    _note_attachments(report, path, attachments)


def _split_mbox(
    path: str, stream: BinaryIO, options: ParseOptions, report: ParseReport
) -> Iterator[tuple[int, bytes | None]]:
    """Yields (separator line, message bytes) or (line, None) for an oversized message."""
    lines: list[bytes] = []
    size, start, previous_blank, oversized = 0, 0, True, False
    for line_no, raw in iter_raw_lines(stream, path=path, options=options, report=report):
        if raw.startswith(b"From ") and previous_blank:
            if start:
                yield start, None if oversized else b"".join(lines)
            lines, size, start, oversized = [], 0, line_no, False
        elif not start:
            if raw.strip():
                reason = 'not an mbox file: it must start with a "From " line'
                raise ParseError(reason, path=path, line=line_no)
        else:
            size += len(raw)
            oversized = oversized or size > options.max_message_bytes
            if not oversized:
                lines.append(raw[1:] if _MBOX_ESCAPED_FROM.match(raw) else raw)
        previous_blank = not raw.strip()
    if start:
        yield start, None if oversized else b"".join(lines)


def message_text(data: bytes) -> tuple[str, int]:
    """Returns (headers + body text, number of attachments) for one RFC 5322 message."""
    text, attachments, _, _ = message_parts(data)
    return text, attachments


def message_parts(data: bytes) -> tuple[str, int, str, str]:
    """Returns (headers + body text, number of attachments, origin, time) for one RFC 5322
    message; the origin is ``email:<sender's domain>`` ("" when the From header has no
    address), the time its ``Date`` in ISO 8601 ("" when missing or unreadable)."""
    message = BytesParser(policy=policy.default).parsebytes(data)
    headers = _header_lines(message)
    body = _body_text(message)
    attachments = sum(1 for _ in message.iter_attachments()) if message.is_multipart() else 0
    text = "\n".join(headers) + "\n\n" + body
    return text, attachments, _sender_origin(message), _sent_at(message)


def _sent_at(message: EmailMessage) -> str:
    try:
        value = message.get("Date")
        when = getattr(value, "datetime", None)
    except _EMAIL_ERRORS:
        return ""
    return when.isoformat() if when is not None else ""


def _sender_origin(message: EmailMessage) -> str:
    try:
        addresses = getattr(message.get("From"), "addresses", ())
        address = addresses[0].addr_spec if addresses else ""
    except _EMAIL_ERRORS:
        return ""
    return email_origin(address) if "@" in address else ""


def _header_lines(message: EmailMessage) -> list[str]:
    lines = []
    raw = {name.lower(): value for name, value in message.raw_items()}
    for name in KEPT_HEADERS:
        try:
            value = message.get(name)
            text = str(value) if value is not None else None
        except _EMAIL_ERRORS:
            text = raw.get(name.lower())  # malformed header: keep it undecoded rather than lose it
        if text:
            lines.append(f"{name}: {' '.join(text.split())}")
    return lines


def _body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        part = next((p for p in message.walk() if p.get_content_maintype() == "text"), None)
    if part is None:
        return ""
    content = _part_text(part)
    return html_to_text(content) if part.get_content_subtype() == "html" else content.strip()


def _part_text(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, UnicodeError):
        payload = part.get_payload(decode=True)
        return decode_legacy(payload) if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _note_attachments(report: ParseReport, path: str, count: int) -> None:
    if count:
        report.notice(f"{path}: {count} attachment(s) ignored (only message text is used)")
