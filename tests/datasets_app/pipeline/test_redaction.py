"""Redaction operators: placeholders, surrogates, masks, drop, overlap resolution."""

import re

import pytest

from datasets_app.pipeline.pii_types import Finding
from datasets_app.pipeline.pii_validators import iban_valid, luhn_valid
from datasets_app.pipeline.redaction import (
    RedactionError,
    placeholder_for,
    redact_text,
    resolve_overlaps,
)

SECRET = b"test-secret-key"


def span(text, value, entity_type, score=0.9, recognizer="test", occurrence=0):
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(value, start + 1)
    return Finding(start, start + len(value), entity_type, score, recognizer)


def redact(text, findings, operators="placeholder", secret=SECRET, language="en"):
    return redact_text(text, findings, operators=operators, secret=secret, language=language)


# --- placeholder ------------------------------------------------------------------------------


def test_placeholder_is_typed_and_short():
    text = "Call Ana Gil now"
    out = redact(text, [span(text, "Ana Gil", "PERSON")])
    number = int(re.fullmatch(r"Call <PERSON_(\d+)> now", out).group(1))
    assert 0 <= number < 2**24


def test_same_value_gets_same_placeholder_across_records_and_case():
    first = redact("Hi Ana Gil", [span("Hi Ana Gil", "Ana Gil", "PERSON")])
    second = redact("ANA GIL called", [span("ANA GIL called", "ANA GIL", "PERSON")])
    assert first.split()[-1] == second.split()[0]


def test_phone_formatting_does_not_change_the_pseudonym():
    assert placeholder_for(SECRET, "PHONE_NUMBER", "612 345 678") == placeholder_for(
        SECRET, "PHONE_NUMBER", "612345678"
    )


def test_different_secret_gives_a_different_pseudonym():
    assert placeholder_for(SECRET, "PERSON", "Ana Gil") != placeholder_for(
        b"other", "PERSON", "Ana Gil"
    )


def test_different_values_get_different_pseudonyms():
    assert placeholder_for(SECRET, "PERSON", "Ana Gil") != placeholder_for(
        SECRET, "PERSON", "Eva Gil"
    )


# --- surrogate --------------------------------------------------------------------------------


def test_surrogate_is_consistent_per_value_and_differs_from_original():
    text = "Ana Gil wrote to Ana Gil"
    findings = [span(text, "Ana Gil", "PERSON"), span(text, "Ana Gil", "PERSON", occurrence=1)]
    out = redact(text, findings, operators="surrogate", language="es")
    fake_first, fake_second = out.split(" wrote to ")
    assert fake_first == fake_second != "Ana Gil"
    assert len(fake_first.split()) == 2


def test_surrogate_names_follow_the_record_language():
    from faker.providers.person.en_US import Provider as English
    from faker.providers.person.es_ES import Provider as Spanish

    spanish = {n.lower() for n in Spanish.first_names}
    english = {n.lower() for n in English.first_names}
    for value in ("Ana", "Luis", "Marta", "Pedro"):
        es_name = redact(
            value, [Finding(0, len(value), "PERSON", 0.9, "t")], "surrogate", language="es"
        )
        en_name = redact(
            value, [Finding(0, len(value), "PERSON", 0.9, "t")], "surrogate", language="en"
        )
        assert es_name.lower() in spanish
        assert en_name.lower() in english


def test_surrogate_keeps_type_and_shape_of_structured_values():
    text = "mail ana@example.com card 4111-1111-1111-1111 iban ES91 2100 0418 4502 0005 1332 dob 1985-03-14"
    findings = [
        span(text, "ana@example.com", "EMAIL_ADDRESS"),
        span(text, "4111-1111-1111-1111", "CREDIT_CARD"),
        span(text, "ES91 2100 0418 4502 0005 1332", "IBAN_CODE"),
        span(text, "1985-03-14", "DATE_OF_BIRTH"),
    ]
    out = redact(text, findings, operators="surrogate", language="es")
    match = re.fullmatch(
        r"mail (\S+@\S+\.\w+) card (\d{4}-\d{4}-\d{4}-\d{4}) iban (ES\d\d(?: \w{4}){5}) dob (\d{4}-\d\d-\d\d)",
        out,
    )
    assert match, out
    assert match.group(1) != "ana@example.com"
    assert luhn_valid(match.group(2)) and match.group(2) != "4111-1111-1111-1111"
    assert iban_valid(match.group(3))


