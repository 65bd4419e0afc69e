"""One-time codes, recovery codes and passwords given as an answer, where no ``key: value``
label sits next to them.

* A code word qualified as a credential ("recovery code", "access code", "share code", "código
  de verificación", "the gate code is") followed, within a few words or on the next line, by
  one or more groups of letters and digits: ``QX7M-2HPV-94KT``, ``W7K 4RP 2QX``, ``#4084``,
  backup codes in a list (``4817 2260, 9035 1174``).
* A code or password mentioned in prose on the same line as a lone number a few words later
  ("they just sent me a code, is it from you? 717606", "me llegó un código, 889127").
* An answer: a chat line or transcript turn that holds only a number or a password-like token
  ("Mami: 583019", "la misma del banco, rosedal1952") right under a line that asks for or
  announces a code, PIN or password.

Postal, zip, area, country, error, status, promo, discount, booking and product codes are not
credentials and never start a match.
"""

from __future__ import annotations

import re

from datasets_app.pipeline.pii_types import SECRET
from datasets_app.pipeline.recognizers import PatternSpec

# Codes that are not credentials: "zip code 33161", "error code 0x80", "código postal 28001".
_NOT_BEFORE = (
    "postal", "zip", "area", "country", "error", "status", "exit", "promo", "discount", "coupon",
    "voucher", "booking", "order", "invoice", "ticket", "product", "tracking", "source", "qr",
    "bar", "dial", "sort", "swift", "tax", "airport", "course", "class", "reference", "ref",
)  # fmt: skip
_NOT_AFTER = (
    r"[ \t]+(?:postal|de[ \t]+(?:error|barras|reserva|descuento|promoci[oó]n|producto|"
    r"seguimiento|[aá]rea|pa[ií]s|estado|salida|curso|pedido|orden|env[ií]o|cliente))"
)
_NOT_CREDENTIAL_BEFORE = "".join(rf"(?<!{word} )" for word in _NOT_BEFORE)
_QUALIFIED_CODE = (
    r"(?:recovery|backup|access|share|verification|verify|security|one[- ]time|confirmation|"
    r"authentication|auth|login|sign[- ]in|2fa|mfa|sms|gate|door|alarm|entry|key[ ]?safe|"
    r"lockbox|lock ?box|garage|safe|unlock|activation|otp|pin)[ \t]+codes?|"
    r"c[oó]digos?[ \t]+(?:de[ \t]+)?(?:verificaci[oó]n|seguridad|acceso|confirmaci[oó]n|"
    r"activaci[oó]n|respaldo|recuperaci[oó]n|la puerta|del portal|del port[oó]n|de la alarma|"
    r"sms|otp|desbloqueo|ingreso)|passcodes?|otp|one[- ]time password"
)
_GROUP = r"[A-Z0-9]{2,6}"
_CODE_VALUE = rf"#?(?=[A-Z]*\d){_GROUP}(?:[- ](?=[A-Z]*\d){_GROUP}){{0,3}}#?"
_QUALIFIED_RE = re.compile(
    rf"(?i:{_QUALIFIED_CODE})(?:[ \t]+(?:is|was|are|were|es|era|son|:|number|n[uú]mero))?"
    rf"[ \t:,(-]*\n?[ \t]*((?-i:{_CODE_VALUE})(?:(?:,[ \t]*|[ \t]+(?:and|y)[ \t]+)"
    rf"(?-i:{_CODE_VALUE}))*)(?![\w-])"
)
_CREDENTIAL_WORD = (
    rf"\b(?:{_NOT_CREDENTIAL_BEFORE}codes?|c[oó]digos?(?!{_NOT_AFTER})|otp|pin|passcode|"
    r"password|contraseña|clave|token)\b"
)
# A bare "code" counts in prose only after a word saying it was sent or received.
_DELIVERED_CODE = (
    r"\b(?:sent|send|got|get|received|texted|text|sms|message|mensaje|whatsapp|lleg[oóa]\w*|"
    r"envi[oóa]\w*|mand[oóa]\w*|recib\w*)\b[^\n]{0,40}?\b(?:codes?|c[oó]digos?)\b"
)
_STRONG_WORD = r"\b(?:otp|pin|passcode|password|contraseña|clave|token)\b"
_LONE_NUMBER_RE = re.compile(
    rf"(?i)(?:{_DELIVERED_CODE}|{_STRONG_WORD})[^\n\d]{{0,48}}?(?<![\w#/.-])"
    r"(\d{3}[ ]\d{3}|\d{4,8})(?![\w/-]|[.,]\d)"
)
# A password-like token (letters and digits, no blanks) given after a colon or "is"/"es"
# within a line of a password word: "me pidió la clave de la app y\nse la di: Teo28junio".
_CREDENTIAL_NOUNS = r"\b(?:password|passcode|contraseña|contrasena|clave|pwd)\b"
_GIVEN_PASSWORD_RE = re.compile(
    rf"(?i){_CREDENTIAL_NOUNS}[^\n]{{0,60}}?(?:\n[^\n]{{0,30}}?)?(?::|\b(?:is|was|es|era|fue)\b)"
    r"[ \t]*[\"'“]?((?=[^\s]*\d)(?=[^\s]*[^\W\d_])[^\s,;\"'”]{6,40})"
)
_ID_OR_DATE = re.compile(r"[A-Z0-9/.-]+|\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")


