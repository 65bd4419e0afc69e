"""Regex recognizers run directly over raw text (no Presidio per-recognizer machinery).

A ``PatternSpec`` is one compiled regex plus what confirms it (a checksum or
shape validator), what scores it, and which nearby words raise confidence
(context). ``scan_patterns`` runs a list of specs over one text and returns
``Finding`` objects; it never raises on odd input.

The spec tables live here (structured identifiers), in ``pii_secrets``
(credentials and tokens) and ``pii_addresses`` (street addresses);
``default_pattern_specs`` assembles them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from datasets_app.pipeline import pii_validators as v
from datasets_app.pipeline.pii_dates import BORN_DATE, DATE
from datasets_app.pipeline.pii_types import (
    CREDIT_CARD,
    DATE_OF_BIRTH,
    EMAIL_ADDRESS,
    ES_NIE,
    ES_NIF,
    IBAN_CODE,
    IP_ADDRESS,
    PHONE_NUMBER,
    SUPPORTED_LANGUAGES,
    URL_CREDENTIALS,
    US_SSN,
    Finding,
)

ALL_LANGUAGES = frozenset(SUPPORTED_LANGUAGES)
CONTEXT_BOOST = 0.35  # Presidio's context_similarity_factor
CONTEXT_FLOOR = 0.4  # Presidio's min_score_with_context_similarity

Acceptor = Callable[[str], int]


@dataclass(frozen=True)
class PatternSpec:
    """A compiled regex recognizer.

    ``accept(value)`` returns how many leading characters of the matched value
    are accepted (0 rejects it); ``rescore(value)`` may replace ``score``.
    ``context`` words (prefix match, case-insensitive) within ``window``
    characters before the value (or ``window // 2`` after) raise the score to
    ``context_score`` (default: Presidio's +0.35, floor 0.4). When
    ``requires_context`` is set a match without context is discarded.
    ``needle`` is a cheap substring test (or a tuple of alternatives): when
    given and absent from the text, the regex is not run at all. ``anchor`` goes further: the regex only runs
    in a window of ``reach`` characters before/after each occurrence of the
    anchor (e-mails around ``@``), which avoids trying a slow prefix at every
    position of long texts. ``digits`` says every match holds a digit: the
    regex then only runs around the digits of a text (``digit_windows``).
    ``words``: lower-case substrings one of which every match contains (its
    keyword); a text that holds none of them is skipped without running the regex.
    """

    name: str
    entity_type: str
    pattern: re.Pattern[str]
    score: float
    group: int | str = 0
    accept: Acceptor | None = None
    rescore: Callable[[str], float] | None = None
    context: tuple[str, ...] = ()
    context_score: float | None = None
    requires_context: bool = False
    needle: str | tuple[str, ...] | None = None
    anchor: str | None = None
    reach: tuple[int, int] = (80, 260)
    ceiling: float | None = None
    languages: frozenset[str] = ALL_LANGUAGES
    window: int = 48
    digits: bool = False
    words: tuple[str, ...] = ()
    _context_re: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.context:
            words = "|".join(sorted((re.escape(w) for w in self.context), key=len, reverse=True))
            object.__setattr__(self, "_context_re", re.compile(rf"(?i)(?<!\w)(?:{words})"))

    def has_context(self, text: str, start: int, end: int) -> bool:
        """True when a context word occurs just before (or shortly after) ``text[start:end]``."""
        if self._context_re is None:
            return False
        before = text[max(0, start - self.window) : start]
        after = text[end : end + self.window // 2]
        return bool(self._context_re.search(before) or self._context_re.search(after))

    @property
    def best_score(self) -> float:
        """Highest score this spec can ever report (``ceiling`` when set explicitly)."""
        if self.ceiling is not None:
            return self.ceiling
        if self.rescore is not None:
            return 1.0
        return self.boosted(self.score) if self.context else self.score

    def boosted(self, score: float) -> float:
        """Score used when context is present."""
        if self.context_score is not None:
            return max(score, self.context_score)
        return min(1.0, max(score + CONTEXT_BOOST, CONTEXT_FLOOR))


def whole(predicate: Callable[[str], bool]) -> Acceptor:
    """Adapt a bool validator to an ``Acceptor`` that accepts the whole value or nothing."""

    def accept(value: str) -> int:
        return len(value) if predicate(value) else 0

    return accept


def _score_match(spec: PatternSpec, text: str, start: int, end: int) -> float | None:
    """Final score for an accepted match, or None when it must be discarded."""
    value = text[start:end]
    score = spec.rescore(value) if spec.rescore else spec.score
    if spec.has_context(text, start, end):
        return spec.boosted(score)
    return None if spec.requires_context else score


def _anchored_matches(spec: PatternSpec, text: str) -> Iterator[re.Match[str]]:
    """Matches found in windows around each anchor occurrence, each reported once."""
    assert spec.anchor is not None
    before, after = spec.reach
    done = 0
    position = text.find(spec.anchor)
    while position != -1:
        low = max(done, position - before)
        for match in spec.pattern.finditer(text, low, min(len(text), position + after)):
            if match.start() >= done:
                done = match.end()
                yield match
        position = text.find(spec.anchor, max(position + 1, done))


def _context_window_matches(spec: PatternSpec, text: str) -> Iterator[re.Match[str]]:
    """For specs that need context anyway: only search near context words."""
    assert spec._context_re is not None
    done = 0
    for context in spec._context_re.finditer(text):
        low = max(done, context.start() - spec.window // 2 - 64)
        high = min(len(text), context.end() + spec.window + 64)
        for match in spec.pattern.finditer(text, low, high):
            if match.start() >= done:
                done = match.end()
                yield match


def _has_needle(needle: str | tuple[str, ...], text: str) -> bool:
    if isinstance(needle, str):
        return needle in text
    return any(n in text for n in needle)


_DIGIT_RUNS = re.compile(r"\d+")
DIGITS_BEFORE, DIGITS_AFTER = 160, 240  # how far a match may reach from its nearest digit


def digit_windows(text: str) -> list[tuple[int, int]]:
    """Merged (start, end) windows around the digits of ``text``: every match of a spec with
    ``digits=True`` lies inside one (its street name, prefix or tail is within reach)."""
    windows: list[tuple[int, int]] = []
    for run in _DIGIT_RUNS.finditer(text):
        low, high = max(0, run.start() - DIGITS_BEFORE), min(len(text), run.end() + DIGITS_AFTER)
        if windows and low <= windows[-1][1]:
            windows[-1] = (windows[-1][0], high)
        else:
            windows.append((low, high))
    return windows


def _windowed_matches(
    spec: PatternSpec, text: str, windows: Sequence[tuple[int, int]]
) -> Iterator[re.Match[str]]:
    if len(windows) == 1 and windows[0] == (0, len(text)):
        yield from spec.pattern.finditer(text)
        return
    done = 0
    for low, high in windows:
        for match in spec.pattern.finditer(text, max(low, done), high):
            done = match.end()
            yield match


def _matches(
    spec: PatternSpec, text: str, windows: Sequence[tuple[int, int]] | None = None
) -> Iterator[re.Match[str]]:
    if windows is not None and spec.digits and spec.anchor is None and not spec.requires_context:
        return _windowed_matches(spec, text, windows)
    if spec.anchor is not None:
        return _anchored_matches(spec, text)
    if spec.requires_context and spec._context_re is not None:
        return _context_window_matches(spec, text)
    if spec.needle is not None and not _has_needle(spec.needle, text):
        return iter(())
    return spec.pattern.finditer(text)


def scan_spec(
    spec: PatternSpec, text: str, windows: Sequence[tuple[int, int]] | None = None
) -> Iterable[Finding]:
    """Yield the findings of one spec over ``text`` (``windows``: ``digit_windows(text)``)."""
    for match in _matches(spec, text, windows):
        start, end = match.span(spec.group)
        if start < 0 or start == end:
            continue
        if spec.accept is not None:
            accepted = spec.accept(text[start:end])
            if accepted <= 0:
                continue
            end = start + accepted
        score = _score_match(spec, text, start, end)
        if score is not None:
            yield Finding(start, end, spec.entity_type, round(score, 4), spec.name)


def block_findings(text: str) -> list[Finding]:
    """Address blocks (``pii_addresses.address_blocks``) as findings."""
    from datasets_app.pipeline.pii_addresses import address_blocks

    return [
        Finding(start, end, "ADDRESS", 0.75, "address_block") for start, end in address_blocks(text)
    ]


def scan_patterns(specs: Sequence[PatternSpec], text: str, language: str) -> list[Finding]:
    """Run every spec that supports ``language`` over ``text``; findings in match order."""
    findings: list[Finding] = []
    windows = digit_windows(text)
    lowered = text.lower()
    for spec in specs:
        if language not in spec.languages or (spec.digits and not windows):
            continue
        if spec.words and not any(word in lowered for word in spec.words):
            continue
        findings.extend(scan_spec(spec, text, windows))
    return findings


# --- structured identifiers -------------------------------------------------------------------

PHONE_CONTEXT = (
    "phone", "number", "line", "línea", "linea", "cel", "tlf", "lada", "tel", "mobile", "cell", "call", "fax", "contact", "whatsapp", "sms", "reach",
    "número", "numero", "móvil", "movil", "llam", "contacto", "fijo", "teléfono", "msisdn",
)  # fmt: skip
CARD_CONTEXT = (
    "card", "credit", "debit", "visa", "mastercard", "amex", "cc", "payment", "tarjeta",
    "crédito", "credito", "débito", "debito", "pago",
)  # fmt: skip
DOB_CONTEXT = (
    "born", "b0rn", "d0b", "birth", "dob", "d.o.b", "b-day", "bday", "naci", "nac.", "f. nac", "fnac",
    "cumpleaños", "fecha de nac", "edad", "date of b", "f.n.", "birthday", "nacimiento",
    "nacid", "nació", "nacio", "nací", "vino al mundo", "natalicio", "naixement", "b. ", "aged", "age:", "age/", "y/o",
    "years old", "de edad",
)  # fmt: skip
SSN_CONTEXT = ("ssn", "social security", "social sec", "seguridad social", "ss#", "ss #")

_PHONE_RE = re.compile(
    r"(?<![\w+@/.-])"
    r"((?:(?:\+|00)\d{1,3}[ .-]?|\(\+?\d{1,3}\)[ .-]?|1[ .-])?(?:\(\d{1,4}\)[ .-]?)?"
    r"(?:\d{2,4}|(?<=[ .-])\d)(?:[ .-]?\d{2,5}){1,4}"
    r"(?:[ ]?(?:x|ext\.?|extension)[ ]?\d{1,6})?)"
    r"(?![\w@/-]|[.:]\d)",
    re.IGNORECASE,
)
_IPV4_SHAPE = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


_CASE_NUMBER_GROUP = re.compile(
    r"^(?:19[5-9]\d|20[0-4]\d)[-/.]|[-/.](?:19[5-9]\d|20[0-4]\d)$|(?:^|[-/. ])000"
)


def _phone_accept(value: str) -> int:
    """Phone-shaped values, except case and invoice numbers: a year as the first or last group
    ("2024-5518-07", "44871-2024") or a zero-padded group ("0003-00012876")."""
    if _IPV4_SHAPE.fullmatch(value) or not v.phone_digits_plausible(value):
        return 0
    if not value.startswith(("+", "(")) and _CASE_NUMBER_GROUP.search(value):
        return 0
    return len(value)


def _phone_score(value: str) -> float:
    """Formatted numbers (``+``, parentheses, grouped) score high; bare digit runs low."""
    if value.startswith(("+", "(")) or re.match(r"00\d", value):
        return 0.75
    groups = re.split(r"[ .()-]+", re.split(r"(?i)\s*(?:x|ext)", value)[0].strip("()"))
    if len(groups) >= 3 or (len(groups) == 2 and len(groups[0]) >= 3):
        return 0.7
    digits = v.digits_only(value)
    if len(digits) in (9, 10) or (len(digits) == 11 and digits.startswith("0")):
        return 0.5  # a national number, or one with its trunk prefix (080..., 07...)
    return 0.4


def _iban_accept(value: str) -> int:
    """Accept the leading part of ``value`` whose compact form has the country's IBAN length."""
    expected = v.IBAN_LENGTHS.get(value[:2].upper())
    if expected is None:
        return 0
    seen = 0
    for index, char in enumerate(value):
        if char.isalnum():
            seen += 1
            if seen == expected:
                return index + 1 if v.iban_valid(value[: index + 1]) else 0
    return 0


def _email_score(value: str) -> float:
    domain = value.rsplit("@", 1)[-1]
    return 1.0 if v.email_domain_valid(domain.lower()) else 0.6


def _ssn_score(value: str) -> float:
    """Separated and valid: 0.6; separated but outside SSA ranges (ITIN/test data): 0.5; bare: 0.3."""
    if not re.fullmatch(r"\d{3}([- ])\d{2}\1\d{4}", value):
        return 0.3
    return 0.6 if v.us_ssn_valid(value) else 0.5


def _ssn_accept(value: str) -> int:
    """Separated 3-2-4 numbers always (not one repeated digit); bare 9 digits only when valid."""
    digits = v.digits_only(value)
    if len(set(digits)) == 1:
        return 0
    separated = not value.isdigit()
    return len(value) if separated or v.us_ssn_valid(value) else 0


def _obfuscated_email_ok(value: str) -> bool:
    """``ana [at] gmail [dot] com``: an obfuscation word or a bracketed "at" must be there, and
    the last part must be a domain suffix ("ana at home dot" is prose)."""
    if not re.search(r"(?i)[\[({<](?:at|arroba)[\])}>]|\b(?:dot|punto)\b", value):
        return False
    tail = re.split(r"(?i)\W+", value.strip())[-1].lower()
    return v.email_domain_valid(f"x.{tail}") and "@" not in value


def _ipv4_ok(value: str) -> bool:
    address = value.split("/")[0]
    return v.ipv4_valid(address) and address not in ("0.0.0.0", "127.0.0.1")  # noqa: S104


def _ipv6_ok(value: str) -> bool:
    address = value.split("/")[0].split("%")[0]
    return v.ipv6_valid(address) and address not in ("::", "::1")


_MAESTRO_12 = re.compile(r"(?=50|5[6-8]|6\d|0604)\d{12}")


def _card_accept(value: str) -> int:
    """Luhn-valid 13-19 digits; 12 digits only with a Maestro prefix."""
    digits = v.digits_only(value)
    if len(digits) == 12:
        return (
            len(value)
            if _MAESTRO_12.fullmatch(digits) and v.luhn_valid(digits, min_length=12)
            else 0
        )
    return len(value) if v.luhn_valid(digits) else 0


def _not_recent(value: str) -> int:
    """A date of 2024 or later is a recent event, not someone's birth (labels still say so)."""
    return 0 if re.search(r"(?<!\d)20(?:2[4-9]|[3-9]\d)(?!\d)", value) else len(value)


def structured_specs() -> list[PatternSpec]:
    """Specs for emails, phones, cards, IBANs, IPs, SSN, NIF/NIE, dates of birth, URL credentials."""
    return [
        PatternSpec(
            "email",
            EMAIL_ADDRESS,
            re.compile(
                r"(?<![\w.%+-])([\w.%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
                r"[A-Za-z]{2,24})(?![\w-])"
            ),
            1.0,
            group=1,
            rescore=_email_score,
            anchor="@",
        ),
        PatternSpec(
            "upi_id",
            IBAN_CODE,
            re.compile(
                r"(?i)(?<![\w.@-])([\w.-]{2,64}@(?:ok(?:sbi|axis|icici|hdfcbank)|ybl|ibl|axl|apl|"
                r"paytm|upi|sbi|icici|hdfcbank|axisbank|kotak|barodampay|yesbank|freecharge|"
                r"jupiteraxis|waicici|timecosmos|naviaxis))(?![\w.-])"
            ),
            0.85,
            group=1,
            anchor="@",
        ),
        PatternSpec(
            "email_obfuscated",
            EMAIL_ADDRESS,
            re.compile(
                r"(?i)(?<![\w.])([\w.%+-]{1,64}[ \t]*(?:\[at\]|\(at\)|\{at\}|<at>|[ \t]at[ \t]|"
                r"\[arroba\]|\(arroba\)|[ \t]arroba[ \t])[ \t]*[\w-]{1,63}(?:[ \t]*(?:\[dot\]|"
                r"\(dot\)|\{dot\}|[ \t]dot[ \t]|\[punto\]|\(punto\)|[ \t]punto[ \t]|\.)[ \t]*"
                r"[\w-]{1,63}){1,4})"
            ),
            0.85,
            group=1,
            accept=whole(_obfuscated_email_ok),
            needle=("at", "AT", "arroba"),
        ),
        PatternSpec(
            "phone",
            PHONE_NUMBER,
            _PHONE_RE,
            0.7,
            group=1,
            accept=_phone_accept,
            rescore=_phone_score,
            context=PHONE_CONTEXT,
            context_score=0.8,
            digits=True,
        ),
        PatternSpec(
            "credit_card",
            CREDIT_CARD,
            re.compile(r"(?<![\w-])(\d(?:[ -]?\d){11,18})(?![\w-])"),
            0.9,
            group=1,
            accept=_card_accept,
            rescore=lambda value: 0.9 if len(v.digits_only(value)) > 12 else 0.6,
            context=CARD_CONTEXT,
            digits=True,
        ),
        PatternSpec(
            "iban",
            IBAN_CODE,
            re.compile(r"(?i)(?<![\w-])([a-z]{2}\d{2}(?:[ -]?[a-z0-9]){10,32})"),
            0.95,
            group=1,
            accept=_iban_accept,
            digits=True,
        ),
        PatternSpec(
            "ipv4",
            IP_ADDRESS,
            re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2}(?!\d))?)(?![\w]|\.\d)"),
            0.8,
            group=1,
            accept=whole(_ipv4_ok),
            needle=".",
            digits=True,
        ),
        PatternSpec(
            "ipv6",
            IP_ADDRESS,
            re.compile(
                r"(?i)(?<![\w:])((?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?:%\w+)?(?:/\d{1,3}(?!\d))?)"
                r"(?![\w:])"
            ),
            0.8,
            group=1,
            accept=whole(_ipv6_ok),
            needle=":",
        ),
        PatternSpec(
            "us_ssn",
            US_SSN,
            re.compile(r"(?<![\w-])(\d{3}([- ]?)\d{2}\2\d{4})(?![\w-])"),
            0.6,
            group=1,
            accept=_ssn_accept,
            rescore=_ssn_score,
            context=SSN_CONTEXT,
            context_score=0.85,
            digits=True,
        ),
        PatternSpec(
            "es_nif",
            ES_NIF,
            re.compile(r"(?i)(?<![\w-])((?:\d{8}|\d{1,2}\.\d{3}\.\d{3})[ -]?[a-z])(?![\w-])"),
            0.9,
            group=1,
            accept=whole(v.es_nif_valid),
            digits=True,
        ),
        PatternSpec(
            "es_nie",
            ES_NIE,
            re.compile(r"(?i)(?<![\w-])([xyz][ -]?\d{7}[ -]?[a-z])(?![\w-])"),
            0.9,
            group=1,
            accept=whole(v.es_nie_valid),
            digits=True,
        ),
        PatternSpec(
            "date_of_birth",
            DATE_OF_BIRTH,
            DATE,
            0.85,
            accept=_not_recent,
            group=1,
            context=DOB_CONTEXT,
            context_score=0.85,
            requires_context=True,
            window=40,
            digits=False,  # years in words ("mil novecientos cincuenta y ocho") have no digit
        ),
        PatternSpec(
            "born_on",
            DATE_OF_BIRTH,
            BORN_DATE,
            0.85,
            group=1,
            words=("born", "b.", "naci", "nací", "dob", "d.o.b"),
        ),
        PatternSpec(
            "url_credentials",
            URL_CREDENTIALS,
            re.compile(
                r"(?i)\b[a-z][a-z0-9+.-]{1,15}://([^\s:/?#@\"'<>]{1,128}:[^\s/@\"'<>]{1,128})@"
                r"[\w.-]+"
            ),
            0.95,
            group=1,
            needle="://",
        ),
    ]


def default_pattern_specs() -> list[PatternSpec]:
    """All built-in regex specs: structured ids, secrets, street addresses."""
    from datasets_app.pipeline.pii_addresses import address_specs
    from datasets_app.pipeline.pii_national_ids import national_id_specs
    from datasets_app.pipeline.pii_secrets import secret_specs

    return [*structured_specs(), *national_id_specs(), *secret_specs(), *address_specs()]
