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
