"""Checksum and shape validators used to confirm regex candidates.

Every function takes the matched text (separators allowed) and returns a bool;
none of them raises on malformed input, they just answer ``False``.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")
_NIF_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"

# ISO 13616 IBAN lengths per country (SWIFT registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def digits_only(text: str) -> str:
    """Return the decimal digits of ``text`` in order."""
    return "".join(ch for ch in text if ch.isdigit())


def luhn_valid(text: str, *, min_length: int = 13) -> bool:
    """True when the digits of ``text`` (``min_length``-19 of them) pass the Luhn checksum."""
    digits = digits_only(text)
    if not min_length <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """True when ``text`` (spaces/dashes allowed) is an IBAN of the right length with mod-97 == 1."""
    compact = _NON_ALNUM.sub("", text).upper()
    expected = IBAN_LENGTHS.get(compact[:2])
    if expected is None or len(compact) != expected or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(numeric) % 97 == 1


def es_nif_valid(text: str) -> bool:
    """True for a Spanish DNI/NIF: 8 digits + the mod-23 control letter."""
    compact = _NON_ALNUM.sub("", text).upper()
    if len(compact) != 9 or not compact[:8].isdigit():
        return False
    return _NIF_LETTERS[int(compact[:8]) % 23] == compact[8]


def es_nie_valid(text: str) -> bool:
    """True for a Spanish NIE: X/Y/Z + 7 digits + the mod-23 control letter."""
    compact = _NON_ALNUM.sub("", text).upper()
    if len(compact) != 9 or compact[0] not in "XYZ" or not compact[1:8].isdigit():
        return False
    number = int(str("XYZ".index(compact[0])) + compact[1:8])
    return _NIF_LETTERS[number % 23] == compact[8]


def us_ssn_valid(text: str) -> bool:
    """True for a plausible US SSN: area not 000/666/9xx, group not 00, serial not 0000."""
    digits = digits_only(text)
    if len(digits) != 9 or len(set(digits)) == 1:
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9":
        return False
    return group != "00" and serial != "0000" and digits != "123456789"


def ipv4_valid(text: str) -> bool:
    """True for a dotted-quad IPv4 address (no leading-zero octets)."""
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def ipv6_valid(text: str) -> bool:
    """True for an IPv6 address with at least two colons and a hex group of letters or digits."""
    if text.count(":") < 2:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=4096)
def email_domain_valid(domain: str) -> bool:
    """True when the domain ends in a public suffix (offline tldextract snapshot)."""
    from datasets_app.pipeline.pii_offline import offline_tld_extractor

    parts = offline_tld_extractor()(domain)
    return bool(parts.suffix) and bool(parts.domain)


def phone_digits_plausible(text: str) -> bool:
    """True when ``text`` looks like a phone number rather than a date, an id or an amount.

    Accepts 9-15 digits (an optional ``x123``/``ext. 123`` extension excluded);
    rejects the SSN shape 3-2-4 and runs of one repeated digit.
    """
    main = re.split(r"(?i)\s*(?:x|ext\.?|extension)\s*\d", text, maxsplit=1)[0]
    digits = digits_only(main)
    if not 9 <= len(digits) <= 15 or len(set(digits)) == 1:
        return False
    if re.fullmatch(r"\d{3}-\d{2}-\d{4}", main.strip()):
        return False
    return not re.search(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}", main)
