"""Dataset-wide consistency: a value found once is found everywhere.

``ValueIndex`` accumulates the values of findings over any number of batches
(streaming: call ``add`` batch by batch, then ``scan`` texts in a second
pass). Values are compiled into trie-shaped regular expressions, one per
chunk of values, so a scan costs one regex pass per chunk regardless of how
many values a chunk holds (Aho-Corasick-like: at each position only the
branches that share the next character are tried).

Matching is case-insensitive and on word boundaries. For person names every
part of three or more letters is indexed too ("Mark Scott" -> "Mark",
"Scott"); stop words are never indexed, and parts that are also dictionary
words ("Mark", "Rose", "Brown") only match when capitalised so that "mark it
as done" stays untouched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from datasets_app.pipeline.pii_types import EMAIL_ADDRESS, PERSON, Finding

MAX_VALUE_LENGTH = 120
MIN_PART_LENGTH = 3
CHUNK_SIZE = 5_000
_NAME_PART = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def _default_stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS as english
    from spacy.lang.es.stop_words import STOP_WORDS as spanish

    return frozenset(english | spanish)


def _trie_regex(values: Iterable[str]) -> str:
    """A regex matching exactly ``values`` (longest first), with whitespace matching ``\\s+``."""
    trie: dict = {}
    for value in values:
        node = trie
        for char in value:
            node = node.setdefault(char, {})
        node[""] = {}
    return _node_regex(trie)


def _node_regex(node: dict) -> str:
    terminal = "" in node
    branches = []
    for char in sorted(k for k in node if k):
        piece = r"\s+" if char == " " else re.escape(char)
        branches.append(piece + _node_regex(node[char]))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if terminal:
        return f"(?:{body})?"
    return body


@dataclass
class _Chunk:
    values: dict[str, tuple[str, float]] = field(default_factory=dict)
    compiled: re.Pattern[str] | None = None


class _TrieSet:
    """Values (keys already normalised) in chunks, each compiled lazily to one regex."""

    def __init__(self, *, ignore_case: bool, chunk_size: int = CHUNK_SIZE) -> None:
        self.flags = re.IGNORECASE if ignore_case else 0
        self.chunk_size = chunk_size
        self.chunks: list[_Chunk] = [_Chunk()]
        self.lookup: dict[str, tuple[str, float]] = {}

    def add(self, key: str, entity_type: str, score: float) -> None:
        known = self.lookup.get(key)
        if known is not None and known[1] >= score:
            return
        self.lookup[key] = (entity_type, score)
        if known is None:
            if len(self.chunks[-1].values) >= self.chunk_size:
                self.chunks.append(_Chunk())
            self.chunks[-1].values[key] = (entity_type, score)
            self.chunks[-1].compiled = None

    def finditer(self, text: str) -> Iterable[tuple[int, int, str, float]]:
        for chunk in self.chunks:
            if not chunk.values:
                continue
            if chunk.compiled is None:
                body = _trie_regex(chunk.values)
                chunk.compiled = re.compile(rf"(?<!\w)(?:{body})(?!\w)", self.flags)
            for match in chunk.compiled.finditer(text):
                key = self._key(match.group())
                entity_type, score = self.lookup.get(key, (PERSON, 0.5))
                yield match.start(), match.end(), entity_type, score

    def _key(self, matched: str) -> str:
        collapsed = " ".join(matched.split())
        return collapsed.lower() if self.flags else collapsed


class ValueIndex:
    """Accumulates found values across batches and finds every other occurrence.

    ``is_dictionary_word(word)`` tells which name parts are ordinary words
    (they then only match capitalised); default: none are. With
    ``is_person_name``, known names inside e-mail local parts
    ("bridget.carter@...") are indexed as name parts too.
    """

    def __init__(
        self,
        *,
        is_dictionary_word: Callable[[str], bool] | None = None,
        is_person_name: Callable[[str], bool] | None = None,
        stop_words: frozenset[str] | None = None,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.is_dictionary_word = is_dictionary_word or (lambda _word: False)
        self.is_person_name = is_person_name
        self.stop_words = stop_words if stop_words is not None else _default_stop_words()
        self._any_case = _TrieSet(ignore_case=True, chunk_size=chunk_size)
        self._capitalised = _TrieSet(ignore_case=False, chunk_size=chunk_size)

    def __len__(self) -> int:
        return len(self._any_case.lookup) + len(self._capitalised.lookup)

    def add_value(self, value: str, entity_type: str, score: float = 0.8) -> None:
        """Index one value (and, for PERSON, its parts)."""
        normalised = " ".join(value.split())
        if len(normalised) < MIN_PART_LENGTH or len(normalised) > MAX_VALUE_LENGTH:
            return
        if entity_type == PERSON:
            parts = _NAME_PART.findall(normalised)
            for part in parts:
                self._add_name_part(part, score)
            if len(parts) == 1 and parts[0] == normalised:
                return  # a one-word name is exactly one part: indexed above
        if normalised.lower() not in self.stop_words:
            self._any_case.add(normalised.lower(), entity_type, score)

    def _add_name_part(self, part: str, score: float) -> None:
        lowered = part.lower()
        if len(part) < MIN_PART_LENGTH or lowered in self.stop_words:
            return
        if self.is_dictionary_word(part):
            self._capitalised.add(part[:1].upper() + part[1:].lower(), PERSON, score)
            self._capitalised.add(part.upper(), PERSON, score)
        else:
            self._any_case.add(lowered, PERSON, score)

    def add(self, text: str, findings: Iterable[Finding]) -> None:
        """Index the values of ``findings`` in ``text``."""
        for finding in findings:
            value = text[finding.start : finding.end]
            self.add_value(value, finding.entity_type, finding.score)
            if finding.entity_type == EMAIL_ADDRESS:
                self._add_email_names(value, finding.score)

    def _add_email_names(self, email: str, score: float) -> None:
        """ "bridget.carter@x.com" -> the known names "Bridget" and "Carter" become name parts."""
        if self.is_person_name is None:
            return
        local = email.split("@", 1)[0]
        for part in re.split(r"[._+-]+|\d+", local):
            if len(part) >= MIN_PART_LENGTH and part.isalpha() and self.is_person_name(part):
                self._add_name_part(part, score)

    def scan(self, text: str) -> list[Finding]:
        """Every occurrence of an indexed value in ``text`` (may overlap each other)."""
        found = []
        for trie in (self._any_case, self._capitalised):
            for start, end, entity_type, score in trie.finditer(text):
                found.append(Finding(start, end, entity_type, score, "propagation"))
        return found


def merge_new(existing: Sequence[Finding], extra: Iterable[Finding]) -> list[Finding]:
    """``existing`` plus the ``extra`` findings that overlap none of them, sorted by start."""
    merged = list(existing)
    taken = sorted((f.start, f.end) for f in existing)
    for finding in sorted(extra, key=lambda f: (f.start, -f.length)):
        if not any(s < finding.end and finding.start < e for s, e in taken):
            merged.append(finding)
            taken.append((finding.start, finding.end))
    return sorted(merged, key=lambda f: (f.start, -f.length))


def propagate_findings(
    texts: Sequence[str],
    findings: list[list[Finding]],
    *,
    index: ValueIndex | None = None,
) -> list[list[Finding]]:
    """Add, to each record, every occurrence of a value found anywhere in ``texts``.

    Takes parallel lists; returns new lists (inputs untouched) where original
    findings are kept and propagated ones (recognizer ``propagation``) fill in
    occurrences not already covered. Pass a pre-filled ``index`` to also
    propagate values from earlier batches (streaming).
    """
    if len(texts) != len(findings):
        raise ValueError("texts and findings must have the same length")
    index = index if index is not None else ValueIndex()
    for text, record_findings in zip(texts, findings, strict=True):
        index.add(text, record_findings)
    return [merge_new(fs, index.scan(t)) for t, fs in zip(texts, findings, strict=True)]
