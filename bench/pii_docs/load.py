"""Hand-labelled PII documents: load a split, validate its markup and its checksummed identifiers.

The format is ``/work/coord/pii_corpus_format.md``: one UTF-8 file per document,
``bench/pii_docs/<split>/<genre>-<locale>-<nnn>.txt``; ``# key: value`` header lines (``genre``,
``locale``, ``language``, optional ``note``), one blank line, then the text with every labelled span
written inline as ``[[TYPE|value]]``. The document text is the body with each marker replaced by its
value, so span offsets are offsets into the stripped text.

Django-free and dependency-free, so benches and tests import it by path:

    .venv/bin/python bench/pii_docs/load.py --check      # every split: counts and invalid ids

``load_split`` raises ``MarkupError`` (naming the file and line) on malformed markup: an unbalanced
``[[``/``]]``, an unknown or lower-case type, a marker nested in another, an empty value or one with
surrounding blanks, a missing or unknown header key, a file name that disagrees with its header.
``identifier_problems`` checks the identifiers that carry a checksum or a fixed structure (Spanish
DNI/NIE letter and NUSS, CUIT/CUIL, CBU, RUT, Colombian NIT, Peruvian RUC, CURP, RFC, IMSS NSS,
CLABE, NHS, NI number, UTR, Dutch BSN, PAN, Aadhaar, SSN, ITIN, card Luhn, IBAN); which check
applies is decided by the label nearest before the value, then the document's locale, then the
shape (see ``identify``). It is separate from loading so a bench can still read a split whose ids
are wrong.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import NamedTuple

DOCS_DIR = Path(__file__).resolve().parent
SPLITS = ("dev", "heldout")
PERSONAL_TYPES = frozenset(
    {"PERSON", "ADDRESS", "DATE_OF_BIRTH", "EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS",
     "CREDIT_CARD", "IBAN_CODE", "NATIONAL_ID", "MEDICAL_ID", "SECRET"}
)  # fmt: skip
TYPES = PERSONAL_TYPES | {"KEEP"}
LANGUAGES = ("en", "es")
HEADER_KEYS = frozenset({"genre", "locale", "language", "note"})
REQUIRED_KEYS = ("genre", "locale", "language")
_DOC_ID = re.compile(r"(?P<genre>[a-z]+)-(?P<locale>[a-z]{2}-[A-Z]{2})-\d{3}")
_LOCALE = re.compile(r"[a-z]{2}-[A-Z]{2}")


class MarkupError(ValueError):
    """A document that does not follow the format; the message names the file and the line."""


class Span(NamedTuple):
    """A labelled value: ``text[start:end]`` of its document, and its type."""

    start: int
    end: int
    type: str


@dataclass(frozen=True)
class LabeledDocument:
    """One document: header fields, the text with markup stripped, and its labelled spans."""

    id: str
    genre: str
    locale: str
    language: str
    text: str
    spans: list[Span]
    note: str = ""

    def value(self, span: Span) -> str:
        """The labelled value of ``span`` (a slice of ``text``)."""
        return self.text[span.start : span.end]


# --- parsing -------------------------------------------------------------------------------------


def parse_document(doc_id: str, raw: str) -> LabeledDocument:
    """Parse one document's file contents; ``doc_id`` is the file name without ``.txt``.

    Raises ``MarkupError`` on any departure from the format (see the module docstring).
    """
    header, body, body_line = _split_header(doc_id, raw)
    text, spans = parse_markup(body, where=doc_id, first_line=body_line)
    _check_id(doc_id, header)
    return LabeledDocument(
        id=doc_id,
        genre=header["genre"],
        locale=header["locale"],
        language=header["language"],
        text=text,
        spans=spans,
        note=header.get("note", ""),
    )


def _split_header(doc_id: str, raw: str) -> tuple[dict[str, str], str, int]:
    """The header fields, the body, and the body's first line number (1-based)."""
    lines = raw.split("\n")
    header: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if line == "":
            if not header:
                raise MarkupError(f"{doc_id}:{number}: blank line before any '# key: value'")
            _require_keys(doc_id, header)
            return header, "\n".join(lines[number:]), number + 1
        key, sep, value = line[2:].partition(":")
        if not line.startswith("# ") or not sep:
            raise MarkupError(f"{doc_id}:{number}: header line is not '# key: value': {line!r}")
        key = key.strip()
        if key not in HEADER_KEYS:
            raise MarkupError(f"{doc_id}:{number}: unknown header key {key!r}")
        header[key] = value.strip()
    raise MarkupError(f"{doc_id}: no blank line between the header and the text")


