"""Names in any case and culture, addresses, secrets in prose; and the labelled corpora's
figures pinned loosely enough to be stable, so a regression of the detector fails here."""

import sys
from pathlib import Path

import pytest

from datasets_app.pipeline.pii import (
    DetectorConfig,
    PiiDetector,
    default_lexicon,
    merge_partial_overlaps,
)
from datasets_app.pipeline.pii_addresses import address_blocks
from datasets_app.pipeline.pii_lexicon import read_name_lexicon
from datasets_app.pipeline.pii_names import find_person_names
from datasets_app.pipeline.pii_types import Finding

ROOT = Path(__file__).resolve().parents[3]
LEXICON = default_lexicon()  # with the installed models' dictionaries, as the detector has


@pytest.fixture(scope="module")
def detector():
    return PiiDetector(DetectorConfig())


def names(text):
    return {text[f.start : f.end] for f in find_person_names(text, LEXICON)}


def detected(detector, text, entity_type, language="en"):
    findings = detector.detect([text], [language])[0]
    return {text[f.start : f.end] for f in findings if f.entity_type == entity_type}


# --- the lexicon ------------------------------------------------------------------------------


def test_the_lexicon_covers_many_cultures_in_two_tiers():
    table = read_name_lexicon()
    assert sum(map(len, table.values())) > 40_000
    for name in ("wojciech", "xochitl", "nguyen", "okonkwo", "goikoetxea", "quispe", "priya"):
        assert LEXICON.is_name(name), name


def test_a_wide_name_that_is_an_ordinary_word_does_not_become_a_name():
    assert not LEXICON.is_name("can")  # a Turkish given name, an English verb
    assert LEXICON.maybe_name("lan")  # still usable where a label says "name"
    assert LEXICON.ordinary_in_lower_case("said") and LEXICON.ordinary_in_lower_case("rosa")


# --- name cues --------------------------------------------------------------------------------


def test_names_in_lower_case_after_greetings_speech_verbs_and_introductions():
    text = "hola wojciech, ya llegó? — dijo marta. my name is jhun, this is maria luz dimaculangan"
    assert {"wojciech", "marta", "jhun", "maria luz dimaculangan"} <= names(text)


def test_speaker_labels_of_chats_are_names_but_roles_are_not():
    text = (
        "[08/07/24, 9:21 pm] Lakshmi Venkataraman: ok\n[08/07/24, 9:22 pm] Arjun: yes\n"
        "[08/07/24, 9:24 pm] Lakshmi Venkataraman: done\nAgent (Kemal): thanks\nCustomer: sure\n"
    )
    found = names(text)
    assert {"Lakshmi Venkataraman", "Arjun", "Kemal"} <= found
    assert "Customer" not in found and "Agent" not in found


def test_names_in_every_latin_script_and_surname_first():
    text = "Hablé con Łukasz Wiśniewski y con Şahin Yıldırım; firmó Okonkwo Chidi."
    assert {"Łukasz Wiśniewski", "Şahin Yıldırım", "Okonkwo Chidi"} <= names(text)


def test_handles_initials_and_lower_case_given_names():
    text = "cc @maria.gonzalez @devops-team; signed J. Smith. luego le digo a tupac"
    found = names(text)
    assert {"@maria.gonzalez", "J. Smith", "tupac"} <= found
    assert "@devops-team" not in found


def test_ordinary_words_that_are_also_names_stay_words_in_lower_case():
    assert names("we said we will mark it, la luz y la rosa") == set()


# --- addresses, secrets, overlaps --------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "Calle Reforma 222, Col. Juárez, C.P. 06600, Cuauhtémoc, CDMX",
        "Cra. 7 # 71-21, Bogotá",
        "Jr. de la Unión 456, Cercado de Lima",
        "JR. HUALLAGA 320 DPTO. 201\nLIMA 1",
        "Flat 3, 14 Elm Grove, London SW1A 1AA",
        "12 rue de la Paix, 75002 Paris",
        "House 5, Road 12, Lekki Gardens Phase 2, Ajah, Lagos",
        "1827 north 45th street unit 204 seattle 98103",
    ],
)
def test_addresses_of_many_countries(detector, address):
    assert address in detected(detector, f"Send it to {address}.\nThanks", "ADDRESS", "es")


def test_sentences_with_numbers_and_commas_are_not_address_blocks():
    assert address_blocks("We sold 3 units, 4 boxes, and 5 crates today, sadly.") == []


def test_passwords_in_prose_and_vendor_tokens(detector):
    text = "la contraseña del wifi es casa_1987. token ghp_" + "a1B2" * 9 + " ok"
    found = detected(detector, text, "SECRET", "es")
    assert "casa_1987" in found and any(value.startswith("ghp_") for value in found)
    assert detected(detector, "the token was revoked.", "SECRET") == set()


def test_partially_overlapping_findings_are_merged_over_their_union():
    name = Finding(0, 15, "PERSON", 0.85, "label")
    email = Finding(8, 21, "EMAIL_ADDRESS", 1.0, "email")
    assert merge_partial_overlaps([name, email]) == [Finding(0, 21, "PERSON", 0.85, "label")]
    inner = Finding(2, 5, "LOCATION", 0.7, "ner")
    assert merge_partial_overlaps([name, inner]) == [name, inner]  # containment: left as is


# --- corpus figures (loose pins; bench/pii_quality.py prints the exact ones) --------------------


def _quality():
    sys.path.insert(0, str(ROOT / "bench"))
    import pii_quality

    return pii_quality


@pytest.mark.slow
def test_dev_corpus_figures_stay_within_their_goals(detector):
    quality = _quality()
    docs = quality.load_split("dev")
    if not docs:
        pytest.skip("no dev documents in bench/pii_docs/dev")
    figures = quality.summarize(quality.evaluate(docs, quality.run_detector(detector, docs)))
    groups = figures["leak_by_group"]
    assert groups["names"] <= 0.09
    assert groups["addresses"] <= 0.20
    assert groups["dates_of_birth"] <= 0.05
    assert groups["structured"] <= 0.08
    assert figures["keep_kept"] >= 0.92


@pytest.mark.slow
def test_faker_corpus_figures_stay_near_zero(detector):
    quality = _quality()
    docs = quality.faker_split(80)
    figures = quality.summarize(quality.evaluate(docs, quality.run_detector(detector, docs)))
    assert figures["leak_by_group"]["structured"] <= 0.01
    assert figures["leak_by_group"]["names"] <= 0.02
    assert figures["leak_by_group"]["addresses"] <= 0.02
