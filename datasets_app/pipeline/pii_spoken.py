"""Numbers read aloud in call transcripts: "two zero six five five five zero one four one",
"cuatro, cinco, dos, uno...", "0 7 8 4 6, 3 0 2, 9 1 5".

A run of at least four digits spoken one by one (digit words in English or Spanish, or single
digits separated by spaces, commas or hyphens) is a number someone dictated; the words before
it say what it is: a PIN or password, a phone number, an identifier, a card. Without such a
word a run of seven or more digits is taken for a phone number and a shorter one for a code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from datasets_app.pipeline.pii_types import (
    CREDIT_CARD,
    NATIONAL_ID,
    PHONE_NUMBER,
    SECRET,
    Finding,
)

_DIGIT_WORDS = (
    r"zero|oh|one|two|three|four|five|six|seven|eight|nine|"
    r"cero|uno|una|dos|tres|cuatro|cinco|seis|siete|ocho|nueve"
)
_REPEAT = r"(?:double|triple|doble|triple)[ \t]+"
_DIGIT = rf"(?:(?:{_REPEAT})?(?:{_DIGIT_WORDS})\b|\d(?!\d))"
SPOKEN_RUN = re.compile(
    rf"(?i)(?<![\w-])({_DIGIT}(?:[ \t]*[,.\-–]?[ \t]+{_DIGIT}|[ \t]*-[ \t]*{_DIGIT}){{3,}})"
)
_CONTEXT_TYPES = (
    (SECRET, re.compile(
        r"(?i)\b(?:pin|nip|password|passcode|contraseña|clave|c[oó]digo|code|puk|cvv|otp)\b"
    )),
    (PHONE_NUMBER, re.compile(
        r"(?i)\b(?:phone|mobile|cell|number|n[uú]mero|tel[eé]fono|celular|m[oó]vil|call|"
        r"llam\w*|whatsapp|line|l[ií]nea)\b"
    )),
    (NATIONAL_ID, re.compile(
        r"(?i)\b(?:social|ssn|security|dni|documento|c[eé]dula|passport|pasaporte|id|rut|"
        r"curp|nhs|nin|aadhaar|insurance)\b"
    )),
    (CREDIT_CARD, re.compile(r"(?i)\b(?:card|tarjeta)\b")),
)  # fmt: skip


def _digit_count(run: str) -> int:
    words = re.findall(rf"(?i){_DIGIT}", run)
    repeats = len(re.findall(r"(?i)\bdouble\b|\bdoble\b", run))
    triples = len(re.findall(r"(?i)\btriple\b", run))
    return len(words) + repeats + 2 * triples


def _kind(text: str, start: int, digits: int) -> str:
    """The type the nearest context word before the run announces."""
    before = text[max(0, start - 90) : start]
    best, best_at = None, -1
    for entity_type, pattern in _CONTEXT_TYPES:
        for match in pattern.finditer(before):
            if match.start() > best_at:
                best, best_at = entity_type, match.start()
    if best is not None:
        return best
    return PHONE_NUMBER if digits >= 7 else SECRET


# Numbers read in groups ("setenta y tres, cero cuarenta y ocho, doscientos once", "quince
# millones cuatrocientos noventa y dos mil ... guion ka", "forty two, seventeen, ninety"):
# four number words or more, one of them a ten, a teen or a hundred, after a word that says
# what the number is (a bare run of number words in prose is a quantity).
_GROUP_WORDS = (
    r"diez|once|doce|trece|catorce|quince|diecis[eé]is|dieci\w+|veinte|veinti\w+|treinta|"
    r"cuarenta|cincuenta|sesenta|setenta|ochenta|noventa|cien|ciento|doscientos|trescientos|"
    r"cuatrocientos|quinientos|seiscientos|setecientos|ochocientos|novecientos|mil|millones|"
    r"mill[oó]n|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|"
    r"nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million"
)
_NUMBER_WORD = rf"(?:{_GROUP_WORDS}|{_DIGIT_WORDS})\b"
_GROUPED_RUN = re.compile(
    rf"(?i)(?<![\w-])({_NUMBER_WORD}(?:(?:[ \t]*,[ \t]*|[ \t]+(?:(?:y|and|guion|gui[oó]n|"
    rf"dash|hyphen)[ \t]+)?){_NUMBER_WORD})+(?:[ \t]+(?:guion|gui[oó]n|dash)[ \t]+(?:ka|k)\b)?)"
)
_GROUP_WORD_RE = re.compile(rf"(?i)\b(?:{_GROUP_WORDS})\b")
_YEAR_START = re.compile(r"(?i)(?:mil novecientos|dos mil|nineteen|two thousand)\b")


# Substrings one of which every tens, teens or hundreds word holds: texts without any skip the
# (slow, position-by-position) run expression.
_GROUP_STEMS = (
    "enta", "ient", "mil", "teen", "hundred", "thousand", "diez", "once", "doce", "trece",
    "catorce", "quince", "dieci", "veint", "twenty", "thirty", "forty", "fifty", "sixty",
    "seventy", "eighty", "ninety", "eleven", "twelve", "ten", "cien", "llon",
)  # fmt: skip


def _grouped_number_findings(text: str) -> Iterator[Finding]:
    lowered = text.lower()
    if not any(stem in lowered for stem in _GROUP_STEMS):
        return
    for match in _GROUPED_RUN.finditer(text):
        run = match.group(1)
        words = re.findall(rf"(?i){_NUMBER_WORD}", run)
        if len(words) < 4 or not _GROUP_WORD_RE.search(run) or _YEAR_START.match(run):
            continue
        kind = _kind(text, match.start(1), 7)
        before = text[max(0, match.start(1) - 90) : match.start(1)]
        if not any(pattern.search(before) for _, pattern in _CONTEXT_TYPES):
            continue  # "cuarenta y dos mil quinientos pesos": a quantity
        yield Finding(*match.span(1), kind, 0.8, "spoken_numbers")


def spoken_number_findings(text: str) -> Iterator[Finding]:
    """Dictated digit runs of ``text`` as findings typed by the words before them, and numbers
    read in groups of tens and hundreds after a word saying what they are."""
    yield from _grouped_number_findings(text)
    for match in SPOKEN_RUN.finditer(text):
        run = match.group(1)
        if not re.search(r"(?i)[a-z]", run) and not re.search(r"\d[ \t]*[,\- ][ \t]*\d", run):
            continue  # "2024 1 2 3"-like runs of plain numbers are not dictation
        digits = _digit_count(run)
        if digits < 4:
            continue
        yield Finding(*match.span(1), _kind(text, match.start(1), digits), 0.8, "spoken_digits")