def _require_keys(doc_id: str, header: dict[str, str]) -> None:
    missing = [key for key in REQUIRED_KEYS if not header.get(key)]
    if missing:
        raise MarkupError(f"{doc_id}: header lacks {', '.join(missing)}")
    if header["language"] not in LANGUAGES:
        raise MarkupError(f"{doc_id}: language {header['language']!r} is not one of {LANGUAGES}")
    if not _LOCALE.fullmatch(header["locale"]):
        raise MarkupError(f"{doc_id}: locale {header['locale']!r} is not like 'es-AR'")
    if header["locale"][:2] != header["language"]:
        raise MarkupError(f"{doc_id}: locale {header['locale']} disagrees with language")


def _check_id(doc_id: str, header: dict[str, str]) -> None:
    match = _DOC_ID.fullmatch(doc_id)
    if match is None:
        raise MarkupError(f"{doc_id}: file name is not '<genre>-<locale>-<nnn>.txt'")
    for key in ("genre", "locale"):
        if match[key] != header[key]:
            raise MarkupError(
                f"{doc_id}: file name says {key} {match[key]!r}, header {header[key]!r}"
            )


def parse_markup(body: str, where: str = "<text>", first_line: int = 1) -> tuple[str, list[Span]]:
    """Strip ``[[TYPE|value]]`` markers from ``body``: the plain text and the labelled spans."""
    pieces: list[str] = []
    spans: list[Span] = []
    cursor = length = 0
    while (start := body.find("[[", cursor)) != -1:
        while body.startswith("[", start + 2):  # "[[[KEEP|x]]": a literal "[" before the marker
            start += 1
        _refuse_stray_close(body, cursor, start, where, first_line)
        label, value, end = _read_marker(body, start, where, first_line)
        pieces.append(body[cursor:start])
        length += start - cursor
        spans.append(Span(length, length + len(value), label))
        pieces.append(value)
        length += len(value)
        cursor = end
    _refuse_stray_close(body, cursor, len(body), where, first_line)
    pieces.append(body[cursor:])
    return "".join(pieces), spans


def _read_marker(body: str, start: int, where: str, first_line: int) -> tuple[str, str, int]:
    """The type and value of the marker opening at ``start``, and the offset just after it."""
    line = f"{where}:{first_line + body.count(chr(10), 0, start)}"
    close = body.find("]]", start + 2)
    if close == -1:
        raise MarkupError(f"{line}: '[[' is never closed")
    bar = body.find("|", start + 2, close)
    if bar == -1:
        raise MarkupError(f"{line}: marker {body[start : close + 2]!r} has no '|'")
    label, value = body[start + 2 : bar], body[bar + 1 : close]
    if "[[" in label or "[[" in value:
        raise MarkupError(f"{line}: nested marker in {body[start : close + 2]!r}")
    if label not in TYPES:
        raise MarkupError(f"{line}: unknown type {label!r} (known: {', '.join(sorted(TYPES))})")
    if "|" in value:
        raise MarkupError(f"{line}: value {value!r} contains '|'")
    if not value.strip() or value != value.strip():
        raise MarkupError(f"{line}: value {value!r} is empty or has surrounding blanks")
    return label, value, close + 2


def _refuse_stray_close(body: str, start: int, end: int, where: str, first_line: int) -> None:
    stray = body.find("]]", start, end)
    if stray != -1:
        line = first_line + body.count("\n", 0, stray)
        raise MarkupError(f"{where}:{line}: ']]' without a matching '[['")


