"""Dataset-wide consistency: a value found once is found everywhere.

``ValueIndex`` accumulates the values of findings over any number of batches
(streaming: call ``add`` batch by batch, then ``scan`` texts in a second
pass). Values are indexed by their first word, so a scan is one pass over
the words of a text with a dictionary look-up each, whatever the number of
values, and nothing is compiled when values are added.

Matching is case-insensitive and on word boundaries. For person names every
part of three or more letters is indexed too ("Mark Scott" -> "Mark",
"Scott"); stop words are never indexed, and parts that are also dictionary
words ("Mark", "Rose", "Brown") only match when capitalised so that "mark it
as done" stays untouched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from datasets_app.pipeline.pii_types import EMAIL_ADDRESS, PERSON, Finding

MAX_VALUE_LENGTH = 120
# Name parts that are also month or day names ("June", "Abril", "Domingo") never propagate:
# every date of the dataset would become a name.
CALENDAR_WORDS = frozenset(
    """january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday day enero febrero marzo abril mayo
    junio julio agosto septiembre setiembre octubre noviembre diciembre lunes martes miércoles
    jueves viernes sábado domingo día""".split()
)
MIN_PART_LENGTH = 3
_NAME_PART = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def _default_stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS as english
    from spacy.lang.es.stop_words import STOP_WORDS as spanish

    return frozenset(english | spanish)


_WORD = re.compile(r"\w+")


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _match_at(text: str, start: int, key: str) -> int | None:
    """End of ``key`` matched at ``text[start:]`` (a space in ``key`` matches any whitespace
    run), or None."""
    position, length = start, len(text)
    for char in key:
        if char == " ":
            if position >= length or not text[position].isspace():
                return None
            while position < length and text[position].isspace():
                position += 1
        elif position < length and text[position] == char:
            position += 1
        else:
            return None
    return position


def _fold(text: str) -> str:
    """Lower-cased ``text`` of the same length (the few characters that lengthen when
    lower-cased, such as "İ", are kept as they are)."""
    folded = text.lower()
    if len(folded) != len(text):
        folded = "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)
    return folded


class _TokenSet:
    """Values (keys already normalised) indexed by their first word.

    A scan walks the words of a text once and tries only the values that start with each
    word, so it costs one dictionary look-up per word however many values are indexed, and
    adding values costs nothing (no regular expression to rebuild).
    """

    def __init__(self, *, ignore_case: bool) -> None:
        self.ignore_case = ignore_case
        self.lookup: dict[str, tuple[str, float]] = {}
        self._by_word: dict[str, list[tuple[str, int]]] = {}

    def add(self, key: str, entity_type: str, score: float) -> None:
        known = self.lookup.get(key)
        if known is not None and known[1] >= score:
            return
        word = _WORD.search(key)
        if word is None:
            return  # no word character to anchor it on (never a personal value)
        self.lookup[key] = (entity_type, score)
        if known is None:
            self._by_word.setdefault(word.group(), []).append((key, word.start()))

    def finditer(
        self, text: str, words: set[str] | None = None
    ) -> Iterable[tuple[int, int, str, float]]:
        """Occurrences of indexed values; ``words``: the set of ``_WORD`` matches of the
        (lower-cased, when ``ignore_case``) text, when the caller already has it."""
        if not self._by_word:
            return
        folded = _fold(text) if self.ignore_case else text
        if self._by_word.keys().isdisjoint(words if words is not None else _WORD.findall(folded)):
            return  # most texts hold none of the values: one C-level pass decides
        for word in _WORD.finditer(folded):
            for key, lead in self._by_word.get(word.group(), ()):
                start = word.start() - lead
                if start < 0 or folded[start : word.start()] != key[:lead]:
                    continue
                if start > 0 and _is_word_char(folded[start - 1]):
                    continue
                end = _match_at(folded, start, key)
                if end is None or (end < len(folded) and _is_word_char(folded[end])):
                    continue
                yield (start, end, *self.lookup[key])


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
    ) -> None:
        self.is_dictionary_word = is_dictionary_word or (lambda _word: False)
        self.is_person_name = is_person_name
        self.stop_words = stop_words if stop_words is not None else _default_stop_words()
        self._any_case = _TokenSet(ignore_case=True)
        self._capitalised = _TokenSet(ignore_case=False)

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
        if len(part) < MIN_PART_LENGTH or lowered in self.stop_words or lowered in CALENDAR_WORDS:
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
        words = set(_WORD.findall(_fold(text)))
        cased = words if not self._capitalised.lookup else set(_WORD.findall(text))
        for trie, seen in ((self._any_case, words), (self._capitalised, cased)):
            for start, end, entity_type, score in trie.finditer(text, seen):
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
