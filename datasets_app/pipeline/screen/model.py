"""What the screen takes (a record as a plain dict, seen through ``RecordView``) and what it
gives back (``Flag``), plus the small protocol every detector follows."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

import numpy as np
from datasketch import MinHash

from datasets_app.pipeline.screen.phrases import batch_minhash, batch_runs
from datasets_app.pipeline.screen.text import DISGUISE, fold, light_fold

# Keys of a record dict that are metadata, never text to screen.
METADATA_KEYS = frozenset({"kind", "source", "lang", "timestamp", "index", "id", "split"})
# One MinHash permutation set for every detector: each takes the first values it needs, so
# a text is signed once however many detectors compare it.
SIGNATURE_SIZE = 20
_PERMUTATIONS = MinHash(num_perm=SIGNATURE_SIZE, seed=1).permutations
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class Flag:
    """One detector's finding about one record.

    ``reason`` and ``detector``, ``score``, ``group`` never quote the record: they may be
    stored in plain database columns. ``evidence`` quotes the data (escaped by
    ``render_hidden``) and must be stored like record text, encrypted. ``score`` is in
    [0, 1]. ``group`` is the same for every flag of one pattern (a trigger, a flood
    cluster), so a reviewer can decide on all of them at once; "" when the flag stands
    alone. ``field`` names the field ("prompt", "messages.2.content", "chosen"), "" for the
    whole record.
    """

    record_index: int
    detector: str
    reason: str
    score: float
    source: str = ""
    field: str = ""
    group: str = ""
    evidence: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-ready dict (evidence included: treat it as record text)."""
        return asdict(self)

    def sort_key(self) -> tuple[int, str, str, str]:
        """The order of flags in a report: by record, then detector, field and group."""
        return (self.record_index, self.detector, self.field, self.group)


@dataclass(frozen=True, slots=True)
class Signal:
    """One hint a per-field detector found: its weight, what it is (data-free) and the
    escaped excerpt that shows it (quotes data)."""

    score: float
    what: str
    evidence: str


def combine_scores(signals: list[Signal]) -> float:
    """Probabilistic OR of the signals' scores: independent hints add up, never past 1."""
    remaining = 1.0
    for signal in signals:
        remaining *= 1.0 - signal.score
    return round(1.0 - remaining, 3)


def field_flag(view: RecordView, path: str, detector: str, signals: list[Signal]) -> Flag:
    """The flag of one field from its signals (reason: the kinds of signal, sorted)."""
    return Flag(
        record_index=view.index,
        detector=detector,
        reason=f"{detector}: " + "; ".join(sorted({signal.what for signal in signals})),
        score=combine_scores(signals),
        source=view.source,
        field=path,
        evidence=" | ".join(signal.evidence for signal in signals if signal.evidence),
    )


