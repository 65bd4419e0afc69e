"""National identifiers, labels and hard negatives: a true positive, a near miss and a span
that does not fit, for each validator and recognizer (no spaCy model needed)."""

import pytest

from datasets_app.pipeline import pii_validators as v
from datasets_app.pipeline.pii_context import context_findings, labelled_fields, table_fields
from datasets_app.pipeline.pii_dates import DATE
from datasets_app.pipeline.pii_keep import drop_hard_negatives, keep_spans
from datasets_app.pipeline.pii_labels import KEEP, label_type, normalize_label
from datasets_app.pipeline.pii_lexicon import NameLexicon
from datasets_app.pipeline.pii_spoken import spoken_number_findings
from datasets_app.pipeline.pii_types import Finding
from datasets_app.pipeline.recognizers import default_pattern_specs, scan_patterns

SPECS = default_pattern_specs()
LEXICON = NameLexicon.load()


def found(text, entity_type, language="es", min_score=0.5):
    return {
        text[f.start : f.end]
        for f in scan_patterns(SPECS, text, language)
        if f.entity_type == entity_type and f.score >= min_score
    }


def labelled(text, entity_type=None):
    findings, _ = context_findings(text, LEXICON)
    return {
        text[f.start : f.end]
        for f in findings
        if entity_type is None or f.entity_type == entity_type
    }


# --- checksums -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("validator", "valid", "invalid"),
    [
        (v.cl_rut_valid, "12.345.678-5", "12.345.678-4"),
        (v.ar_cuit_valid, "20-12345678-6", "20-12345678-5"),
        (v.mx_curp_valid, "HEGG560427MVZRRL04", "HEGG560427MVZRRL05"),
        (v.mx_rfc_valid, "GODE561231GR8", "GODE561231GR9"),
        (v.uk_nhs_valid, "943 476 5919", "943 476 5918"),
        (v.uk_nino_valid, "AB 12 34 56 C", "BG 12 34 56 C"),
        (v.in_aadhaar_valid, "2341 2341 2346", "2341 2341 2345"),
        (v.in_pan_valid, "ABCPE1234F", "ABCXE1234F"),
        (v.br_cpf_valid, "529.982.247-25", "529.982.247-24"),
        (v.pe_ruc_valid, "20100070970", "20100070971"),
        (v.es_nss_valid, "281234567840", "281234567841"),
        (v.ar_cbu_valid, "2850590940090418135201", "2850590940090418135202"),
        (v.mx_clabe_valid, "002010077777777771", "002010077777777772"),
    ],
)
def test_checksum_validators_accept_valid_and_reject_one_digit_off(validator, valid, invalid):
    assert validator(valid)
    assert not validator(invalid)


def test_verhoeff_and_validators_never_raise_on_garbage():
    assert v.verhoeff_valid("2363")
    for validator in (v.cl_rut_valid, v.mx_curp_valid, v.mx_rfc_valid, v.in_aadhaar_valid):
        assert not validator("")
        assert not validator("---")


# --- identifier recognizers -------------------------------------------------------------------


def test_written_forms_are_found_alone_and_bare_digits_only_next_to_their_name():
    assert found("RUT 12.345.678-5", "NATIONAL_ID") == {"12.345.678-5"}
    assert found("su rut 123456785 por favor", "NATIONAL_ID") == {"123456785"}
    assert found("pedido 123456785 enviado", "NATIONAL_ID") == set()  # a bare 9-digit run


def test_curp_rfc_pan_and_aadhaar_with_their_checks():
    text = "CURP HEGG560427MVZRRL04, RFC GODE561231GR8, PAN ABCPE1234F, 2341 2341 2346"
    assert found(text, "NATIONAL_ID") == {
        "HEGG560427MVZRRL04",
        "GODE561231GR8",
        "ABCPE1234F",
        "2341 2341 2346",
    }
    assert found("CURP HEGG560427MVZRRL05", "NATIONAL_ID") == set()


def test_an_identifier_inside_a_longer_token_does_not_fit():
    assert found("ref X12.345.678-5Z", "NATIONAL_ID") == set()


def test_bank_keys_are_account_numbers():
    assert found("CBU 2850590940090418135201", "IBAN_CODE") == {"2850590940090418135201"}


# --- labels and headers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("fecha_nac", "DATE_OF_BIRTH"),
        ("DOB", "DATE_OF_BIRTH"),
        ("N.º de afiliado", "MEDICAL_ID"),
        ("Patient No.", "MEDICAL_ID"),
        ("Passport No.", "NATIONAL_ID"),
        ("cédula", "NATIONAL_ID"),
        ("contraseña", "SECRET"),
        ("csrfmiddlewaretoken", "SECRET"),
        ("apellido_paterno", "PERSON"),
        ("Order #", KEEP),
        ("versión", KEEP),
        ("Company name", None),
        ("Notes", None),
    ],
)
def test_labels_announce_the_type_of_their_value(label, kind):
    assert label_type(label) == kind


def test_label_normalisation_drops_accents_case_and_numbering():
    assert normalize_label("N.º de Afiliado") == "de afiliado"
    assert normalize_label("fechaNacimiento") == "fecha nacimiento"