def load_split(name: str, root: Path = DOCS_DIR) -> list[LabeledDocument]:
    """Every document of ``<root>/<name>/*.txt``, sorted by id; ``[]`` if the split is absent.

    Raises ``MarkupError`` on the first malformed document.
    """
    folder = root / name
    return [
        parse_document(path.stem, path.read_text(encoding="utf-8"))
        for path in sorted(folder.glob("*.txt"))
    ]


# --- checksummed identifiers ---------------------------------------------------------------------


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _compact(value: str) -> str:
    return re.sub(r"[\s.\-/]", "", value).upper()


def luhn_ok(value: str) -> bool:
    """Credit cards: the Luhn mod 10 check over every digit."""
    digits = [int(d) for d in _digits(value)]
    if not 12 <= len(digits) <= 19:
        return False
    total = sum(digits[-1::-2]) + sum(sum(divmod(2 * d, 10)) for d in digits[-2::-2])
    return total % 10 == 0


def iban_ok(value: str) -> bool:
    """IBAN: ISO 13616 mod 97 over the rearranged, letter-expanded string."""
    compact = _compact(value)
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _weighted_digit(digits: str, weights: Iterable[int], modulus: int = 10) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % modulus


def cbu_ok(value: str) -> bool:
    """Argentine CBU: 22 digits, check digits at positions 8 and 22 (weights 7,1,3,9)."""
    d = _digits(value)
    if len(d) != 22:
        return False
    first = (10 - _weighted_digit(d[:7], (7, 1, 3, 9, 7, 1, 3))) % 10
    second = (10 - _weighted_digit(d[8:21], (3, 9, 7, 1) * 4)) % 10
    return int(d[7]) == first and int(d[21]) == second


def clabe_ok(value: str) -> bool:
    """Mexican CLABE: 18 digits, the last one from weights 3,7,1 mod 10."""
    d = _digits(value)
    if len(d) != 18:
        return False
    products = sum((int(c) * w) % 10 for c, w in zip(d[:17], (3, 7, 1) * 6, strict=False))
    return int(d[17]) == (10 - products % 10) % 10


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def es_dni_ok(value: str) -> bool:
    """Spanish DNI/NIF: 8 digits and the letter of their value mod 23."""
    compact = _compact(value)
    return (
        bool(re.fullmatch(r"\d{8}[A-Z]", compact))
        and _DNI_LETTERS[int(compact[:8]) % 23] == compact[8]
    )


def es_nie_ok(value: str) -> bool:
    """Spanish NIE: X/Y/Z (as 0/1/2), 7 digits and the DNI letter of the resulting number."""
    compact = _compact(value)
    if not re.fullmatch(r"[XYZ]\d{7}[A-Z]", compact):
        return False
    return es_dni_ok(str("XYZ".index(compact[0])) + compact[1:])


def ar_cuit_ok(value: str) -> bool:
    """Argentine CUIT/CUIL: 11 digits, the last from weights 5,4,3,2,7,6,5,4,3,2 mod 11."""
    d = _digits(value)
    if len(d) != 11 or d[:2] not in {"20", "23", "24", "27", "30", "33", "34"}:
        return False
    check = 11 - _weighted_digit(d[:10], (5, 4, 3, 2, 7, 6, 5, 4, 3, 2), 11)
    return {11: 0, 10: -1}.get(check, check) == int(d[10])


def es_nuss_ok(value: str) -> bool:
    """Spanish social security number (NUSS/NAF): 2 + 8 digits and their value mod 97.

    Numbers whose middle part is under 10,000,000 are checked on the number without its leading
    zero, as the Seguridad Social does.
    """
    d = _digits(value)
    if len(d) != 12:
        return False
    body = d[:2] + (d[2:10] if int(d[2:10]) >= 10_000_000 else str(int(d[2:10])))
    return int(body) % 97 == int(d[10:])


def mx_nss_ok(value: str) -> bool:
    """Mexican IMSS social security number (NSS): 11 digits, the last a Luhn check digit."""
    d = _digits(value)
    return len(d) == 11 and luhn_ok("0" * 2 + d)


