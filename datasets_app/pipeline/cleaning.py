"""Streaming record cleaner: text repair, HTML stripping, filters, language and dedup.

Steps run in this order (disabled ones are skipped and absent from the report):
fix_unicode, strip_html, strip_email_quotes, strip_signatures, strip_control,
normalize_whitespace (text transforms on every text field), then length, dedup_exact,
language, dedup_near (filters on the joined text). Each kept record comes back with
``record.lang`` set ("en", "es", other ISO 639-1 code, or "unknown").

Memory is bounded: exact dedup keeps one 16-byte hash per kept record (~100 bytes each
with set overhead); near dedup only remembers the last ``near_window`` kept records
(see ``near_dedup``). Report examples hold excerpts of raw (pre-PII) text: store the
report as sensitive data.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from datasets_app.pipeline.htmltext import strip_html
from datasets_app.pipeline.language import detect_language
from datasets_app.pipeline.near_dedup import NearDuplicateIndex
from datasets_app.pipeline.records import Record
from datasets_app.pipeline.splits import normalize_for_split
from datasets_app.pipeline.text_filters import (
    fix_unicode,
    normalize_whitespace,
    strip_control,
    strip_email_quotes,
    strip_signatures,
)

EXAMPLES_PER_STEP = 3
EXCERPT_CHARS = 200
_CONTEXT_BEFORE_CHANGE = 40
_TRANSFORMS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("fix_unicode", fix_unicode),
    ("strip_html", strip_html),
    ("strip_email_quotes", strip_email_quotes),
    ("strip_signatures", strip_signatures),
    ("strip_control", strip_control),
    ("normalize_whitespace", normalize_whitespace),
)


@dataclass
class CleaningConfig:
    """Which cleaning steps run and their limits. ``languages``: keep only these codes
    (None keeps all; include "unknown" to keep texts too short to identify).
    ``near_window``: how many recent kept records near-dedup can match (memory bound)."""

    fix_unicode: bool = True
    strip_html: bool = True
    normalize_whitespace: bool = True
    strip_control: bool = True
    min_chars: int = 1
    max_chars: int = 100_000
    languages: list[str] | None = None
    dedup_exact: bool = True
    dedup_near: bool = True
    near_threshold: float = 0.85
    strip_email_quotes: bool = False
    strip_signatures: bool = False
    near_num_perm: int = 64
    near_window: int = 100_000

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if item.type == "bool" and not isinstance(value, bool):
                raise ValueError(f"{item.name} must be true or false")
            if item.type == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{item.name} must be an integer")
        if not 0 <= self.min_chars <= self.max_chars:
            raise ValueError("need 0 <= min_chars <= max_chars")
        if not isinstance(self.near_threshold, int | float) or not 0 < self.near_threshold <= 1:
            raise ValueError("near_threshold must be in (0, 1]")
        if self.languages is not None and (
            not isinstance(self.languages, list)
            or not self.languages
            or not all(isinstance(code, str) and code for code in self.languages)
        ):
            raise ValueError("languages must be None or a non-empty list of language codes")
        if self.near_window < 2 or self.near_num_perm < 16:
            raise ValueError("near_window must be >= 2 and near_num_perm >= 16")

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-ready dict of every setting."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CleaningConfig:
        """Builds a config from a (possibly partial) dict; raises ValueError on unknown keys
        or invalid values. Missing keys take their defaults."""
        unknown = set(data) - {item.name for item in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown cleaning settings: {', '.join(sorted(unknown))}")
        values = dict(data)
        if isinstance(values.get("languages"), tuple):
            values["languages"] = list(values["languages"])
        return cls(**values)


@dataclass
class StepReport:
    """Counts for one step plus up to EXAMPLES_PER_STEP examples: {"before", "after",
    "source"} for changes or {"dropped", "reason", "source"} for drops, each <= 200 chars."""

    name: str
    changed: int = 0
    dropped: int = 0
    examples: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-ready dict."""
        return dataclasses.asdict(self)


@dataclass
class CleaningReport:
    """Totals of a cleaning run; ``languages`` counts kept records per language."""

    steps: list[StepReport]
    records_in: int
    records_out: int
    languages: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CleaningReport:
        """Inverse of to_dict; raises KeyError/TypeError for malformed input."""
        steps = [StepReport(**step) for step in data["steps"]]
        return cls(steps, data["records_in"], data["records_out"], dict(data["languages"]))


def _excerpt(text: str, start: int = 0) -> str:
    return text[start : start + EXCERPT_CHARS]


def _change_example(before: str, after: str, source: str) -> dict[str, str]:
    """Excerpts both texts from a little before their first difference, so it is visible."""
    start = max(0, len(os.path.commonprefix([before, after])) - _CONTEXT_BEFORE_CHANGE)
    return {"before": _excerpt(before, start), "after": _excerpt(after, start), "source": source}


