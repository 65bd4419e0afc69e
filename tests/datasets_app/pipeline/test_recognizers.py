"""Regex recognizers: one true positive and one near-miss negative each (no spaCy needed)."""

import socket

import pytest

from datasets_app.pipeline import pii_validators as v
from datasets_app.pipeline.pii_keep import drop_hard_negatives
from datasets_app.pipeline.pii_offline import configure_offline_tldextract
from datasets_app.pipeline.recognizers import default_pattern_specs, scan_patterns

SPECS = default_pattern_specs()


def found(text, language="en", min_score=0.5):
    """(entity_type, value, recognizer) of every finding at or above ``min_score``."""
    return {
        (f.entity_type, text[f.start : f.end], f.recognizer)
        for f in scan_patterns(SPECS, text, language)
        if f.score >= min_score
    }


def values(text, entity_type, language="en"):
    return {value for kind, value, _ in found(text, language) if kind == entity_type}


# --- validators -------------------------------------------------------------------------------


def test_luhn_accepts_valid_card_and_rejects_one_digit_off():
    assert v.luhn_valid("4111 1111 1111 1111")
    assert not v.luhn_valid("4111 1111 1111 1112")


def test_iban_checksum_is_enforced():
    assert v.iban_valid("ES91 2100 0418 4502 0005 1332")
    assert not v.iban_valid("ES91 2100 0418 4502 0005 1333")
    assert not v.iban_valid("ES91 2100 0418 4502 0005")  # wrong length


def test_spanish_nif_and_nie_control_letters():
    assert v.es_nif_valid("12345678Z") and not v.es_nif_valid("12345678A")
    assert v.es_nie_valid("X1234567L") and not v.es_nie_valid("X1234567A")


def test_ssn_rules_reject_impossible_areas():
    assert v.us_ssn_valid("123-45-6788")
    assert not v.us_ssn_valid("666-45-6789")
    assert not v.us_ssn_valid("123-00-6789")


# --- structured identifiers -------------------------------------------------------------------


def test_email_is_found_and_a_bare_at_sign_is_not():
    assert values("Write to ana.gil+ops@example.co.uk today.", "EMAIL_ADDRESS") == {
        "ana.gil+ops@example.co.uk"
    }
    assert values("ping @channel about user@ not-an-email", "EMAIL_ADDRESS") == set()


@pytest.mark.parametrize(
    ("text", "language", "phone"),
    [
        ("Call me at (415) 555-0132 tomorrow", "en", "(415) 555-0132"),
        ("Call +1-623-928-6012x9040 now", "en", "+1-623-928-6012x9040"),
        ("phone 1-527-426-0326", "en", "1-527-426-0326"),
        ("Mi móvil es +34 612 345 678.", "es", "+34 612 345 678"),
        ("Llámame al 612345678", "es", "612345678"),
        ("tel (+34) 670698129", "es", "(+34) 670698129"),
        ("fijo 91 123 45 67", "es", "91 123 45 67"),
    ],
)
def test_phone_formats_in_english_and_spanish(text, language, phone):
    assert phone in values(text, "PHONE_NUMBER", language)


def test_dates_ip_addresses_and_short_numbers_are_not_phones():
    text = "On 2024-01-15 10:23:45 host 192.168.10.12 returned 12345 rows"
    assert values(text, "PHONE_NUMBER") == set()


def test_card_needs_a_valid_luhn_checksum():
    assert values("card 4111 1111 1111 1111 ok", "CREDIT_CARD") == {"4111 1111 1111 1111"}
    assert values("card 4111 1111 1111 1112 ok", "CREDIT_CARD") == set()


def test_twelve_digit_maestro_is_accepted_only_with_its_prefix():
    assert values("maestro 630402298917", "CREDIT_CARD") == {"630402298917"}
    assert values("order 130402298912", "CREDIT_CARD") == set()


def test_iban_with_spaces_is_found_and_a_bad_checksum_is_not():
    assert values("IBAN ES91 2100 0418 4502 0005 1332 gracias", "IBAN_CODE", "es") == {
        "ES91 2100 0418 4502 0005 1332"
    }
    assert values("IBAN ES91 2100 0418 4502 0005 1333", "IBAN_CODE", "es") == set()


def test_ipv4_ipv6_and_cidr_are_found_but_invalid_octets_and_times_are_not():
    text = "from 10.1.2.3 and fe80::1ff:fe23:4567:890a net 10.0.0.0/8"
    assert values(text, "IP_ADDRESS") == {"10.1.2.3", "fe80::1ff:fe23:4567:890a", "10.0.0.0/8"}
    assert values("bad 999.1.1.1 at 10:23:45", "IP_ADDRESS") == set()


def test_ssn_with_dashes_is_found_and_a_repeated_digit_run_is_not():
    assert values("SSN 731-84-3460", "US_SSN") == {"731-84-3460"}
    assert values("ref 111-11-1111", "US_SSN") == set()


def test_bare_nine_digits_are_an_ssn_only_with_context():
    assert values("social security number 731843460", "US_SSN") == {"731843460"}
    assert values("order 731843460 shipped", "US_SSN") == set()


def test_spanish_nif_and_nie_are_found_only_with_valid_letters():
    text = "DNI 12345678Z, NIE X1234567L; falsos 12345678A y X1234567A"
    assert values(text, "ES_NIF", "es") == {"12345678Z"}
    assert values(text, "ES_NIE", "es") == {"X1234567L"}