def test_key_value_fields_json_keys_and_form_bodies():
    text = (
        "Nombre: juan pérez\nDNI: 30.123.456   Tel: +54 11 5555-1234\n"
        '{"dob": "1988-02-11", "password": "Tr0ub4dor&3"}\n'
        "user=maria.gonzalez&pwd=s3cr3t!x&order_id=88123\n"
    )
    assert labelled(text) >= {
        "juan pérez",
        "30.123.456",
        "+54 11 5555-1234",
        "1988-02-11",
        "Tr0ub4dor&3",
        "maria.gonzalez",
        "s3cr3t!x",
    }
    assert "88123" not in labelled(text)


def test_form_encoded_values_are_checked_decoded_and_redacted_whole():
    text = "a=1&nombre=Xo%C3%A1n&tlf=%2B34+698+41+27+06&email=xoan%40mundo-r.com"
    assert labelled(text) == {"Xo%C3%A1n", "%2B34+698+41+27+06", "xoan%40mundo-r.com"}


def test_a_label_never_turns_free_text_into_a_finding():
    text = "Contacto: llamar mañana\nDNI: pendiente\nfecha_nac: desconocida"
    assert labelled(text) == set()


def test_table_cells_take_their_column_header_type():
    text = "nombre,apellido,rut,fecha_nac,importe\nAna,Quispe Mamani,12.345.678-5,19/04/1951,450.00"
    cells = {text[f.value_start : f.value_end]: f.entity_type for f in table_fields(text)}
    assert cells["Quispe Mamani"] == "PERSON"
    assert cells["19/04/1951"] == "DATE_OF_BIRTH"
    assert cells["450.00"] == KEEP


def test_a_value_under_its_label_and_behind_dotted_leaders():
    assert labelled("Date of birth:\n19/04/1951\n") == {"19/04/1951"}
    assert labelled("NIN .................. 47120938615\n") == {"47120938615"}


def test_identifiers_named_in_prose_without_a_separator():
    text = "Paciente con MRN 00482113 y su cédula es 1.020.304.050; policy 2023 update"
    assert labelled(text) == {"00482113", "1.020.304.050"}


def test_fields_never_raise_on_odd_input():
    for text in ("", ":", "=", "a:\n", "Dirección:\n\n", "x" * 5000 + ":" + "\n" * 3):
        list(labelled_fields(text))
        context_findings(text, LEXICON)


# --- dates, spoken numbers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "date",
    [
        "19/04/1951",
        "the nineteenth of April 1951",
        "5 de mayo de 1979",
        "The nineteenth of April, nineteen fifty-one",
        "doce de marzo del cincuenta y ocho",
        "4TH DAY OF NOVEMBER 1983",
    ],
)
def test_dates_written_and_spelled_out(date):
    assert DATE.search(f"born {date}.").group(1) == date


def test_a_date_without_a_year_is_not_a_date():
    assert DATE.search("see you on 3 May at noon") is None


def test_dictated_digits_are_typed_by_the_words_before_them():
    text = "my pin is one nine eight two and my mobile, 0 7 8 4 6, 3 0 2, 9 1 5."
    kinds = {text[f.start : f.end]: f.entity_type for f in spoken_number_findings(text)}
    assert kinds == {"one nine eight two": "SECRET", "0 7 8 4 6, 3 0 2, 9 1 5": "PHONE_NUMBER"}
    assert list(spoken_number_findings("we shipped 2024 units in 3 boxes")) == []


# --- hard negatives ---------------------------------------------------------------------------


def test_order_numbers_versions_hashes_and_prices_are_hard_negatives():
    text = "Order #48213, v2.4.1, commit 9f3a2b1c, $1,299.00 and 1.234,56 €"
    spans = {text[s:e] for s, e in keep_spans(text)}
    assert {"48213", "v2.4.1", "9f3a2b1c", "$1,299.00", "1.234,56 €"} <= spans


def test_hard_negatives_drop_weak_findings_but_never_strong_ones():
    text = "Order 612345678 from ana@x.com"
    weak_phone = Finding(6, 15, "PHONE_NUMBER", 0.5, "phone")
    labelled_id = Finding(6, 15, "NATIONAL_ID", 0.85, "label")
    email = Finding(21, 30, "EMAIL_ADDRESS", 0.6, "email")
    assert drop_hard_negatives(text, [weak_phone, labelled_id, email]) == [labelled_id, email]


def test_an_ip_address_is_not_a_version():
    assert keep_spans("login from 207.45.211.190 failed") == []


# --- dates of birth by context ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("nacido el doce de marzo de mil novecientos cincuenta y ocho", "el doce de marzo de mil novecientos cincuenta y ocho"),
        ("Mr Okafor, 62 y/o, d.o.b. 11.09.1963", "11.09.1963"),
        ("DOB: Jan 3, '66", "Jan 3, '66"),
        ("b. 17 March 1981, Cork", "17 March 1981"),
        ("natalicio: 17 de marzo de 1981", "17 de marzo de 1981"),
        ("aged 44 (17-Mar-1981)", "17-Mar-1981"),
    ],
)  # fmt: skip
def test_birth_dates_next_to_their_cue_even_without_digits(text, date):
    assert date in found(text, "DATE_OF_BIRTH", "en")