class Cleaner:
    """Cleans records one at a time (see module docstring); keep one per dataset run."""

    def __init__(self, config: CleaningConfig) -> None:
        self.config = config
        self._transforms = [(name, fn) for name, fn in _TRANSFORMS if getattr(config, name)]
        names = [name for name, _ in self._transforms] + ["length"]
        names += (
            ["dedup_exact"] * config.dedup_exact + ["language"] + ["dedup_near"] * config.dedup_near
        )
        self._steps = {name: StepReport(name) for name in names}
        self._exact_seen: set[bytes] = set()
        self._near = (
            NearDuplicateIndex(
                threshold=config.near_threshold,
                num_perm=config.near_num_perm,
                window=config.near_window,
            )
            if config.dedup_near
            else None
        )
        self._records_in = 0
        self._languages: Counter[str] = Counter()

    def process(self, record: Record) -> Record | None:
        """Returns the cleaned record with ``lang`` set, or None when a step dropped it."""
        self._records_in += 1
        record = self._apply_transforms(record)
        text = record.joined_text()
        problem = self._length_problem(text)
        if problem:
            self._drop("length", record, problem)
            return None
        normalized = normalize_for_split(text)
        digest = hashlib.blake2b(normalized.encode("utf-8"), digest_size=16).digest()
        if self.config.dedup_exact and digest in self._exact_seen:
            self._drop("dedup_exact", record, "exact duplicate of an earlier record")
            return None
        record = record.with_lang(detect_language(text))
        step, reason = self._language_or_near_problem(record, normalized)
        if reason:
            self._drop(step, record, reason)
            return None
        return self._keep(record, digest)

    def process_many(self, records: Iterable[Record]) -> Iterator[Record]:
        """Yields the kept, cleaned records of ``records`` in order."""
        for record in records:
            cleaned = self.process(record)
            if cleaned is not None:
                yield cleaned

    def language_of(self, record: Record) -> str:
        """Returns ``record.lang`` when set (records from process), else detects it."""
        return record.lang if record.lang is not None else detect_language(record.joined_text())

    def report(self) -> CleaningReport:
        """Returns a snapshot of the counts so far (safe to call mid-stream)."""
        steps = [
            dataclasses.replace(step, examples=list(step.examples)) for step in self._steps.values()
        ]
        kept = sum(self._languages.values())
        return CleaningReport(steps, self._records_in, kept, dict(sorted(self._languages.items())))

    def _apply_transforms(self, record: Record) -> Record:
        """Runs every enabled text transform over each field, counting per-step changes."""
        fields = record.text_fields()
        for name, transform in self._transforms:
            cleaned = [transform(value) for value in fields]
            if cleaned != fields:
                self._note_change(self._steps[name], fields, cleaned, record.source)
                fields = cleaned
        return record.with_text_fields(fields) if fields != record.text_fields() else record

    @staticmethod
    def _note_change(step: StepReport, before: list[str], after: list[str], source: str) -> None:
        step.changed += 1
        if len(step.examples) < EXAMPLES_PER_STEP:
            step.examples.append(_change_example("\n\n".join(before), "\n\n".join(after), source))

    def _language_or_near_problem(self, record: Record, normalized: str) -> tuple[str, str | None]:
        """Returns (step, reason) for the first of language filter / near dedup that drops.

        Near dedup comes last because it also remembers the text when it does not drop it.
        """
        languages = self.config.languages
        if languages is not None and record.lang not in languages:
            return "language", f'language "{record.lang}" is not one of {", ".join(languages)}'
        similarity = self._near.check_and_add(normalized) if self._near is not None else None
        if similarity is not None:
            reason = f"near duplicate (estimated similarity {similarity:.2f}) of an earlier record"
            return "dedup_near", reason
        return "", None

    def _length_problem(self, text: str) -> str | None:
        if len(text) < self.config.min_chars:
            return f"shorter than {self.config.min_chars} characters ({len(text)})"
        if len(text) > self.config.max_chars:
            return f"longer than {self.config.max_chars} characters ({len(text)})"
        return None

    def _drop(self, name: str, record: Record, reason: str) -> None:
        step = self._steps[name]
        step.dropped += 1
        if len(step.examples) < EXAMPLES_PER_STEP:
            step.examples.append(
                {
                    "dropped": _excerpt(record.joined_text()),
                    "reason": reason,
                    "source": record.source,
                }
            )
        return None

    def _keep(self, record: Record, digest: bytes) -> Record:
        if self.config.dedup_exact:
            # Added only once kept, so a copy of a dropped record is judged on its own merits.
            self._exact_seen.add(digest)
        self._languages[record.lang or "unknown"] += 1
        return record
