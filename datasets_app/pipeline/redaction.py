"""Redaction of detected PII: placeholders, surrogates, masks, dropping records.

Operators (per entity type, or one for everything):

* ``placeholder`` -> ``<PERSON_12345>``: the number is the first 24 bits of
  HMAC-SHA256(secret, type + normalised value), so the same value gets the
  same placeholder in every record and every run with the same secret, and no
  plaintext mapping is ever stored. Two different values of one type share a
  number with probability ~n^2/2^25 (about 3% for 1,000 distinct values of a
  type): an accepted, documented risk; it only merges two pseudonyms.
* ``surrogate`` -> realistic fake value of the same type and shape, Faker
  ``es_ES`` for Spanish records and ``en_US`` otherwise, seeded from the HMAC
  of the value (consistent across records, see ``pii_surrogates``).
* ``mask`` -> ``*`` repeated to the value's length (line breaks kept);
  ``redacted`` -> the literal ``[REDACTED]``.
* ``drop`` -> the whole record is dropped (``redact_text`` returns None).
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence

from datasets_app.pipeline.pii_types import Finding, normalize_language

OPERATORS = frozenset({"placeholder", "surrogate", "mask", "redacted", "drop"})
DEFAULT_OPERATOR = "placeholder"
DEFAULT_KEY = "DEFAULT"
PLACEHOLDER_BITS = 24
PRIORITY_TYPES = frozenset({"SECRET", "URL_CREDENTIALS", "CUSTOM"})
_STRUCTURED = frozenset(
    {"PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "ES_NIF", "ES_NIE", "IP_ADDRESS"}
)


class RedactionError(ValueError):
    """Invalid redaction request (unknown operator, empty secret, bad span)."""


def normalize_value(entity_type: str, value: str) -> str:
    """Canonical form used for pseudonyms: case-folded, whitespace collapsed;
    separators removed for structured identifiers ("612 34 56 78" == "612345678")."""
    if entity_type in _STRUCTURED:
        return re.sub(r"[^0-9a-z:.]", "", value.casefold())
    return " ".join(value.casefold().split())


def value_digest(secret: bytes, entity_type: str, value: str) -> bytes:
    """HMAC-SHA256(secret, type NUL normalised value)."""
    message = f"{entity_type}\x00{normalize_value(entity_type, value)}".encode()
    return hmac.new(secret, message, hashlib.sha256).digest()


def placeholder_for(secret: bytes, entity_type: str, value: str) -> str:
    """``<TYPE_N>`` with N the first 24 bits of the value's HMAC, in decimal."""
    number = int.from_bytes(value_digest(secret, entity_type, value)[:3], "big")
    return f"<{entity_type}_{number}>"


def mask_for(value: str) -> str:
    """Same-length mask; line breaks survive so line structure is kept."""
    return "".join(ch if ch in "\r\n" else "*" for ch in value)


def resolve_overlaps(findings: Sequence[Finding]) -> list[Finding]:
    """Non-overlapping subset, sorted by start: longer spans win, then higher scores.

    Credentials (``SECRET``, ``URL_CREDENTIALS``, deny-list ``CUSTOM``) win
    over any other type they overlap, so ``user:pass@host`` is never reduced
    to an e-mail look-alike. Identical spans keep the highest-scoring finding;
    zero-length findings are dropped.
    """
    ranked = sorted(
        (f for f in findings if f.end > f.start),
        key=lambda f: (f.entity_type not in PRIORITY_TYPES, -(f.end - f.start), -f.score, f.start),
    )
    starts: list[int] = []
    kept: list[Finding] = []
    for finding in ranked:
        index = bisect.bisect_left(starts, finding.start)
        before_ok = index == 0 or kept[index - 1].end <= finding.start
        after_ok = index == len(kept) or kept[index].start >= finding.end
        if before_ok and after_ok:
            starts.insert(index, finding.start)
            kept.insert(index, finding)
    return kept


def operator_for(operators: Mapping[str, str] | str, entity_type: str) -> str:
    """The operator configured for ``entity_type`` (``DEFAULT`` key, then placeholder)."""
    if isinstance(operators, str):
        operator = operators
    else:
        operator = operators.get(entity_type, operators.get(DEFAULT_KEY, DEFAULT_OPERATOR))
    if operator not in OPERATORS:
        raise RedactionError(f"unknown redaction operator {operator!r}")
    return operator


def _replacement(operator: str, finding: Finding, value: str, secret: bytes, language: str) -> str:
    if operator == "placeholder":
        return placeholder_for(secret, finding.entity_type, value)
    if operator == "mask":
        return mask_for(value)
    if operator == "redacted":
        return "[REDACTED]"
    from datasets_app.pipeline.pii_surrogates import surrogate_for

    digest = value_digest(secret, finding.entity_type, value)
    return surrogate_for(finding, value, digest, language)


def replacement_for(
    operator: str, finding: Finding, value: str, *, secret: bytes, language: str
) -> str:
    """The text ``operator`` puts in place of ``value`` (what ``redact_text`` would write)."""
    return _replacement(operator, finding, value, secret, normalize_language(language))


def redact_text(
    text: str,
    findings: Sequence[Finding],
    *,
    operators: Mapping[str, str] | str,
    secret: bytes,
    language: str,
) -> str | None:
    """Apply the operators to ``findings`` in ``text``.

    Returns the redacted text, or None when any finding's operator is ``drop``.
    Overlapping findings are resolved first (``resolve_overlaps``). Raises
    ``RedactionError`` for an unknown operator, an empty secret, or a finding
    outside ``text``.
    """
    if not secret:
        raise RedactionError("a non-empty secret is required")
    resolved = resolve_overlaps(findings)
    if any(f.start < 0 or f.end > len(text) for f in resolved):
        raise RedactionError("finding span outside the text")
    chosen = [(f, operator_for(operators, f.entity_type)) for f in resolved]
    if any(op == "drop" for _, op in chosen):
        return None
    lang = normalize_language(language)
    pieces, cursor = [], 0
    for finding, operator in chosen:
        value = text[finding.start : finding.end]
        pieces.append(text[cursor : finding.start])
        pieces.append(_replacement(operator, finding, value, secret, lang))
        cursor = finding.end
    pieces.append(text[cursor:])
    return "".join(pieces)
