"""Value types shared by the PII detector, its recognizers and the redactor.

Kept in a leaf module so that ``recognizers`` and ``pii`` can both import
``Finding`` without a circular import; ``pii`` re-exports it as the public name.
"""

from __future__ import annotations

from dataclasses import dataclass

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "es")

# Canonical entity names (Presidio's where Presidio has one).
PERSON = "PERSON"
EMAIL_ADDRESS = "EMAIL_ADDRESS"
PHONE_NUMBER = "PHONE_NUMBER"
CREDIT_CARD = "CREDIT_CARD"
IBAN_CODE = "IBAN_CODE"
IP_ADDRESS = "IP_ADDRESS"
US_SSN = "US_SSN"
ES_NIF = "ES_NIF"
ES_NIE = "ES_NIE"
LOCATION = "LOCATION"
ADDRESS = "ADDRESS"
DATE_OF_BIRTH = "DATE_OF_BIRTH"
URL_CREDENTIALS = "URL_CREDENTIALS"
SECRET = "SECRET"  # noqa: S105  (an entity name, not a password)
CUSTOM = "CUSTOM"
# Any other government identifier of a person (CURP, RUT, CUIT, NHS number, PAN, passport...);
# the finding's ``recognizer`` names the kind (``mx_curp``, ``cl_rut``...).
NATIONAL_ID = "NATIONAL_ID"
# Medical record numbers, health-insurance member/affiliate numbers, patient ids.
MEDICAL_ID = "MEDICAL_ID"

# Every type the detector can report, with what it covers: the review filters, the redaction
# operators (``operators_by_type``) and the documentation read this one table.
ENTITY_TYPES: dict[str, str] = {
    PERSON: "a person's name or any part of it",
    EMAIL_ADDRESS: "an e-mail address",
    PHONE_NUMBER: "a phone number",
    CREDIT_CARD: "a payment card number (Luhn-valid)",
    IBAN_CODE: "an IBAN or another bank account key (CBU, CLABE)",
    IP_ADDRESS: "an IPv4 or IPv6 address",
    US_SSN: "a US social security number",
    ES_NIF: "a Spanish DNI/NIF",
    ES_NIE: "a Spanish foreigner number (NIE)",
    NATIONAL_ID: "another government identifier of a person (CURP, RFC, RUT, CUIT, NHS, PAN...)",
    MEDICAL_ID: "a medical record, patient or health-insurance member number",
    LOCATION: "a city or place tied to a person",
    ADDRESS: "a postal address",
    DATE_OF_BIRTH: "a date of birth",
    URL_CREDENTIALS: "the user:password part of a URL",
    SECRET: "a password, API key, token or private key",
    CUSTOM: "a term from the deny list",
}
# Types that identify a person through a government or health-system number.
IDENTIFIER_TYPES = frozenset({US_SSN, ES_NIF, ES_NIE, NATIONAL_ID, MEDICAL_ID})


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected sensitive span: ``text[start:end]`` is the value.

    ``recognizer`` names what found it; for ``SECRET`` it names the kind of
    secret (``aws_access_key``, ``github_token``, ``jwt``...).
    """

    start: int
    end: int
    entity_type: str
    score: float
    recognizer: str

    @property
    def length(self) -> int:
        """Number of characters the finding covers."""
        return self.end - self.start


def normalize_language(language: str | None) -> str:
    """Map a language tag to a supported one: ``es``/``es-ES``/``ES`` -> ``es``, others -> ``en``."""
    code = (language or "en").strip().lower().replace("_", "-").split("-")[0]
    return code if code in SUPPORTED_LANGUAGES else "en"
