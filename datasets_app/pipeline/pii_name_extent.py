"""The full extent of a person name that a rule or the model found only in part.

A cue often finds the first words of a name and stops where its own evidence ends: "Dr
Priyanka" of "Dr Priyanka Bose", "Milagros" of "Milagros Chunga Sernaqué", "Lee Soo" of "Lee
Soo-jin", "MR ANDREW JAMES" of "MR ANDREW JAMES MACLEOD", "leidy johana" of "leidy johana epieyu
uriana". ``extend_person`` grows such a finding over the name-like words written next to it on
the same line, in the same case: each a known name (even one that is also a word: Bose, Kale,
Lei), a word no dictionary knows (Sernaqué, Oduya), or a particle between two of them (de, van,
El). It stops at punctuation, a line break, a digit, an ordinary word, a field label ("DNI",
"CURP") or an organisation word, so "Ana Gil, NHS No" and "Priyanka Bose, Hyde Park Surgery"
keep their ends. Upper-case words written by OCR with 0 for O and 1 for I ("GE0RGE") count as
the words they stand for.
"""

from __future__ import annotations

import re

from datasets_app.pipeline.pii_labels import label_type
from datasets_app.pipeline.pii_lexicon import (
    NEVER_PERSON,
    NON_NAME_TOKENS,
    STOP_WORDS,
    NameLexicon,
)
from datasets_app.pipeline.pii_types import PERSON, Finding

_MAX_WORDS = 6
_LINKS = frozenset("de del la las los van von der den da di du dos das el al bin ibn le".split())
_WORD = r"[^\W\d_](?:[^\W\d_]|[01](?=[^\W\d_]))*(?:['’-][^\W\d_]+)*"
# One space between the words of a name; several spaces or a tab separate columns.
_NEXT_WORD = re.compile(rf" ([\"“'‘]{_WORD}[\"”'’]|{_WORD})(?![\w@])")
_PREVIOUS_WORD = re.compile(rf"(?<![\w@.'’-])({_WORD}) $")
_HYPHEN_PART = re.compile(r"-([^\W\d_]{2,})(?![\w@-])")
_OCR_REST = re.compile(r"[01A-ZÀ-Þ]*[A-ZÀ-Þ](?![\w@])")
_LAUGHTER = re.compile(r"(?i)(?:ja|je|ha|he|ji|jo|ka|xd)+|lol|lmao|pls|plz|xq|q")
# Spelled-out numbers (not in the dictionaries the lexicon reads): "veinte guion", "forty two".
_NUMBER_WORDS = frozenset(
    """cero uno una dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce
    quince dieciséis dieciseis diecisiete dieciocho diecinueve veinte veinti veintiuno
    veintidós veintitrés veinticuatro veinticinco veintiséis veintisiete veintiocho
    veintinueve treinta cuarenta cincuenta sesenta setenta ochenta noventa cien ciento
    doscientos trescientos cuatrocientos quinientos seiscientos setecientos ochocientos
    novecientos mil millón millones guion guión zero one two three four five six seven eight
    nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen
    twenty thirty forty fifty sixty seventy eighty ninety hundred thousand oh double triple
    dash hyphen""".split()
)


def _case_of(value: str) -> str:
    """ "upper", "title" or "lower": how the name's words are written."""
    letters = [ch for ch in value if ch.isalpha()]
    if letters and all(ch.isupper() for ch in letters) and len(letters) > 1:
        return "upper"
    return "lower" if letters and all(ch.islower() for ch in letters) else "title"


def _read_ocr(word: str) -> str:
    """An upper-case OCR word with 0 for O and 1 for I, as the word it stands for."""
    return word.replace("0", "O").replace("1", "I")


def _same_case(word: str, case: str) -> bool:
    if case == "upper":
        return word.isupper() and len(word) > 1
    if case == "lower":
        return word.islower()
    return word[:1].isupper() and (not word.isupper() or len(word) >= 3)


def _name_like(word: str, case: str, lexicon: NameLexicon, *, left: bool) -> bool:
    """Could ``word`` (letters, maybe hyphenated) be part of the name it follows?"""
    lowered = word.lower()
    if lowered in NEVER_PERSON or lowered in NON_NAME_TOKENS or label_type(word) is not None:
        return False
    parts = [p for p in re.split(r"['’-]", lowered) if p]
    return bool(parts) and all(_part_like(part, case, lexicon, left=left) for part in parts)