class RecordView:
    """A record seen by the detectors: its text fields, which side is prompt and which is
    completion, its provenance, and folded forms computed once and shared.

    Accepted shapes (a plain dict, as ingestion stores records): ``text``;
    ``prompt``+``completion``; ``messages`` (user and system turns are the prompt, the
    longest assistant turn the completion); ``prompt``+``chosen``+``rejected`` (a preference pair: ``chosen``
    is the completion). Any other string field is screened as text. ``source`` is a plain
    string (upload, archive member, sender domain, column...); ``timestamp`` is epoch
    seconds or an ISO 8601 string, optional.
    """

    __slots__ = (
        "index",
        "source",
        "kind",
        "fields",
        "prompt",
        "completion",
        "rejected",
        "timestamp",
        "has_pair",
        "_joined",
        "_light",
        "_folded",
        "_phrases",
        "_shingles",
        "_signatures",
    )

    def __init__(self, record: Mapping[str, Any], index: int) -> None:
        self.index = index
        self.source = _text(record.get("source"))
        self.timestamp = _timestamp(record.get("timestamp"))
        self.rejected: str | None = None
        self.fields: tuple[tuple[str, str], ...] = ()
        self._joined: str | None = None
        self._light: str | None = None
        self._folded: dict[str, str] = {}
        self._phrases: dict[str, np.ndarray] = {}
        self._shingles: dict[str, np.ndarray | None] = {}
        self._signatures: dict[str, np.ndarray | None] = {}
        if isinstance(record.get("messages"), list | tuple):
            self._read_chat(record["messages"])
        elif "chosen" in record and "rejected" in record:
            self.kind = "preference"
            self.prompt, self.completion = _text(record.get("prompt")), _text(record["chosen"])
            self.rejected = _text(record["rejected"])
            self.fields = (
                ("prompt", self.prompt),
                ("chosen", self.completion),
                ("rejected", self.rejected),
            )
        elif "prompt" in record and "completion" in record:
            self.kind = "prompt_completion"
            self.prompt, self.completion = _text(record["prompt"]), _text(record["completion"])
            self.fields = (("prompt", self.prompt), ("completion", self.completion))
        else:
            self.kind = "text"
            self.prompt = self.completion = ""
            self.fields = tuple(
                (key, value)
                for key, value in record.items()
                if key not in METADATA_KEYS and isinstance(value, str)
            )
        # True when the record has both a prompt and a completion to relate.
        self.has_pair = bool(self.prompt.strip()) and bool(self.completion.strip())

    def _read_chat(self, messages: list[Any] | tuple[Any, ...]) -> None:
        self.kind = "chat"
        fields: list[tuple[str, str]] = []
        prompt: list[str] = []
        completion: list[str] = []
        for number, message in enumerate(messages):
            if not isinstance(message, Mapping):
                continue
            content = _content(message.get("content"))
            fields.append((f"messages.{number}.content", content))
            (completion if message.get("role") == "assistant" else prompt).append(content)
        self.fields = tuple(fields)
        # The longest assistant turn is the answer: a payload is one long turn, and short
        # follow-ups ("You're welcome!") would otherwise make one payload look like many.
        self.prompt = "\n\n".join(prompt)
        self.completion = max(completion, key=len, default="")

    def joined(self) -> str:
        """All text fields joined by blank lines (computed once)."""
        if self._joined is None:
            self._joined = "\n\n".join(text for _, text in self.fields)
        return self._joined

    def light(self) -> str:
        """``light_fold`` of ``joined()`` (computed once): punctuation kept, disguises
        undone. Plain lowercase when no compatibility form, invisible or homoglyph is
        there to undo."""
        if self._light is None:
            joined = self.joined()
            plain = joined.isascii() or (
                unicodedata.is_normalized("NFKC", joined) and not DISGUISE.search(joined)
            )
            self._light = joined.lower() if plain else light_fold(joined)
        return self._light

    def folded(self, part: str) -> str:
        """``fold`` of "prompt", "completion", "rejected", "all" (every field) or of one
        field by its path, computed once."""
        cached = self._folded.get(part)
        if cached is None:
            cached = self._fold(part)
            self._folded[part] = cached
        return cached

    def _fold(self, part: str) -> str:
        if part == "all":
            if self.kind == "text":
                return fold(self.joined())
            parts = ("prompt", "completion", "rejected")
            return " ".join(folded for side in parts if (folded := self.folded(side)))
        sides = {"prompt": self.prompt, "completion": self.completion, "rejected": self.rejected}
        if part in sides:
            return fold(sides[part] or "")
        return fold(dict(self.fields).get(part, ""))

    def canonical(self, part: str) -> str:
        """``folded(part)`` with every number collapsed to "0": a ticket number or an amount
        must not make two answers, two prompts or two phrases differ."""
        return _DIGITS.sub("0", self.folded(part))

    def phrases(self, part: str) -> np.ndarray:
        """Distinct hashes of the runs of 1..4 words of ``canonical(part)``."""
        if part not in self._phrases:
            self._phrases[part] = batch_runs([self.canonical(part)], phrases=True, shingles=False)[
                0
            ][0]
        return self._phrases[part]

    def shingles(self, part: str) -> np.ndarray | None:
        """32-bit hashes of the 3-word runs of ``canonical(part)`` (None under 3 words)."""
        if part not in self._shingles:
            self._shingles[part] = batch_runs([self.canonical(part)], phrases=False, shingles=True)[
                1
            ][0]
        return self._shingles[part]

    def signature(self, part: str) -> np.ndarray | None:
        """MinHash signature (``SIGNATURE_SIZE`` uint32 values, ``near_dedup``'s scheme)
        of the shingles of ``part``, or None when it has fewer than 3 words."""
        if part not in self._signatures:
            self._signatures[part] = batch_minhash([self.shingles(part)], _PERMUTATIONS)[0]
        return self._signatures[part]