def pe_ruc_ok(value: str) -> bool:
    """Peruvian RUC: 11 digits (10/15/17/20 + body), the last from CUIT-like weights mod 11."""
    d = _digits(value)
    if len(d) != 11 or d[:2] not in {"10", "15", "17", "20"}:
        return False
    return int(d[10]) == (11 - _weighted_digit(d[:10], (5, 4, 3, 2, 7, 6, 5, 4, 3, 2), 11)) % 10


_NIT_WEIGHTS = (3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71)


def co_nit_ok(value: str) -> bool:
    """Colombian NIT (the RUT of the DIAN): body digits and a DIAN mod 11 verifier."""
    d = _digits(value)
    if not 7 <= len(d) <= 16:
        return False
    remainder = sum(int(x) * w for x, w in zip(reversed(d[:-1]), _NIT_WEIGHTS, strict=False)) % 11
    return int(d[-1]) == (remainder if remainder < 2 else 11 - remainder)


def cl_rut_ok(value: str) -> bool:
    """Chilean RUT/RUN: body digits and a mod 11 verifier (0-9 or K), weights 2..7 cycling."""
    compact = _compact(value)
    if not re.fullmatch(r"\d{6,8}[0-9K]", compact):
        return False
    body, verifier = compact[:-1], compact[-1]
    total = sum(int(d) * (2 + i % 6) for i, d in enumerate(reversed(body)))
    expected = {11: "0", 10: "K"}.get(11 - total % 11, str(11 - total % 11))
    return verifier == expected


_CURP_ALPHABET = "0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ"
_CURP = re.compile(r"[A-Z][AEIOUX][A-Z]{2}\d{6}[HMX][A-Z]{2}[B-DF-HJ-NP-TV-Z]{3}[A-Z0-9]\d")


_CURP_STATES = frozenset(
    "AS BC BS CC CH CL CM CS DF DG GR GT HG JC MC MN MS NE NL NT OC PL QR QT SL SP SR TC TL TS VZ YN"
    " ZS".split()
)


def mx_curp_ok(value: str) -> bool:
    """Mexican CURP: a real birth date and state code, the last digit a weighted sum mod 10."""
    curp = value.strip().upper()
    if not _CURP.fullmatch(curp) or curp[11:13] not in _CURP_STATES:
        return False
    century = 1900 if curp[16].isdigit() else 2000
    if not _is_date(century + int(curp[4:6]), int(curp[6:8]), int(curp[8:10])):
        return False
    total = sum(_CURP_ALPHABET.index(ch) * (18 - i) for i, ch in enumerate(curp[:17]))
    return int(curp[17]) == (10 - total % 10) % 10


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


_RFC_ALPHABET = "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ Ñ"
_RFC = re.compile(r"[A-ZÑ&]{4}\d{6}[A-Z0-9]{2}[0-9A]")


def mx_rfc_ok(value: str) -> bool:
    """Mexican RFC of a person (13 characters): the last from the SAT weighted sum mod 11."""
    rfc = _compact(value)
    # The year's century is not in the RFC: 2000 is a leap year, so 29 February passes.
    if not _RFC.fullmatch(rfc) or not _is_date(
        2000 + int(rfc[4:6]) % 100, int(rfc[6:8]), int(rfc[8:10])
    ):
        return False
    total = sum(_RFC_ALPHABET.index(ch) * (13 - i) for i, ch in enumerate(rfc[:12]))
    check = 11 - total % 11
    return rfc[12] == {11: "0", 10: "A"}.get(check, str(check))


def uk_nhs_ok(value: str) -> bool:
    """NHS number: 10 digits, the last from weights 10..2 mod 11 (a result of 10 is invalid)."""
    d = _digits(value)
    if len(d) != 10:
        return False
    check = 11 - _weighted_digit(d[:9], range(10, 1, -1), 11)
    return {11: 0}.get(check, check) == int(d[9])


def uk_nino_ok(value: str) -> bool:
    """National Insurance number: HMRC prefix rules, 6 digits, suffix A-D."""
    nino = _compact(value)
    return bool(
        re.fullmatch(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]", nino)
        and nino[:2] not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
    )


