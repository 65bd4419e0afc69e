"""The labelled PII documents (bench/pii_docs): every split parses, every checksummed identifier
holds, and the loader refuses malformed markup instead of producing shifted offsets."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

LOAD_PY = Path(__file__).resolve().parents[2] / "bench" / "pii_docs" / "load.py"


def _import_loader():
    spec = importlib.util.spec_from_file_location("pii_docs_load", LOAD_PY)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module through sys.modules
    spec.loader.exec_module(module)
    return module


load = _import_loader()
HEADER = "# genre: chat\n# locale: es-AR\n# language: es\n\n"


@pytest.mark.parametrize("split", load.SPLITS)
def test_every_document_of_the_split_parses_and_its_identifiers_hold(split):
    docs = load.load_split(split)
    for doc in docs:
        assert doc.text and "[[" not in doc.text and "]]" not in doc.text, doc.id
        for span in doc.spans:
            assert 0 <= span.start < span.end <= len(doc.text), doc.id
    bad = load.identifier_problems(docs)
    assert not bad, [(check.doc_id, check.kind) for check in bad]


def test_development_split_is_large_varied_and_has_hard_negatives():
    docs = load.load_split("dev")
    assert len(docs) >= 200
    assert {doc.language for doc in docs} == {"en", "es"}
    assert len({doc.genre for doc in docs}) >= 12
    assert len({doc.locale for doc in docs}) >= 10
    assert len({doc.text for doc in docs}) == len(docs)
    for doc in docs:
        assert 300 <= len(doc.text) <= 2500, (doc.id, len(doc.text))
        assert sum(span.type == "KEEP" for span in doc.spans) >= 2, doc.id
        assert any(span.type != "KEEP" for span in doc.spans), doc.id


def test_offsets_point_into_the_stripped_text():
    raw = (
        HEADER
        + "Soy [[PERSON|Wayra Quispe]], DNI [[NATIONAL_ID|30.456.789]]; pedido [[KEEP|#A-20931]].\n"
    )
    doc = load.parse_document("chat-es-AR-001", raw)
    assert doc.text == "Soy Wayra Quispe, DNI 30.456.789; pedido #A-20931.\n"
    assert [(doc.value(s), s.type) for s in doc.spans] == [
        ("Wayra Quispe", "PERSON"),
        ("30.456.789", "NATIONAL_ID"),
        ("#A-20931", "KEEP"),
    ]


def test_a_bracket_before_a_marker_is_text_as_the_format_regex_reads_it():
    doc = load.parse_document("chat-es-AR-001", HEADER + 'tags: [[[KEEP|v2.1]], "x"]\n')
    assert doc.text == 'tags: [v2.1, "x"]\n'
    assert doc.value(doc.spans[0]) == "v2.1"


def test_a_value_may_span_lines():
    raw = HEADER + "Dirección:\n[[ADDRESS|Av. Corrientes 1234, piso 5\nC1043AAZ CABA]]\nfin\n"
    doc = load.parse_document("chat-es-AR-001", raw)
    assert doc.value(doc.spans[0]) == "Av. Corrientes 1234, piso 5\nC1043AAZ CABA"


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ("Hola [[PERSON|Ana López.\n", "never closed"),
        ("Hola Ana]] López.\n", "without a matching"),
        ("Hola [[person|Ana]].\n", "unknown type"),
        ("Hola [[NAME|Ana]].\n", "unknown type"),
        ("Hola [[PERSON Ana]].\n", "has no '|'"),
        ("Vive en [[ADDRESS|Calle [[PERSON|Ana]] 3]].\n", "nested"),
        ("Hola [[PERSON| Ana]].\n", "surrounding blanks"),
        ("Hola [[PERSON|]].\n", "empty"),
    ],
)
def test_malformed_markup_is_refused_with_its_line(body, complaint):
    with pytest.raises(load.MarkupError, match=complaint) as caught:
        load.parse_document("chat-es-AR-001", HEADER + "primera línea\n" + body)
    assert "chat-es-AR-001:6" in str(caught.value)


@pytest.mark.parametrize(
    ("doc_id", "raw", "complaint"),
    [
        ("chat-es-AR-001", "# genre: chat\n# locale: es-AR\n\ntexto\n", "lacks language"),
        ("chat-es-AR-001", "# genre: chat\n# locale: es-AR\n# language: es\ntexto\n", "not '# key"),
        ("chat-es-AR-001", HEADER.replace("# language", "# lang"), "unknown header key"),
        ("chat-es-AR-001", HEADER.replace("language: es", "language: pt"), "not one of"),
        ("chat-es-MX-001", HEADER + "texto\n", "file name says locale"),
        ("chat-AR-1", HEADER + "texto\n", "file name is not"),
    ],
)
def test_malformed_header_is_refused(doc_id, raw, complaint):
    with pytest.raises(load.MarkupError, match=complaint):
        load.parse_document(doc_id, raw)


@pytest.mark.parametrize(
    ("check", "valid", "invalid"),
    [
        (load.es_dni_ok, "12345678Z", "12345678A"),
        (load.es_nie_ok, "X-1234567-L", "X-1234567-M"),
        (load.ar_cuit_ok, "20-05536168-2", "20-05536168-3"),
        (load.cl_rut_ok, "76.086.428-5", "76.086.428-K"),
        (load.mx_curp_ok, "BOXW310820HNERXN09", "BOXW310820HNERXN08"),
        (load.mx_curp_ok, "BOXW310820HNERXN09", "BOXW311320HNERXN09"),
        (load.mx_rfc_ok, "GODE561231GR8", "GODE561231GR9"),
        (load.uk_nhs_ok, "943 476 5919", "943 476 5918"),
        (load.uk_nino_ok, "AB 12 34 56 C", "QQ 12 34 56 C"),
        (load.in_pan_ok, "ABCPK1234L", "ABCXK1234L"),
        (load.in_aadhaar_ok, "2341 2341 2346", "2341 2341 2347"),
        (load.us_ssn_ok, "123-45-6789", "666-45-6789"),
        (load.us_itin_ok, "912-78-4410", "912-45-4410"),
        (load.nl_bsn_ok, "111222333", "111222334"),
        (load.uk_utr_ok, "19558 39661", "29558 39661"),
        (load.luhn_ok, "4111 1111 1111 1111", "4111 1111 1111 1112"),
        (load.iban_ok, "GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 33"),
        (load.cbu_ok, "2850590940090418135201", "2850590940090418135202"),
        (load.clabe_ok, "002010077777777771", "002010077777777772"),
        (load.co_nit_ok, "800.197.268-4", "800.197.268-5"),
        (load.pe_ruc_ok, "20512333797", "20512333798"),
        (load.es_nuss_ok, "28/12345678/40", "28/12345678/41"),
        (load.mx_nss_ok, "12100812341", "12100812340"),
    ],
)
def test_checksum_validators_accept_the_reference_and_refuse_one_digit_off(check, valid, invalid):
    assert check(valid)
    assert not check(invalid)


def test_an_invalid_identifier_is_reported_by_kind():
    raw = HEADER + "CUIT: [[NATIONAL_ID|20-05536168-3]], pedido [[KEEP|20-05536168-3]]\n"
    doc = load.parse_document("chat-es-AR-001", raw)
    assert [(c.kind, c.valid) for c in load.check_identifiers(doc)] == [("ar_cuit", False)]


def test_context_decides_whether_ten_digits_are_an_nhs_number():
    raw = HEADER.replace("es-AR", "en-US").replace("es\n", "en\n")
    by_label = load.parse_document("chat-en-US-001", raw + "NHS no [[NATIONAL_ID|943 476 5918]]\n")
    bare = load.parse_document("chat-en-US-001", raw + "Member [[MEDICAL_ID|943 476 5918]]\n")
    assert [c.kind for c in load.check_identifiers(by_label)] == ["uk_nhs"]
    assert load.check_identifiers(bare) == []


def _doc(locale, body):
    header = f"# genre: chat\n# locale: {locale}\n# language: {locale[:2]}\n\n"
    return load.parse_document(f"chat-{locale}-001", header + body)


@pytest.mark.parametrize(
    ("locale", "body", "kind"),
    [
        ("es-CL", "RUT [[NATIONAL_ID|12.345.678-K]]", "cl_rut"),
        ("es-CL", "rut;nombre\n[[NATIONAL_ID|12345678-K]];Ana", "cl_rut"),
        ("es-ES", "[[NATIONAL_ID|12345678-K]]", "es_dni"),
        ("es-ES", "DNI [[NATIONAL_ID|12.345.678-Z]]", "es_dni"),
        ("es-CO", "C.C. 1.105.527.649 RUT/NIT: [[NATIONAL_ID|800.197.268-4]]", "co_nit"),
        ("es-MX", "RFC: [[NATIONAL_ID|GODE561231GR8]]", "mx_rfc"),
        ("es-ES", "CIP: [[MEDICAL_ID|ETUR 0 640412 00 1]]", None),
        ("es-ES", "CIP: [[MEDICAL_ID|ETUR640412001]]", None),
        ("en-IN", "PAN ABCPK1234L, UAN [[NATIONAL_ID|100904417283]]", None),
        ("en-IN", "Aadhaar [[NATIONAL_ID|234123412346]]", "in_aadhaar"),
        ("en-IN", "Aadhaar: 2341 2341 2346\nUAN: [[NATIONAL_ID|234123412347]]", None),
    ],
)
def test_the_nearest_label_decides_which_checksum_applies(locale, body, kind):
    doc = _doc(locale, body + "\n")
    assert [c.kind for c in load.check_identifiers(doc)] == ([kind] if kind else [])