def _accept_password(value: str) -> int:
    """The token without the sentence's closing punctuation; refused when it is an upper-case
    reference ("INC0012345") or a date rather than a password."""
    kept = value.rstrip(".,;:?)")
    if len(kept) < 6 or _ID_OR_DATE.fullmatch(kept):
        return 0
    return len(kept)


# The answer's line may start with a chat timestamp and a speaker, never with a field label
# ("Código modular: 1547281" under "Código de actividad: ...").
_SPEAKER = (
    r"(?:\[[^\]\n]{1,30}\][ \t]*)?"
    r"(?:(?![^\n:]*(?:c[oó]dig|code|clave|pin\b|password))[^\W\d][^\n:]{0,38}:[ \t]+)?"
)
# The line above asks for the code or says it has just arrived.
_ASKED = (
    r"(?:\?|\b(?:pas[aá]\w*|dame|d[ií]\w*me|give|tell|send|share|read|what|which|cu[aá]l|"
    r"pide|asks?|asked|llega|lleg[oó]|sent|came|expires?|vence)\b)"
)
_ANSWER_RE = re.compile(
    rf"(?im){_CREDENTIAL_WORD}[^\n]{{0,80}}?{_ASKED}[^\n]{{0,60}}\n{_SPEAKER}"
    r"(?:[^\W\d][^\n,\d]{0,30},[ \t]*)?"
    r"(\d{3}[ ]\d{3}|\d{4,8}|(?=[^\s]*\d)(?=[^\s]*[^\W\d_])[^\s,;]{6,40}?)[ \t.!]*$"
)


def _accept_code(value: str) -> int:
    return len(value) if any(ch.isdigit() for ch in value) else 0


def code_specs() -> list[PatternSpec]:
    """Specs for credential codes and answered secrets (see the module docstring)."""
    words = ("code", "código", "codigo", "otp", "pin", "passcode", "password", "contraseña")
    return [
        PatternSpec(
            "credential_code", SECRET, _QUALIFIED_RE, 0.85, group=1, accept=_accept_code,
            words=("code", "código", "codigo", "otp", "passcode", "password"),
        ),
        PatternSpec(
            "code_in_prose", SECRET, _LONE_NUMBER_RE, 0.75, group=1, digits=True,
            accept=_accept_code, words=(*words, "clave", "token"),
        ),
        PatternSpec(
            "password_given", SECRET, _GIVEN_PASSWORD_RE, 0.8, group=1, accept=_accept_password,
            words=("password", "passcode", "contrase", "clave", "pwd"),
        ),
        PatternSpec(
            "answered_secret", SECRET, _ANSWER_RE, 0.75, group=1, accept=_accept_code,
            words=(*words, "clave", "token"),
        ),
    ]  # fmt: skip