def in_pan_ok(value: str) -> bool:
    """Indian PAN: 5 letters (the 4th the holder's kind), 4 digits, a letter."""
    return bool(re.fullmatch(r"[A-Z]{3}[ABCFGHLJPT][A-Z]\d{4}[A-Z]", _compact(value)))


_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]  # fmt: skip
_VERHOEFF_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]  # fmt: skip


def in_aadhaar_ok(value: str) -> bool:
    """Aadhaar: 12 digits, not starting with 0 or 1, Verhoeff check over all of them."""
    d = _digits(value)
    if len(d) != 12 or d[0] in "01":
        return False
    check = 0
    for i, digit in enumerate(reversed(d)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[i % 8][int(digit)]]
    return check == 0


def us_ssn_ok(value: str) -> bool:
    """US SSN: area not 000, 666 or 9xx; group not 00; serial not 0000."""
    d = _digits(value)
    return (
        len(d) == 9
        and d[:3] not in {"000", "666"}
        and d[0] != "9"
        and d[3:5] != "00"
        and d[5:] != "0000"
    )


def us_itin_ok(value: str) -> bool:
    """US ITIN: 9xx, then a group 50-65, 70-88, 90-92 or 94-99, then 4 digits."""
    d = _digits(value)
    group = int(d[3:5]) if len(d) == 9 else 0
    return (
        len(d) == 9
        and d[0] == "9"
        and any(lo <= group <= hi for lo, hi in ((50, 65), (70, 88), (90, 92), (94, 99)))
    )


def nl_bsn_ok(value: str) -> bool:
    """Dutch BSN: 9 digits passing the "11-proef" (weights 9..2 and -1, sum divisible by 11)."""
    d = _digits(value)
    if len(d) != 9 or d[0] == "0":
        return False
    total = sum(int(x) * w for x, w in zip(d, (9, 8, 7, 6, 5, 4, 3, 2, -1), strict=True))
    return total % 11 == 0


def uk_utr_ok(value: str) -> bool:
    """UK Unique Taxpayer Reference: 10 digits, the first a check over the other nine (HMRC)."""
    d = _digits(value)
    if len(d) != 10:
        return False
    weighted = sum(int(x) * w for x, w in zip(d[1:], (6, 7, 8, 9, 10, 5, 4, 3, 2), strict=True))
    return d[0] == "21987654321"[weighted % 11]


class IdKind(NamedTuple):
    """A checkable identifier: how to recognise it and how to validate it.

    ``shape`` must match the whole value. A kind with ``words`` or ``locales`` applies only when
    one of the words (whole words, any case) occurs in the 80 characters before the value or the
    document's locale is listed: shapes like "ten digits" are too common to check on shape alone.
    """

    name: str
    types: frozenset[str]
    shape: re.Pattern[str]
    check: Callable[[str], bool]
    words: tuple[str, ...] = ()
    locales: tuple[str, ...] = ()


_IDS = frozenset({"NATIONAL_ID", "MEDICAL_ID"})
_BANK = frozenset({"IBAN_CODE"})
_CARD = frozenset({"CREDIT_CARD"})


def _kind(
    name: str,
    types: frozenset[str],
    shape: str,
    check: Callable[[str], bool],
    words: tuple[str, ...] = (),
    locales: tuple[str, ...] = (),
) -> IdKind:
    return IdKind(name, types, re.compile(shape), check, words, locales)