_SUFFIXES = ("ing", "ings", "ed", "er", "ers", "es", "s", "ly", "ción", "ciones", "mente")


def _known_word(part: str, lexicon: NameLexicon) -> bool:
    """In the dictionary as written or as an inflection of a dictionary word ("consulting",
    "services", "tiendas"), which the lemma tables list only by their base form."""
    if lexicon.in_dictionary(part):
        return True
    for suffix in _SUFFIXES:
        stem = part[: -len(suffix)]
        if part.endswith(suffix) and len(stem) >= 3:
            if lexicon.in_dictionary(stem) or lexicon.in_dictionary(stem + "e"):
                return True
    return False


def _part_like(part: str, case: str, lexicon: NameLexicon, *, left: bool = False) -> bool:
    if len(part) <= 2:
        return lexicon.is_name(part)
    if part in STOP_WORDS or part in _NUMBER_WORDS:
        return False
    if case == "lower":
        if len(part) < 4 or _LAUGHTER.fullmatch(part) or lexicon.ordinary_in_lower_case(part):
            return False
        return not _known_word(part, lexicon) or (
            lexicon.is_name(part) and not lexicon.is_common(part)
        )
    if left:  # a sentence may start just before a name: only names and unknown words
        return lexicon.is_name(part) or not _known_word(part, lexicon)
    return lexicon.maybe_name(part) or not _known_word(part, lexicon)


def _word_at(
    match: re.Match[str], case: str, lexicon: NameLexicon, *, left: bool = False
) -> str | None:
    """ "link", "name" or None for the word a match found next to the name."""
    raw = match.group(1)
    if raw[:1] in "\"“'‘":  # a nickname in quotes between given name and surname
        return "link" if raw[1:2].isupper() else None
    word = _read_ocr(raw) if case == "upper" else raw
    if not word.replace("-", "").replace("'", "").replace("’", "").isalpha():
        return None
    if word.lower() in _LINKS:
        return "link"
    if _same_case(word, case) and _name_like(word, case, lexicon, left=left):
        return "name"
    return None


def _grow_right(text: str, end: int, case: str, budget: int, lexicon: NameLexicon) -> int:
    position = end
    while budget > 0:
        match = _NEXT_WORD.match(text, position)
        kind = None if match is None else _word_at(match, case, lexicon)
        if match is None or kind is None:
            return end
        position = match.end()
        if kind == "name":
            end, budget = position, budget - 1
    return end


def _grow_left(text: str, start: int, case: str, budget: int, lexicon: NameLexicon) -> int:
    position = start
    while budget > 0:
        match = _PREVIOUS_WORD.search(text, max(0, position - 40), position)
        kind = None if match is None else _word_at(match, case, lexicon, left=True)
        if match is None or kind is None:
            return start
        position = match.start()
        if kind == "name":
            start, budget = position, budget - 1
    return start


def _rest_of_word(text: str, end: int, case: str, lexicon: NameLexicon) -> int:
    """The end of the word a finding stopped inside: "Hye" of "Hye-jin", "IBIM" of "IBIM0"."""
    if case == "upper" and text[end : end + 1] in ("0", "1"):
        rest = _OCR_REST.match(text, end)
        return rest.end() if rest else end
    hyphen = _HYPHEN_PART.match(text, end)
    if hyphen and text[end - 1 : end].isalpha():
        part = hyphen.group(1).lower()
        if part not in STOP_WORDS and (lexicon.maybe_name(part) or not _known_word(part, lexicon)):
            return hyphen.end()
    return end


def extend_person(text: str, finding: Finding, lexicon: NameLexicon) -> Finding:
    """``finding`` grown over the rest of the name it found part of (see the module docstring);
    the same finding when there is nothing to add. Findings of other types pass unchanged."""
    if finding.entity_type != PERSON:
        return finding
    value = text[finding.start : finding.end]
    case = _case_of(value)
    end = finding.end
    end = _rest_of_word(text, end, case, lexicon)
    budget = _MAX_WORDS - len(value.split())
    end = _grow_right(text, end, case, budget, lexicon)
    budget -= len(text[finding.end : end].split())
    start = finding.start
    if case != "lower":  # a lower-case word before a name is as often a verb as a name
        start = _grow_left(text, finding.start, case, min(budget, 2), lexicon)
    if (start, end) == (finding.start, finding.end):
        return finding
    return Finding(start, end, PERSON, finding.score, finding.recognizer)
