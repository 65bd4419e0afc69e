"""Realistic, consistent fake values for the ``surrogate`` redaction operator.

``surrogate_for(finding, value, digest, language)`` seeds a locale Faker
(``es_ES`` for Spanish records, ``en_US`` otherwise) from the value's HMAC
digest, so one value always maps to the same fake (given the same secret and
Faker version) and the fake keeps the type and rough shape of the original:
names stay names with the same number of words and the same casing, card
numbers pass Luhn and keep their grouping, IBANs are checksum-valid, dates keep
their format, secrets keep their prefix, length and character classes.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache

from faker import Faker

from datasets_app.pipeline.pii_types import Finding

LOCALES = {"es": "es_ES", "en": "en_US"}
# National identifiers are always faked in their own country's format.
_TYPE_LANGUAGE = {"US_SSN": "en", "ES_NIF": "es", "ES_NIE": "es"}
_DATE_FORMATS = (
    "%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d-%m-%Y", "%m-%d-%Y", "%d.%m.%Y", "%Y/%m/%d",
    "%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y",
)  # fmt: skip


@lru_cache(maxsize=4)
def _faker(locale: str) -> Faker:
    return Faker(locale)


def _seeded(language: str, digest: bytes) -> Faker:
    fake = _faker(LOCALES.get(language, "en_US"))
    fake.seed_instance(int.from_bytes(digest[:8], "big"))
    return fake


def _match_case(original: str, fake: str) -> str:
    if original.isupper():
        return fake.upper()
    if original.islower():
        return fake.lower()
    return fake


def _regroup(original: str, fake_digits: str) -> str:
    """Lay ``fake_digits`` out with the original's separators (spaces, dashes)."""
    out, digits = [], iter(fake_digits)
    for char in original:
        out.append(next(digits, "0") if char.isalnum() else char)
    return "".join(out) + "".join(digits)


def _person(fake: Faker, value: str) -> str:
    words = len(value.split())
    if words <= 1:
        fake_name = fake.first_name()
    else:
        parts = [fake.first_name()] + [fake.last_name() for _ in range(min(words, 4) - 1)]
        fake_name = " ".join(parts)
    return _match_case(value, fake_name)


def _date(fake: Faker, value: str) -> str:
    born = fake.date_of_birth(minimum_age=18, maximum_age=90)
    for fmt in _DATE_FORMATS:
        try:
            datetime.strptime(value.strip(), fmt)
        except ValueError:
            continue
        return born.strftime(fmt)
    return born.isoformat()


def _shape_random(value: str, digest: bytes, keep_prefix: int = 0) -> str:
    """Same length and character classes; letters/digits replaced at random (seeded)."""
    rng = random.Random(digest)
    out = list(value[:keep_prefix])
    for char in value[keep_prefix:]:
        if char.isdigit():
            out.append(rng.choice("0123456789"))
        elif char.isupper():
            out.append(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        elif char.islower():
            out.append(rng.choice("abcdefghijklmnopqrstuvwxyz"))
        else:
            out.append(char)
    return "".join(out)


def _secret(value: str, digest: bytes) -> str:
    if "-----BEGIN" in value:
        lines = value.splitlines(keepends=True)
        return "".join(
            line if "-----" in line else _shape_random(line, digest + bytes([i % 256]))
            for i, line in enumerate(lines)
        )
    prefix = re.match(r"^(?:[A-Za-z]{2,6}[_-]|AKIA|ASIA|eyJ|xox[a-z]-)", value)
    return _shape_random(value, digest, keep_prefix=len(prefix.group()) if prefix else 0)


def _luhn_check_digit(body: str) -> str:
    total = 0
    for index, char in enumerate(reversed(body)):
        value = int(char)
        if index % 2 == 0:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return str((10 - total % 10) % 10)


def _card(fake: Faker, value: str) -> str:
    """A Luhn-valid number with as many digits as the original, in the original's grouping."""
    length = sum(ch.isdigit() for ch in value)
    body = "".join(ch for ch in fake.credit_card_number() if ch.isdigit())[: length - 1]
    body = body.ljust(length - 1, "7")
    return _regroup(value, body + _luhn_check_digit(body))


def _url_credentials(fake: Faker, value: str) -> str:
    return f"{fake.user_name()}:{fake.password(length=12, special_chars=False)}"


def _address(fake: Faker, value: str) -> str:
    lines = value.count("\n") + 1
    return fake.street_address() if lines == 1 else fake.address()


def _ip(fake: Faker, value: str) -> str:
    return fake.ipv6() if ":" in value else fake.ipv4_private()


def _generators() -> dict[str, Callable[[Faker, str], str]]:
    return {
        "PERSON": _person,
        "EMAIL_ADDRESS": lambda f, v: f.email(),
        "PHONE_NUMBER": lambda f, v: f.phone_number(),
        "CREDIT_CARD": _card,
        "IBAN_CODE": lambda f, v: _regroup(v, f.iban()),
        "IP_ADDRESS": _ip,
        "US_SSN": lambda f, v: _regroup(v, f.ssn().replace("-", "")),
        "ES_NIF": lambda f, v: f.nif(),
        "ES_NIE": lambda f, v: f.nie(),
        "LOCATION": lambda f, v: _match_case(v, f.city()),
        "ADDRESS": _address,
        "DATE_OF_BIRTH": _date,
        "URL_CREDENTIALS": _url_credentials,
    }


_GENERATORS = _generators()


def surrogate_for(finding: Finding, value: str, digest: bytes, language: str) -> str:
    """A fake replacement for ``value`` (see module doc); unknown types keep shape only."""
    if finding.entity_type == "SECRET":
        return _secret(value, digest)
    generator = _GENERATORS.get(finding.entity_type)
    if generator is None:
        return _shape_random(value, digest)
    return generator(_seeded(_TYPE_LANGUAGE.get(finding.entity_type, language), digest), value)
