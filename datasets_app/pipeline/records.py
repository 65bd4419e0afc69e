"""Record model, parse options/report and the parse error shared by the ingestion modules.

Kept apart from ``parsing`` so the per-format readers can import it without a cycle;
``parsing`` re-exports every public name here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

RecordKind = Literal["text", "prompt_completion", "chat", "preference", "unpaired_preference"]
RECORD_KINDS: frozenset[str] = frozenset(
    {"text", "prompt_completion", "chat", "preference", "unpaired_preference"}
)
# The kinds that hold a prompt (as text or as the conversation so far) and answers to it.
PREFERENCE_KINDS: frozenset[str] = frozenset({"preference", "unpaired_preference"})
_FIELDS = ("text", "prompt", "completion", "messages", "chosen", "rejected", "label")
CHAT_ROLES: frozenset[str] = frozenset({"system", "user", "assistant"})
MiB = 1024 * 1024
GiB = 1024 * MiB
# Reports are shown to people and stored: past this many entries only the total grows.
MAX_REPORT_ENTRIES = 1000


# Longest origin kept: it names a system, a sender's domain or a file, never a document.
MAX_ORIGIN_CHARS = 200


def origin_value(value: object) -> str:
    """The origin a source column or field holds, as stored: a string or a number, blanks
    folded, at most MAX_ORIGIN_CHARS characters; an e-mail address becomes ``email:<domain>``
    (the domain names the sender's organization, the address a person); "" for anything
    else."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    text = " ".join(str(value).split())
    if "@" in text and " " not in text:
        return email_origin(text)
    return text[:MAX_ORIGIN_CHARS]


def time_value(value: object) -> str:
    """An ISO 8601 time from a record's time field: an ISO string (kept as given, at most 40
    characters, when Python can read it) or epoch seconds; "" for anything else."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, tz=UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            return ""
    if isinstance(value, str) and 0 < len(value) <= 40:
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return ""
        return value
    return ""


def email_origin(address: str) -> str:
    """``email:<domain>`` of an address (lowercased, without a trailing ``>``), or ""."""
    domain = address.rsplit("@", 1)[-1].strip().strip(">").strip().lower()
    if not domain or "@" not in address:
        return ""
    return f"email:{domain}"[:MAX_ORIGIN_CHARS]


class InvalidRecord(ValueError):
    """A record (or its dict form) does not satisfy the record contract."""


@dataclass(frozen=True, slots=True)
class Message:
    """One chat turn. Guarantees: ``role`` is one of CHAT_ROLES and ``content`` is a str."""

    role: str
    content: str

    def __post_init__(self) -> None:
        if self.role not in CHAT_ROLES:
            allowed = ", ".join(sorted(CHAT_ROLES))
            raise InvalidRecord(f'role "{self.role}" is not one of {allowed}')
        if not isinstance(self.content, str):
            raise InvalidRecord('"content" must be a string')

    def to_dict(self) -> dict[str, str]:
        """Returns ``{"role", "content"}``."""
        return {"role": self.role, "content": self.content}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        """Builds a message from ``{"role", "content"}``; raises InvalidRecord otherwise."""
        if not isinstance(data, Mapping) or "role" not in data or "content" not in data:
            raise InvalidRecord('a message must be an object with "role" and "content"')
        return cls(role=data["role"], content=data["content"])


@dataclass(frozen=True, slots=True)
class Record:
    """One training record in one of five shapes.

    Guarantees (checked on construction, InvalidRecord otherwise): ``text`` kind has only
    ``text``; ``prompt_completion`` has both ``prompt`` and ``completion``; ``chat`` has a
    non-empty tuple of Message. Preference kinds have a prompt, as ``prompt`` (text) or as
    ``messages`` (the conversation the answers reply to), and answers: ``preference`` a
    ``chosen`` and a ``rejected`` one, ``unpaired_preference`` a ``completion`` and a boolean
    ``label`` (true = a good answer). ``lang`` is filled by the Cleaner (ISO 639-1 or
    "unknown"). ``source`` is where the parser read it (``file:line``, ``archive.zip/member``);
    ``origin`` is who or what the data says wrote it, when it says so (a JSONL ``source``
    field, the steward's source column, ``email:<sender's domain>``), else "";
    ``origin_time`` when it was written, as the data says (a JSONL ``timestamp`` field, an
    e-mail's ``Date``), ISO 8601, else "".
    """

    kind: RecordKind
    text: str | None = None
    prompt: str | None = None
    completion: str | None = None
    messages: tuple[Message, ...] | None = None
    source: str = ""
    lang: str | None = None
    chosen: str | None = None
    rejected: str | None = None
    label: bool | None = None
    origin: str = ""
    origin_time: str = ""

    def __post_init__(self) -> None:
        if self.kind not in RECORD_KINDS:
            raise InvalidRecord(f'unknown record kind "{self.kind}"')
        self._check_shape()
        if self.messages is not None:
            self._check_messages()
        if self.label is not None and not isinstance(self.label, bool):
            raise InvalidRecord('"label" must be true or false')
        if self.lang is not None and not isinstance(self.lang, str):
            raise InvalidRecord('"lang" must be a string')

    def _check_shape(self) -> None:
        present = {name for name in _FIELDS if getattr(self, name) is not None}
        answers = {
            "text": {"text"},
            "prompt_completion": {"prompt", "completion"},
            "chat": {"messages"},
            "preference": {"chosen", "rejected"},
            "unpaired_preference": {"completion", "label"},
        }[self.kind]
        expected = [answers]
        if self.kind in PREFERENCE_KINDS:  # the prompt as text or as a conversation
            expected = [answers | {"prompt"}, answers | {"messages"}]
        if present not in expected:
            needs = " or ".join(", ".join(sorted(option)) for option in expected)
            raise InvalidRecord(f"a {self.kind} record needs exactly: {needs}")
        for name in ("text", "prompt", "completion", "chosen", "rejected"):
            if name in present and not isinstance(getattr(self, name), str):
                raise InvalidRecord(f'"{name}" must be a string')

    def _check_messages(self) -> None:
        if not isinstance(self.messages, tuple) or not self.messages:
            raise InvalidRecord("a chat record needs a non-empty tuple of messages")
        if not all(isinstance(message, Message) for message in self.messages):
            raise InvalidRecord("chat messages must be Message instances")

    def _text_names(self) -> list[str]:
        """Names of the string fields, in text_fields order (after any messages)."""
        order = ("text", "prompt", "completion", "chosen", "rejected")
        return [name for name in order if isinstance(getattr(self, name), str)]

    def text_fields(self) -> list[str]:
        """Returns every text this record carries, in order (for PII, dedup, length): the
        messages' contents, then text / prompt / completion / chosen / rejected."""
        fields = [message.content for message in self.messages or ()]
        return fields + [getattr(self, name) for name in self._text_names()]

    def joined_text(self) -> str:
        """Returns all text joined by blank lines; chat roles are not included."""
        return "\n\n".join(self.text_fields())

    def map_text(self, transform: Callable[[str], str]) -> Record:
        """Returns a copy with ``transform`` applied to every text field (same kind/source/lang)."""
        return self.with_text_fields([transform(text) for text in self.text_fields()])

    def with_text_fields(self, fields: list[str]) -> Record:
        """Inverse of text_fields: returns a copy whose texts are ``fields`` (same count)."""
        if len(fields) != len(self.text_fields()):
            raise InvalidRecord(
                f"expected {len(self.text_fields())} text fields, got {len(fields)}"
            )
        count = len(self.messages or ())
        changes: dict[str, Any] = dict(zip(self._text_names(), fields[count:], strict=True))
        if self.messages is not None:
            changes["messages"] = tuple(
                Message(m.role, f) for m, f in zip(self.messages, fields[:count], strict=True)
            )
        return dataclasses.replace(self, **changes)

    def with_lang(self, lang: str) -> Record:
        """Returns a copy whose ``lang`` is set."""
        return dataclasses.replace(self, lang=lang)

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-ready dict: kind, its fields, source, and lang when set."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.messages is not None:
            out["messages"] = [message.to_dict() for message in self.messages]
        for name in (*self._text_names(), "label"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        out["source"] = self.source
        if self.origin:
            out["origin"] = self.origin
        if self.origin_time:
            out["origin_time"] = self.origin_time
        if self.lang is not None:
            out["lang"] = self.lang
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Record:
        """Inverse of to_dict. Raises InvalidRecord for anything that is not a valid record."""
        if not isinstance(data, Mapping):
            raise InvalidRecord("a record must be an object")
        unknown = set(data) - {"kind", "source", "origin", "origin_time", "lang", *_FIELDS}
        if unknown:
            raise InvalidRecord(f"unknown record fields: {', '.join(sorted(unknown))}")
        messages = data.get("messages")
        if messages is not None:
            if not isinstance(messages, list | tuple):
                raise InvalidRecord('"messages" must be a list')
            messages = tuple(Message.from_dict(item) for item in messages)
        return cls(
            kind=data.get("kind"),  # type: ignore[arg-type]  # validated in __post_init__
            text=data.get("text"),
            prompt=data.get("prompt"),
            completion=data.get("completion"),
            messages=messages,
            source=str(data.get("source", "")),
            lang=data.get("lang"),
            chosen=data.get("chosen"),
            rejected=data.get("rejected"),
            label=data.get("label"),
            origin=str(data.get("origin", "")),
            origin_time=str(data.get("origin_time", "")),
        )


class ParseError(ValueError):
    """An upload cannot be read. The message is meant for the person who uploaded it.

    Attributes: ``path`` (file name, ``archive.zip/member`` inside archives), ``line``
    (1-based line or row number, None when not about one line) and ``reason``.
    """

    def __init__(self, reason: str, *, path: str, line: int | None = None) -> None:
        self.reason = reason
        self.path = path
        self.line = line
        where = f"{path}: line {line}: " if line is not None else f"{path}: "
        super().__init__(where + reason)


@dataclass
class ParseOptions:
    """How to read an upload. Every size limit exists to bound memory or refuse bombs.

    ``text_columns``: CSV/TSV/Parquet/JSONL fields joined (blank line) into a text record;
    None means the default ``text`` or ``prompt``+``completion`` columns.
    ``max_record_bytes``: longest line / text block / CSV field kept in memory.
    ``max_message_bytes``: largest single email (attachments included) held while parsing.
    ``max_spool_bytes``: non-seekable Parquet/ZIP streams are buffered in memory up to this.
    ``ratio_check_min_bytes``: members smaller than this are exempt from the ratio check,
    because tiny repetitive files legitimately compress beyond any sane ratio.
    ``source_column``: the CSV/TSV/Parquet column, or JSONL field (default ``source``), that
    names each record's origin (the steward's choice); a missing column is a ParseError.
    """

    text_columns: list[str] | None = None
    source_column: str | None = None
    skip_bad_lines: bool = False
    text_split: Literal["file", "blank_line"] = "blank_line"
    max_archive_members: int = 10_000
    max_uncompressed_bytes: int = 4 * GiB
    max_compression_ratio: float = 100.0
    max_record_bytes: int = 16 * MiB
    max_message_bytes: int = 64 * MiB
    max_spool_bytes: int = 256 * MiB
    ratio_check_min_bytes: int = 1 * MiB

    def __post_init__(self) -> None:
        if self.text_split not in ("file", "blank_line"):
            raise ValueError('text_split must be "file" or "blank_line"')
        if self.text_columns is not None and (
            not self.text_columns or not all(isinstance(c, str) and c for c in self.text_columns)
        ):
            raise ValueError("text_columns must be None or a non-empty list of column names")
        if self.source_column is not None and not (
            isinstance(self.source_column, str) and self.source_column.strip()
        ):
            raise ValueError("source_column must be None or a column name")
        limits: tuple[str, ...] = (
            "max_archive_members",
            "max_uncompressed_bytes",
            "max_record_bytes",
        )
        limits += ("max_message_bytes", "max_spool_bytes")
        for name in limits:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.max_compression_ratio <= 1.0:
            raise ValueError("max_compression_ratio must be greater than 1")


@dataclass
class ParseReport:
    """What happened while parsing, filled in as records stream out.

    ``skipped_lines`` holds (path, line, reason) for at most MAX_REPORT_ENTRIES lines;
    ``skipped_total`` counts all of them. Reasons never quote the data itself.
    """

    records: int = 0
    skipped_lines: list[tuple[str, int, str]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    skipped_total: int = 0

    def skip(self, path: str, line: int, reason: str) -> None:
        """Records one skipped line (bounded list, exact total)."""
        self.skipped_total += 1
        if len(self.skipped_lines) < MAX_REPORT_ENTRIES:
            self.skipped_lines.append((path, line, reason))

    def notice(self, message: str) -> None:
        """Adds a notice once (duplicates and entries past the cap are dropped)."""
        if message not in self.notices and len(self.notices) < MAX_REPORT_ENTRIES:
            self.notices.append(message)

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-ready dict of the report."""
        return {
            "records": self.records,
            "skipped_lines": [list(entry) for entry in self.skipped_lines],
            "skipped_total": self.skipped_total,
            "notices": list(self.notices),
        }


def reject_line(
    reason: str, *, path: str, line: int, options: ParseOptions, report: ParseReport
) -> None:
    """Handles one bad line: records it when ``skip_bad_lines``, raises ParseError otherwise."""
    if not options.skip_bad_lines:
        raise ParseError(reason, path=path, line=line)
    report.skip(path, line, reason)