def test_dates_without_a_birth_cue_or_recent_ones_are_not_births():
    assert found("The meeting moved to 12 March 1999 in Leeds.", "DATE_OF_BIRTH", "en") == set()
    assert found("born digital, archived on 17.03.2025", "DATE_OF_BIRTH", "en") == set()
    assert found("nacido para correr, sin fecha", "DATE_OF_BIRTH") == set()


def test_a_dotted_birth_date_is_not_a_version_but_versions_stay():
    text = "born 17.03.1986, runs build 10.0.19045 and lib 2.4.1"
    spans = {text[s:e] for s, e in keep_spans(text)}
    assert "17.03.1986" not in spans
    assert {"10.0.19045", "2.4.1"} <= spans


# --- identifiers and name columns by context ------------------------------------------------------


def test_short_name_headers_count_only_as_the_whole_label():
    assert [label_type(h) for h in ("first", "Last", "given", "fname", "Nom")] == ["PERSON"] * 5
    assert label_type("family size") is None
    assert label_type("first seen") != "PERSON"


def test_surnames_alone_in_a_table_under_a_short_header():
    assert labelled("surname,given,score\nIyer,Lakshmi,77\n", "PERSON") == {"Iyer", "Lakshmi"}


def test_a_cif_shaped_value_is_a_company_only_under_a_tax_label():
    assert labelled("Licencia de conducir: A12345678\n") == {"A12345678"}
    assert labelled("RFC emisor: FSA180912KT3\n", "NATIONAL_ID") == set()
    assert labelled("EMISOR_RFC=FSA180912KT3\n", "NATIONAL_ID") == set()


def test_colombian_cc_in_prose_but_not_inside_a_prefixed_case_number():
    assert labelled("CC 79845123 expedida en Bogotá") == {"79845123"}
    assert labelled("Complaint no.: IE-CC-24-0892943", "NATIONAL_ID") == set()


# --- secrets by shape -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("I reset it to Sunflower!Delta88 yesterday", "Sunflower!Delta88"),
        ("login with admin / Qx7#pL2m", "Qx7#pL2m"),
        ("jdoe,Summer2024!,admin", "Summer2024!"),
        ("contraseña temporal Hola.2025", "Hola.2025"),
        ("api key 3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c", "3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"),
    ],
)
def test_passwords_by_shape_and_hex_keys_after_their_word(text, secret):
    assert found(text, "SECRET", "en") == {secret}


@pytest.mark.parametrize(
    "text",
    [
        "write to Ana.Gil2@Example.com today",
        "commit 9f3a2b1c4d5e6f708192a3b4c5d6e7f8091a2b3c fixed the build",
        "checksum 3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c matches",
        "Order #A12-Bx9 costs $1,299.00; see $HOME_Dir2 and #Section4a",
        "Release v2.4.1-RC1 and Node18 on Ubuntu22.04",
    ],
)
def test_no_secret_in_emails_digests_orders_variables_or_versions(text):
    assert found(text, "SECRET", "en") == set()


def test_compiled_label_rules_agree_with_whole_word_phrase_matching():
    """The one-regex-per-rule classification finds exactly the phrases a word-by-word
    substring test finds (what it replaced), inside longer labels too."""
    from datasets_app.pipeline.pii_labels import _RULE_REGEXES, _RULES

    def contains(words, phrase):
        return f" {phrase} " in f" {words} "

    probes = set()
    for _, phrases in _RULES:
        for phrase in phrases:
            probes.update({phrase, f"x {phrase}", f"{phrase} y", f"a{phrase}", f"{phrase}s"})
    for words in probes:
        for (_, phrases), (_, regex) in zip(_RULES, _RULE_REGEXES, strict=True):
            assert bool(regex.search(words)) == any(contains(words, p) for p in phrases), words


def test_a_date_answering_a_birth_date_prompt_on_the_line_before():
    from datasets_app.pipeline.pii_dates import answered_birth_dates

    def answers(text):
        return [text[s:e] for s, e in answered_birth_dates(text)]

    assert answers("Tonye: abeg send your full date of birth\nEbiere: 17/03/1997 x") == [
        "17/03/1997"
    ]
    assert answers("AGENTE: ¿Su fecha de nacimiento?\nCLIENTE: el 4 de abril de 1980") == [
        "4 de abril de 1980"
    ]
    # Not the first thing on the next line, or after a blank gap, or no prompt: not an answer.
    assert answers("date of birth?\nWe met on 12 March 1975.") == []
    assert answers("date of birth?\n\n\n\nAppointment: 12 March 1975") == []
    assert answers("Your order?\n12 March 1975") == []
    assert answers("date of birth?\nAppointment: 12 March 1975") == []
    assert answers("DOB?\nOrder date: 12 March 1975") == []
    assert answers("fecha de nacimiento") == []


def test_catalan_birth_date_label():
    assert label_type("Data de naixement") == "DATE_OF_BIRTH"