# One row per (kind, shape): a kind written several ways has several rows.
# fmt: off
ID_KINDS: tuple[IdKind, ...] = (
    _kind("us_itin", _IDS, r"9\d{2}-\d{2}-\d{4}", us_itin_ok),
    _kind("card", _CARD, r"[\d\s-]{12,23}", luhn_ok),
    _kind("iban", _BANK, r"[A-Z]{2}\d{2}[A-Z0-9 ]{10,40}", iban_ok),
    _kind("cbu", _BANK, r"\d{22}|\d{8}[\s-]\d{14}", cbu_ok),
    _kind("clabe", _BANK, r"\d{18}|\d{3} \d{3} \d{11} \d", clabe_ok),
    _kind("co_nit", _IDS, r"\d{1,3}(\.?\d{3}){2,3}-\d", co_nit_ok, ("nit",), ("es-CO",)),
    _kind("cl_rut", _IDS, r"\d{1,2}\.?\d{3}\.?\d{3}-[\dkK]", cl_rut_ok, ("rut", "run"), ("es-CL",)),
    _kind("es_dni", _IDS, r"\d{2}\.?\d{3}\.?\d{3}[\s-]?[A-Za-z]", es_dni_ok),
    _kind("es_nie", _IDS, r"[XYZ][\s-]?\d{7}[\s-]?[A-Z]", es_nie_ok),
    _kind("ar_cuit", _IDS, r"\d{2}-\d{8}-\d", ar_cuit_ok),
    _kind("ar_cuit", _IDS, r"\d{11}", ar_cuit_ok, ("cuit", "cuil"), ("es-AR",)),
    _kind("pe_ruc", _IDS, r"1[057]\d{9}", pe_ruc_ok, ("ruc",), ("es-PE",)),
    _kind("mx_curp", _IDS, r"[A-Z]{4}\d{6}[HM][A-Z]{5}[A-Z0-9]\d", mx_curp_ok),
    _kind("mx_rfc", _IDS, r"[A-ZÑ&]{4}-?\d{6}-?[A-Z0-9]{3}", mx_rfc_ok, ("rfc",), ("es-MX",)),
    _kind("mx_nss", _IDS, r"\d{11}|\d{2}[\s-]\d{2}[\s-]\d{2}[\s-]\d{4}[\s-]\d", mx_nss_ok, ("nss", "imss")),
    _kind("es_nuss", _IDS, r"\d{2}[/\s-]?\d{8}[/\s-]?\d{2}", es_nuss_ok,
          ("nuss", "naf", "seguridad social", "afiliación")),
    _kind("uk_nhs", _IDS, r"\d{3}[\s-]\d{3}[\s-]\d{4}", uk_nhs_ok, ("nhs",), ("en-GB",)),
    _kind("uk_nhs", _IDS, r"\d{10}", uk_nhs_ok, ("nhs",)),
    _kind("uk_utr", _IDS, r"\d{5}\s?\d{5}", uk_utr_ok, ("utr", "taxpayer reference")),
    _kind("uk_nino", _IDS, r"[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-Z]", uk_nino_ok),
    _kind("nl_bsn", _IDS, r"\d{9}|\d{4}\.\d{2}\.\d{3}", nl_bsn_ok, ("bsn", "burgerservicenummer")),
    _kind("in_pan", _IDS, r"[A-Z]{5}\d{4}[A-Z]", in_pan_ok),
    _kind("in_aadhaar", _IDS, r"\d{4}[\s-]\d{4}[\s-]\d{4}", in_aadhaar_ok,
          ("aadhaar", "aadhar", "uid", "uidai"), ("en-IN",)),
    _kind("in_aadhaar", _IDS, r"\d{12}", in_aadhaar_ok, ("aadhaar", "aadhar", "uidai")),
    _kind("us_ssn", _IDS, r"[0-8]\d{2}-\d{2}-\d{4}", us_ssn_ok, ("ssn", "social security"), ("en-US",)),
)
# fmt: on


def identify(doc: LabeledDocument, span: Span) -> IdKind | None:
    """The checkable kind of a labelled value, or ``None`` if it has no checksum we know.

    Among the kinds whose shape fits, the one whose word is nearest before the value wins ("RUT/NIT:"
    is a NIT); then a kind of the document's locale ("25696807-K" in a Chilean table is a RUT, not a
    Spanish DNI with the letter K); last, kinds recognised by shape alone (CURP, DNI letter...).
    """
    value = doc.value(span)
    context = doc.text[max(0, span.start - 80) : span.start].lower()
    best: tuple[tuple[int, int], IdKind] | None = None
    for kind in ID_KINDS:
        if span.type not in kind.types or not kind.shape.fullmatch(value):
            continue
        rank = _rank(kind, context, doc.locale)
        if rank is not None and (best is None or rank > best[0]):
            best = (rank, kind)
    return None if best is None else best[1]