def test_secret_surrogate_keeps_prefix_length_and_character_classes():
    token = "ghp_" + "a1B2" * 9
    out = redact(token, [Finding(0, len(token), "SECRET", 0.95, "github_token")], "surrogate")
    assert out.startswith("ghp_") and len(out) == len(token) and out != token
    assert re.fullmatch(r"ghp_(?:[a-z]\d[A-Z]\d){9}", out)


def test_surrogate_national_ids_use_their_own_country_format():
    text = "NIF 12345678Z"
    out = redact(text, [span(text, "12345678Z", "ES_NIF")], "surrogate", language="en")
    from datasets_app.pipeline.pii_validators import es_nif_valid

    assert es_nif_valid(out.split()[1])


# --- mask, redacted, drop ---------------------------------------------------------------------


def test_mask_keeps_length_and_line_breaks():
    text = "addr 1 Main St\nSpringfield, IL 62701 end"
    value = "1 Main St\nSpringfield, IL 62701"
    out = redact(text, [span(text, value, "ADDRESS")], operators="mask")
    assert out == "addr " + "*" * 9 + "\n" + "*" * 21 + " end"


def test_redacted_operator_writes_a_fixed_marker():
    text = "pw hunter2"
    assert redact(text, [span(text, "hunter2", "SECRET")], operators="redacted") == "pw [REDACTED]"


def test_drop_operator_drops_the_whole_record():
    text = "key AKIAIOSFODNN7EXAMPLE and Ana"
    findings = [span(text, "AKIAIOSFODNN7EXAMPLE", "SECRET"), span(text, "Ana", "PERSON")]
    assert redact(text, findings, operators={"SECRET": "drop", "DEFAULT": "placeholder"}) is None


def test_operator_mapping_falls_back_to_default_then_placeholder():
    text = "Ana 10.0.0.1"
    findings = [span(text, "Ana", "PERSON"), span(text, "10.0.0.1", "IP_ADDRESS")]
    out = redact(text, findings, operators={"IP_ADDRESS": "mask"})
    assert re.fullmatch(r"<PERSON_\d+> \*{8}", out)


# --- overlaps and errors ----------------------------------------------------------------------


def test_overlapping_findings_keep_the_longest_then_highest_score():
    short_high = Finding(0, 7, "PERSON", 0.99, "a")
    long_low = Finding(0, 13, "PERSON", 0.6, "b")
    inner = Finding(4, 7, "LOCATION", 0.9, "c")
    assert resolve_overlaps([short_high, inner, long_low]) == [long_low]
    same_span = [Finding(0, 3, "PERSON", 0.6, "x"), Finding(0, 3, "LOCATION", 0.8, "y")]
    assert resolve_overlaps(same_span)[0].entity_type == "LOCATION"


def test_credentials_win_over_a_longer_overlapping_email_lookalike():
    text = "postgres://admin:s3cret@db.internal/app"
    creds = span(text, "admin:s3cret", "URL_CREDENTIALS")
    email = span(text, "s3cret@db.internal", "EMAIL_ADDRESS")
    assert resolve_overlaps([email, creds]) == [creds]


def test_non_overlapping_findings_are_all_kept_in_order():
    findings = [
        Finding(4, 5, "X", 0.5, "t"),
        Finding(0, 1, "X", 0.5, "t"),
        Finding(2, 3, "X", 0.5, "t"),
    ]
    assert [f.start for f in resolve_overlaps(findings)] == [0, 2, 4]


def test_unknown_operator_is_refused():
    with pytest.raises(RedactionError):
        redact("Ana", [Finding(0, 3, "PERSON", 0.9, "t")], operators="shred")


def test_empty_secret_is_refused():
    with pytest.raises(RedactionError):
        redact("Ana", [Finding(0, 3, "PERSON", 0.9, "t")], secret=b"")


def test_finding_outside_the_text_is_refused():
    with pytest.raises(RedactionError):
        redact("Ana", [Finding(0, 10, "PERSON", 0.9, "t")])


def test_no_findings_returns_text_unchanged():
    assert redact("nothing here", []) == "nothing here"