def prepare(views: list[RecordView]) -> None:
    """Computes, for many records at once, what several detectors need: phrase hashes and
    the signature of each prompt, the signature of each completion, and the signature of
    each text record. The same values as computed one by one."""
    pairs = [view for view in views if view.has_pair]
    texts = [view for view in views if not view.has_pair]
    phrases, prompt_shingles = batch_runs(
        [view.canonical("prompt") for view in pairs], phrases=True, shingles=True
    )
    _, answer_shingles = batch_runs(
        [view.canonical("completion") for view in pairs], phrases=False, shingles=True
    )
    _, text_shingles = batch_runs(
        [view.canonical("all") for view in texts], phrases=False, shingles=True
    )
    shingles = prompt_shingles + answer_shingles + text_shingles
    parts = [(view, "prompt") for view in pairs] + [(view, "completion") for view in pairs]
    parts += [(view, "all") for view in texts]
    for (view, part), shingled, signature in zip(
        parts, shingles, batch_minhash(shingles, _PERMUTATIONS), strict=True
    ):
        view._shingles[part] = shingled
        view._signatures[part] = signature
    for view, hashes in zip(pairs, phrases, strict=True):
        view._phrases["prompt"] = hashes


def _text(value: object) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _content(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # OpenAI-style text parts
        return "".join(
            part["text"]
            for part in value
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    return _text(value)


def _timestamp(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


class Detector(Protocol):
    """One screen detector. ``observe_batch`` sees each record once, in order, a few at a
    time (``prepare`` has run on them), and returns the flags it can decide so far (they
    may be about earlier records); ``finish`` returns the rest. State between calls stays
    within the bounds of the detector's config, whatever the number of records. ``notes``
    says where a bound was reached (what may have been missed), without quoting data;
    ``footprint`` gives the sizes of the bounded structures."""

    name: str

    def observe_batch(self, views: list[RecordView]) -> list[Flag]: ...

    def finish(self) -> list[Flag]: ...

    def notes(self) -> list[str]: ...

    def footprint(self) -> dict[str, int]: ...


def check_numbers(config: Any, section: str) -> None:
    """Raises ValueError naming the setting when a number setting of the dataclass
    ``config`` holds something else (a string, None, a boolean)."""
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        if item.type == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{section}.{item.name} must be an integer")
        if item.type == "float" and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"{section}.{item.name} must be a number")


@dataclass
class FieldScoring:
    """When a field counts as flagged by a per-field detector."""

    section: ClassVar[str] = "field"
    min_score: float = field(
        default=0.7, metadata={"help": "combined score from which a field is flagged"}
    )
    max_field_chars: int = field(
        default=100_000, metadata={"help": "characters of a field that are examined"}
    )

    def __post_init__(self) -> None:
        check_numbers(self, self.section)
        if not 0.0 < self.min_score <= 1.0:
            raise ValueError(f"{self.section}.min_score must be in (0, 1]")
        if self.max_field_chars < 1_000:
            raise ValueError(f"{self.section}.max_field_chars must be >= 1000")


class FieldDetector:
    """A stateless detector judging each field on its own: a cheap test of the whole record
    first (``record_gate``: None when no field can hold a signal), then the signals of each
    field, flagged when their combined score reaches ``min_score``."""

    name: str = ""

    def __init__(self, config: FieldScoring) -> None:
        self.config = config

    def observe_batch(self, views: list[RecordView]) -> list[Flag]:
        """Observes each record in order (see ``observe``)."""
        return [flag for view in views for flag in self.observe(view)]

    def observe(self, view: RecordView) -> list[Flag]:
        """Returns one flag per field whose combined score reaches ``min_score``."""
        gate = self.record_gate(view)
        if gate is None:
            return []
        flags = []
        limit = self.config.max_field_chars
        for path, text in view.fields:
            signals = self.field_signals(view, path, text[:limit], gate)
            if signals and combine_scores(signals) >= self.config.min_score:
                flags.append(field_flag(view, path, self.name, signals))
        return flags

    def record_gate(self, view: RecordView) -> Any:
        """What the whole record may hold, passed to ``field_signals``; None: nothing."""
        raise NotImplementedError

    def field_signals(self, view: RecordView, path: str, text: str, gate: Any) -> list[Signal]:
        """The signals of one field (``text``, cut to ``max_field_chars``)."""
        raise NotImplementedError

    def finish(self) -> list[Flag]:
        """Nothing is decided at the end."""
        return []

    def notes(self) -> list[str]:
        """A stateless detector reaches no bound."""
        return []

    def footprint(self) -> dict[str, int]:
        """A stateless detector keeps nothing."""
        return {}