# Labels of identifiers without a checksum here: when one of them sits nearer the value than a
# kind's own word, that word labels an earlier value ("Aadhaar: ... UAN: 1018...").
_OTHER_LABELS = re.compile(
    r"\b(uan|pan|nin|bvn|tin|passport|pasaporte|licen[cs]e|mrn|member|policy|p[oó]liza|afiliad[oa]|"
    r"account|cuenta|cip|nhc|hc|dni|ine|cédula|c\.c|ruc|nit|nss|cuil|cuit|rut|run|curp|rfc|ration|"
    r"voter|epic|abha|uhid|apaar|bsn|utr)\b"
)


def _word_end(words: tuple[str, ...], context: str) -> int:
    hits = [m.end() for w in words for m in re.finditer(rf"\b{re.escape(w)}\b", context)]
    return max(hits, default=-1)


def _rank(kind: IdKind, context: str, locale: str) -> tuple[int, int] | None:
    """(2, position) for a kind named just before the value, (1, 0) for the locale's kind,
    (0, 0) for a kind known by shape alone; ``None`` when the kind does not apply."""
    if not kind.words and not kind.locales:
        return (0, 0)
    own = _word_end(kind.words, context)
    others = [m.end() for m in _OTHER_LABELS.finditer(context) if m.group(1) not in kind.words]
    if own >= 0 and own >= max(others, default=-1):
        return (2, own)
    return (1, 0) if locale in kind.locales else None


class IdCheck(NamedTuple):
    """One checked identifier: where it is, what it was taken for, whether it holds."""

    doc_id: str
    kind: str
    value: str
    valid: bool


def check_identifiers(doc: LabeledDocument) -> list[IdCheck]:
    """Every labelled value of ``doc`` that has a known checksum, validated."""
    checks = []
    for span in doc.spans:
        kind = identify(doc, span)
        if kind is not None:
            value = doc.value(span)
            checks.append(IdCheck(doc.id, kind.name, value, kind.check(value)))
    return checks


def identifier_problems(docs: Iterable[LabeledDocument]) -> list[IdCheck]:
    """The checked identifiers of ``docs`` whose checksum or structure does not hold."""
    return [check for doc in docs for check in check_identifiers(doc) if not check.valid]


# --- the --check report --------------------------------------------------------------------------


def _counts(title: str, counter: Counter[str]) -> str:
    return f"  {title}: " + ", ".join(f"{key} {n}" for key, n in sorted(counter.items()))


def describe_split(name: str, docs: list[LabeledDocument], show_values: bool) -> list[str]:
    """The report lines for one split; invalid identifier values only if ``show_values``."""
    checks = [check for doc in docs for check in check_identifiers(doc)]
    bad = [check for check in checks if not check.valid]
    lines = [
        f"{name}: {len(docs)} documents, {sum(len(d.spans) for d in docs)} spans, "
        f"{sum(len(d.text) for d in docs)} characters",
        _counts("types", Counter(span.type for doc in docs for span in doc.spans)),
        _counts("genres", Counter(doc.genre for doc in docs)),
        _counts("locales", Counter(doc.locale for doc in docs)),
        _counts("languages", Counter(doc.language for doc in docs)),
        _counts("checked ids", Counter(check.kind for check in checks)),
        f"  invalid ids: {len(bad)}",
    ]
    for check in bad:
        shown = check.value if show_values else "(value hidden)"
        lines.append(f"    {check.doc_id}: {check.kind} {shown}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """``--check``: validate every split, print its counts; exit 1 on any malformed file or id."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="validate and summarise every split")
    parser.add_argument("--splits", nargs="*", default=list(SPLITS))
    parser.add_argument(
        "--show-values",
        action="store_true",
        help="print invalid identifier values (held-out values stay hidden by default)",
    )
    args = parser.parse_args(argv)
    if not args.check:
        parser.print_help()
        return 2
    failed = False
    for name in args.splits:
        try:
            docs = load_split(name)
        except MarkupError as error:
            print(f"{name}: MALFORMED {error}")
            failed = True
            continue
        show = args.show_values or name == "dev"
        print("\n".join(describe_split(name, docs, show)))
        failed = failed or bool(identifier_problems(docs))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
