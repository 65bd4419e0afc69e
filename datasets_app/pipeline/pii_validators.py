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

    Accepts 9-15 digits (8 when written in three groups or more; an optional
    ``x123``/``ext. 123`` extension excluded);
    rejects the SSN shape 3-2-4 and runs of one repeated digit.
    """
    main = re.split(r"(?i)\s*(?:x|ext\.?|extension)\s*\d", text, maxsplit=1)[0]
    digits = digits_only(main)
    grouped = len(re.findall(r"\d+", main)) >= 3  # "36 84 21 09": a local number
    if not (9 if not grouped else 8) <= len(digits) <= 15 or len(set(digits)) == 1:
        return False
    if re.fullmatch(r"\d{3}-\d{2}-\d{4}", main.strip()):
        return False
    return not re.search(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}", main)


# --- national identifiers (checksums from the issuing authorities' published algorithms) --------


def _compact(text: str) -> str:
    return _NON_ALNUM.sub("", text).upper()


def cl_rut_valid(text: str) -> bool:
    """Chilean RUT/RUN: 7-8 digits + mod-11 check character (0-9 or K), e.g. ``12.345.678-5``."""
    compact = _compact(text)
    body, check = compact[:-1], compact[-1:]
    if not 7 <= len(body) <= 8 or not body.isdigit() or check not in "0123456789K":
        return False
    total = sum(int(d) * (2 + i % 6) for i, d in enumerate(reversed(body)))
    expected = 11 - total % 11
    return {11: "0", 10: "K"}.get(expected, str(expected)) == check


def ar_cuit_valid(text: str) -> bool:
    """Argentine CUIT/CUIL: 11 digits (type 20/23/24/27/30/33/34), mod-11 check digit."""
    digits = digits_only(text)
    if len(digits) != 11 or digits[:2] not in (
        "20",
        "23",
        "24",
        "25",
        "26",
        "27",
        "30",
        "33",
        "34",
    ):
        return False
    total = sum(int(d) * w for d, w in zip(digits, (5, 4, 3, 2, 7, 6, 5, 4, 3, 2), strict=False))
    expected = (11 - total % 11) % 11
    return expected != 10 and expected == int(digits[10])


_CURP_ALPHABET = "0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ"
_CURP_SHAPE = re.compile(r"[A-Z][AEIOUX][A-Z]{2}\d{6}[HMX][A-Z]{2}[B-DF-HJ-NP-TV-Z]{3}[0-9A-Z]\d")


def mx_curp_valid(text: str) -> bool:
    """Mexican CURP: 18 characters (name letters, birth date, sex, state, consonants) whose last
    digit is the RENAPO check digit."""
    compact = text.strip().upper()
    if not _CURP_SHAPE.fullmatch(compact) or not _date_digits_ok(compact[4:10]):
        return False
    total = sum(_CURP_ALPHABET.index(c) * (18 - i) for i, c in enumerate(compact[:17]))
    return (10 - total % 10) % 10 == int(compact[17])


_RFC_ALPHABET = "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ Ñ"
_RFC_SHAPE = re.compile(r"[A-ZÑ&]{3,4}\d{6}[A-Z0-9]{2}[0-9A]")


def mx_rfc_valid(text: str) -> bool:
    """Mexican RFC (SAT): 13 characters for a person (12 for a company) with a valid date and
    the mod-11 check character."""
    compact = re.sub(r"[\s-]", "", text.strip().upper())
    if not _RFC_SHAPE.fullmatch(compact) or not _date_digits_ok(compact[-9:-3]):
        return False
    padded = compact.rjust(13)
    total = sum(_RFC_ALPHABET.index(c) * (13 - i) for i, c in enumerate(padded[:12]))
    remainder = total % 11
    expected = "0" if remainder == 0 else ("A" if 11 - remainder == 10 else str(11 - remainder))
    return expected == compact[-1]


def _date_digits_ok(yymmdd: str) -> bool:
    month, day = int(yymmdd[2:4]), int(yymmdd[4:6])
    return 1 <= month <= 12 and 1 <= day <= 31


def uk_nhs_valid(text: str) -> bool:
    """NHS number: 10 digits, weights 10..2, mod-11 check digit (10 is never issued)."""
    digits = digits_only(text)
    if len(digits) != 10 or len(set(digits)) == 1:
        return False
    total = sum(int(d) * (10 - i) for i, d in enumerate(digits[:9]))
    expected = (11 - total % 11) % 11
    return expected != 10 and expected == int(digits[9])


_NINO_SHAPE = re.compile(r"(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]?")


def uk_nino_valid(text: str) -> bool:
    """UK National Insurance number: HMRC prefix rules, 6 digits, suffix A-D (may be omitted)."""
    return bool(_NINO_SHAPE.fullmatch(_compact(text)))


_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5), (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7), (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3), (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)  # fmt: skip
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4), (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7), (9, 4, 5, 3, 1, 2, 6, 8, 7, 0), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)  # fmt: skip


def verhoeff_valid(digits: str) -> bool:
    """Verhoeff checksum over a string of digits (the last one is the check digit)."""
    check = 0
    for index, char in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[index % 8][int(char)]]
    return check == 0


def in_aadhaar_valid(text: str) -> bool:
    """Indian Aadhaar: 12 digits, first not 0 or 1, Verhoeff check digit."""
    digits = digits_only(text)
    return len(digits) == 12 and digits[0] not in "01" and verhoeff_valid(digits)


def in_pan_valid(text: str) -> bool:
    """Indian PAN: AAAAA9999A with a holder-type fourth letter (P for a person)."""
    return bool(re.fullmatch(r"[A-Z]{3}[ABCFGHJLPT][A-Z]\d{4}[A-Z]", _compact(text)))


_UK_LICENCE = re.compile(r"[A-Z9]{5}\d{6}[A-Z9]{2}\d[A-Z]{2}")


def uk_driving_licence_valid(text: str) -> bool:
    """GB driving licence number (DVLA): five letters of the surname padded with 9s, the birth
    decade, month (plus 5 for women), day and year digit, two initials padded with 9, a digit
    and two check letters. The month and day must be a real month and day."""
    value = _compact(text)
    if not _UK_LICENCE.fullmatch(value) or value[0] == "9":
        return False
    month, day = int(value[6:8]) % 50, int(value[8:10])
    return 1 <= month <= 12 and 1 <= day <= 31 and int(value[6:8]) in range(1, 63)


def mx_elector_key_valid(text: str) -> bool:
    """Mexican voter key (clave de elector, INE): six consonant-and-vowel letters of the
    names, the birth date as YYMMDD, the state number 01-32, H or M, three digits."""
    value = _compact(text)
    if not re.fullmatch(r"[A-Z]{6}\d{8}[HM]\d{3}", value):
        return False
    return _date_digits_ok(value[6:12]) and 1 <= int(value[12:14]) <= 32


def br_cpf_valid(text: str) -> bool:
    """Brazilian CPF: 11 digits with two mod-11 check digits."""
    digits = [int(d) for d in digits_only(text)]
    if len(digits) != 11 or len(set(digits)) == 1:
        return False
    for size in (9, 10):
        total = sum(d * (size + 1 - i) for i, d in enumerate(digits[:size]))
        if (total * 10) % 11 % 10 != digits[size]:
            return False
    return True


def es_nss_valid(text: str) -> bool:
    """Spanish social-security affiliation number: 12 digits, the last two = first ten mod 97."""
    digits = digits_only(text)
    if len(digits) != 12:
        return False
    province, number = int(digits[:2]), int(digits[2:10])
    body = province * 10**7 + number if number < 10**7 else province * 10**8 + number
    return 1 <= province <= 53 and body % 97 == int(digits[10:])


def ar_cbu_valid(text: str) -> bool:
    """Argentine CBU (bank account key): 22 digits in two blocks, each with its check digit."""
    digits = [int(d) for d in digits_only(text)]
    if len(digits) != 22:
        return False
    first = sum(d * w for d, w in zip(digits[:7], (7, 1, 3, 9, 7, 1, 3), strict=True))
    second_weights = (3, 9, 7, 1, 3, 9, 7, 1, 3, 9, 7, 1, 3)
    second = sum(d * w for d, w in zip(digits[8:21], second_weights, strict=True))
    return (10 - first % 10) % 10 == digits[7] and (10 - second % 10) % 10 == digits[21]


def mx_clabe_valid(text: str) -> bool:
    """Mexican CLABE (bank account key): 18 digits, weights 3-7-1, mod-10 check digit."""
    digits = [int(d) for d in digits_only(text)]
    if len(digits) != 18 or len(set(digits)) == 1:
        return False
    total = sum(d * (3, 7, 1)[i % 3] % 10 for i, d in enumerate(digits[:17]))
    return (10 - total % 10) % 10 == digits[17]


def co_nit_valid(text: str) -> bool:
    """Colombian NIT with its DIAN check digit (``900.123.456-7``); the last digit checks."""
    digits = digits_only(text)
    if not 8 <= len(digits) <= 16:
        return False
    weights = (3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71)
    total = sum(int(d) * w for d, w in zip(reversed(digits[:-1]), weights, strict=False))
    remainder = total % 11
    return (remainder if remainder < 2 else 11 - remainder) == int(digits[-1])


def pe_ruc_valid(text: str) -> bool:
    """Peruvian RUC: 11 digits (10/15/17 for people, 20 for companies), mod-11 check digit."""
    digits = digits_only(text)
    if len(digits) != 11 or digits[:2] not in ("10", "15", "16", "17", "20"):
        return False
    total = sum(int(d) * w for d, w in zip(digits, (5, 4, 3, 2, 7, 6, 5, 4, 3, 2), strict=False))
    return (11 - total % 11) % 10 == int(digits[10])


def company_identifier(text: str) -> bool:
    """True for a tax number of a company rather than a person: a Mexican RFC of 12 characters
    (3 letters), an Argentine CUIT starting 30/33/34 (20 is a man's CUIT and also a Peruvian
    company's RUC: no telling them apart), a Colombian NIT of 9 digits starting 8 or 9 with
    its check digit, a Spanish CIF (a letter, 7 digits, a control character), a US employer
    identification number written as the IRS does (``36-4471920``; a person's is an SSN)."""
    compact = _compact(text)
    digits = digits_only(text)
    if re.fullmatch(r"[A-ZÑ&]{3}\d{6}[A-Z0-9]{3}", compact):
        return True
    if len(digits) == 11 and compact.isdigit() and digits[:2] in ("30", "33", "34"):
        return True
    if re.fullmatch(r"[89]\d{2}\.?\d{3}\.?\d{3}-\d", text.strip()):
        return True
    if re.fullmatch(r"\d{2}-\d{7}", text.strip()):
        return True
    return bool(re.fullmatch(r"[ABCDEFGHJNPQRSUVW]\d{7}[0-9A-J]", compact))