def test_date_of_birth_needs_a_birth_context():
    assert values("DOB: 03/14/1985", "DATE_OF_BIRTH") == {"03/14/1985"}
    assert values("Fecha de nacimiento: 14 de marzo de 1985", "DATE_OF_BIRTH", "es") == {
        "14 de marzo de 1985"
    }
    assert values("The meeting is on 03/14/2025.", "DATE_OF_BIRTH") == set()


def test_url_credentials_cover_user_and_password_only():
    text = "url=postgres://admin:s3cr#t@db.internal:5432/app"
    assert values(text, "URL_CREDENTIALS") == {"admin:s3cr#t"}
    assert values("see https://example.com/a:b/c", "URL_CREDENTIALS") == set()


# --- secrets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "secret"),
    [
        ("key AKIAIOSFODNN7EXAMPLE set", "aws_access_key", "AKIAIOSFODNN7EXAMPLE"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws_secret_key",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        ("token ghp_" + "a1B2" * 9, "github_token", "ghp_" + "a1B2" * 9),
        (
            "pat github_pat_11ABCDEFG0123456789_abcdefghij",
            "github_token",
            "github_pat_11ABCDEFG0123456789_abcdefghij",
        ),
        ("glpat-abcdefghij0123456789 used", "gitlab_token", "glpat-abcdefghij0123456789"),
        ("SLACK=xoxb-1234567890-abcdefghijkl", "slack_token", "xoxb-1234567890-abcdefghijkl"),
        ("db password=hunter2! retry", "password_assignment", "hunter2!"),
        ('{"api_key": "k3y with spaces&more"}', "password_assignment", "k3y with spaces&more"),
        (
            "Authorization: Bearer abcdefghijklmnop0123456789",
            "bearer_token",
            "abcdefghijklmnop0123456789",
        ),
    ],
)
def test_secret_kinds_are_named_by_the_recognizer(text, kind, secret):
    assert ("SECRET", secret, kind) in found(text)


def test_jwt_and_pem_private_key_are_found_whole():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlF"
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----"
    assert ("SECRET", jwt, "jwt") in found(f"token={jwt}")
    assert ("SECRET", pem, "private_key") in found(f"key:\n{pem}\nend")


def test_near_miss_secrets_are_not_flagged():
    text = "AKIA123 ghp_short glpat-x password: null token expired passwd=${DB_PASS}"
    assert values(text, "SECRET") == set()


# --- addresses --------------------------------------------------------------------------------


def test_english_street_address_with_unit_and_city_line():
    text = "Ship to 09906 Pierce Harbors Apt. 040\nNorth Carolton, ID 53970 please"
    assert values(text, "ADDRESS") == {"09906 Pierce Harbors Apt. 040\nNorth Carolton, ID 53970"}


@pytest.mark.parametrize(
    "address",
    [
        "Calle Mayor 5, 3ºB\n28013 Madrid",
        "C/ Alcalá 12, 28014 Madrid",
        "Avda. de la Constitución 3",
    ],
)
def test_spanish_street_addresses(address):
    assert address in values(f"Vivo en {address}. Gracias", "ADDRESS", "es")


def test_numbers_before_ordinary_words_are_not_addresses():
    assert values("I have 3 apples and 12 Green cards", "ADDRESS") == set()


def test_city_after_lives_in_is_a_location():
    assert values("She lives in Port Jessicaberg now.", "LOCATION") == {"Port Jessicaberg"}
    assert values("Vive en Santa Cruz de Tenerife.", "LOCATION", "es") == {"Santa Cruz de Tenerife"}


# --- offline ----------------------------------------------------------------------------------


def test_tldextract_never_touches_the_network(monkeypatch):
    import tldextract
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    def refuse(*_args, **_kwargs):
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    configure_offline_tldextract()
    v.email_domain_valid.cache_clear()
    assert v.email_domain_valid("example.co.uk")
    assert not v.email_domain_valid("db.internal")
    assert tldextract.extract("mail.example.com").suffix == "com"
    results = EmailRecognizer().analyze("write to ana@example.org", ["EMAIL_ADDRESS"])
    assert [r.entity_type for r in results] == ["EMAIL_ADDRESS"]


def test_forty_character_aws_secret_needs_aws_context():
    key = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY12"
    assert values(f"aws key AKIAIOSFODNN7EXAMPLE secret {key}", "SECRET") >= {key}
    assert "aws_secret_key" not in {r for _, _, r in found(f"checksum {key} verified")}
    text = f"checksum {key} verified"  # a random-looking token after "checksum" is a digest
    assert drop_hard_negatives(text, scan_patterns(SPECS, text, "en")) == []


def test_password_in_parentheses_after_the_keyword():
    assert values("he shared the database password (_7mn3&Vt)+) in chat", "SECRET") == {
        "_7mn3&Vt)+"
    }
    assert values("reset your password (see the wiki) today", "SECRET") == set()


def test_street_address_followed_by_a_city_name():
    text = "my new address is 7 Ocean Drive, Port Jessicaberg. Text me"
    assert values(text, "ADDRESS") == {"7 Ocean Drive, Port Jessicaberg"}
