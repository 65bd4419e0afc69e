"""PiiDetector end to end (spaCy models loaded once per module), propagation and config."""

import os
import socket

import pytest

from datasets_app.pipeline.pii import (
    ConfigError,
    DetectorConfig,
    Finding,
    PiiDetector,
    ValueIndex,
    propagate_findings,
)
from datasets_app.pipeline.pii_nlp import ner_windows, split_segments
from datasets_app.pipeline.pii_workers import ForkedWorkers, WorkerError, default_processes


@pytest.fixture(scope="module")
def detector():
    return PiiDetector(DetectorConfig())


def detect_one(detector, text, language="en"):
    return {(f.entity_type, text[f.start : f.end]) for f in detector.detect([text], [language])[0]}


def people(detector, text, language="en"):
    return {value for kind, value in detect_one(detector, text, language) if kind == "PERSON"}


# --- names ------------------------------------------------------------------------------------


def test_english_names_from_ner_and_greetings(detector):
    text = "Hi Mark,\nI spoke with Jennifer Alvarez about the renewal yesterday."
    assert {"Mark", "Jennifer Alvarez"} <= people(detector, text)


def test_spanish_names_without_the_greeting_the_model_glues_to_them(detector):
    text = "Hola María López, le escribe el Sr. Pérez sobre su pedido."
    names = people(detector, text, "es")
    assert "María López" in names
    assert any(name.endswith("Pérez") for name in names)
    assert not any(name.startswith("Hola") for name in names)


def test_signature_and_label_names(detector):
    text = "Nombre: LUCÍA FERNÁNDEZ\nGracias por todo.\n\nUn saludo,\nIker Zubizarreta"
    assert {"LUCÍA FERNÁNDEZ", "Iker Zubizarreta"} <= people(detector, text, "es")


def test_uppercase_names_with_spanish_connectors(detector):
    assert "MARTINA DE MANRIQUE" in people(
        detector, "Conductor: MARTINA DE MANRIQUE\nMatrícula 1234", "es"
    )


def test_honorific_and_suffix_are_part_of_the_name(detector):
    assert "Dr. Jessica Marshall" in people(detector, "Seen by Dr. Jessica Marshall today.")
    assert "Madison Lee MD" in people(detector, "Attending: Madison Lee MD")


def test_organisations_and_capitalised_common_words_are_not_flagged(detector):
    text = (
        "Thanks for the update. Microsoft Teams and Google Drive were down on Monday, said Support."
    )
    kinds = {kind for kind, _ in detect_one(detector, text)}
    assert "PERSON" not in kinds


def test_company_names_with_legal_suffix_are_not_people(detector):
    text = "Presupuesto de Construcciones Ferrera & Asociados S.L. para la obra."
    assert people(detector, text, "es") == set()


# --- batch behaviour --------------------------------------------------------------------------


def test_batch_keeps_order_and_languages(detector):
    texts = ["Mail ana@example.com", "Sin datos personales.", "Tel 612 345 678"]
    results = detector.detect(texts, ["en", "es", "es"])
    assert [[f.entity_type for f in r] for r in results] == [
        ["EMAIL_ADDRESS"],
        [],
        ["PHONE_NUMBER"],
    ]


def test_identical_texts_get_identical_findings(detector):
    text = "Contact Laura Benítez at +34 612 345 678."
    first, second = detector.detect([text, text], ["es", "es"])
    assert first == second and first


def test_unknown_language_is_treated_as_english(detector):
    assert detector.detect(["Email bob@example.org"], ["fr"]) == detector.detect(
        ["Email bob@example.org"], ["en"]
    )


def test_mismatched_lengths_raise(detector):
    with pytest.raises(ValueError):
        detector.detect(["a", "b"], ["en"])


def test_findings_do_not_overlap_and_are_sorted(detector):
    text = "postgres://admin:s3cret@db.internal:5432/app and Ana Gil López at ana@gil.es"
    findings = detector.detect([text], ["en"])[0]
    assert all(a.end <= b.start for a, b in zip(findings, findings[1:], strict=False))


def test_detection_makes_no_network_calls(detector, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    text = "Write to someone@unusual-domain.co.uk or visit https://u:p@host.example.org"
    kinds = {kind for kind, _ in detect_one(detector, text)}
    assert {"EMAIL_ADDRESS", "URL_CREDENTIALS"} <= kinds


def test_versions_report_models_and_libraries(detector):
    versions = detector.versions()
    assert versions["presidio_analyzer"] == "2.2.366"
    assert set(versions["spacy_models"]) == {"en", "es"}
    assert versions["config"]["score_threshold"] == 0.5


# --- NER windows ------------------------------------------------------------------------------


def test_segments_without_candidate_words_skip_ner(detector):
    assert ner_windows("2024-01-01 ERROR disk full on node-3", 0, (), detector.lexicon) == []
    assert ner_windows("Thanks for the update.", 0, (), detector.lexicon) == []
    assert ner_windows("please ask Jennifer about it", 0, (), detector.lexicon)


def test_words_already_inside_findings_do_not_trigger_ner(detector):
    segment = "Reported by Jennifer Alvarez"
    covered = [(12, 28)]
    assert ner_windows(segment, 0, covered, detector.lexicon) == []


def test_sentences_split_but_not_after_abbreviations():
    text = "Dr. Smith called. Mr. Jones did not.\nSecond line"
    assert [s for _, s in split_segments(text)] == [
        "Dr. Smith called. ",
        "Mr. Jones did not.",
        "Second line",
    ]


def test_forked_workers_find_what_one_process_finds(detector):
    texts = [
        f"Patient {name} was seen in Boston by Dr. Kim; call {phone}, mail {name[:3]}@x.org."
        for name, phone in (("Ann Lee", "+34 612 345 678"), ("Bo Chan", "(415) 555-0134"))
    ] * 30 + [f"Ticket {n}: Laura Gómez vive en Calle Mayor {n}, Madrid." for n in range(60)]
    languages = ["en"] * 60 + ["es"] * 60
    pooled = PiiDetector(DetectorConfig(n_process=2))
    try:
        assert pooled.workers is not None and pooled.workers.worth_it([len(t) for t in texts])
        assert pooled.detect(texts, languages) == detector.detect(texts, languages)
        configured = DetectorConfig(deny_list=["Boston"], entities=["PERSON"])
        assert pooled.with_config(configured).detect(texts, languages) == detector.with_config(
            configured
        ).detect(texts, languages)
    finally:
        pooled.workers.close()


def test_a_text_repeated_in_a_later_batch_is_not_analysed_again(detector, monkeypatch):
    fresh = detector.with_config(DetectorConfig())
    prompt = "You are the assistant of Laura Gómez (laura@example.com)."
    first = fresh.detect([prompt, "Hi Mark"], ["en", "en"])
    analysed = []
    original = fresh._detect_shared
    monkeypatch.setattr(
        fresh, "_detect_shared", lambda pairs: analysed.extend(pairs) or original(pairs)
    )
    again = fresh.detect(["Hi Mark", prompt, prompt], ["en", "en", "es"])
    assert again[:2] == [first[1], first[0]]
    assert analysed == [(prompt, "es")]  # another language is another analysis


PARENT_PID = os.getpid()


def _double_or_fail(request):
    if request == "fail" and os.getpid() != PARENT_PID:
        raise ValueError("refused")
    return request * 2


def test_worker_pool_answers_in_order_and_reports_a_failing_child():
    workers = ForkedWorkers.create(_double_or_fail, n_process=2)
    assert ForkedWorkers.create(_double_or_fail, n_process=1) is None
    try:
        assert workers.map([1, 2]) == [2, 4]
        assert workers.map(list(range(9))) == [2 * n for n in range(9)]
        assert workers.shares([10, 10, 10, 10]) == [range(i, i + 1) for i in range(4)]
        with pytest.raises(WorkerError, match="refused"):
            workers.map(["fail", 1])  # idle children take requests from the front
        assert workers.map([3, 4]) == [6, 8]  # the child survived its error
    finally:
        workers.close()
    assert all(_reaped(pid) for pid in workers._pids)


def test_a_second_pool_forked_later_leaves_the_first_one_working():
    first = ForkedWorkers.create(_double_or_fail, n_process=2)
    second = ForkedWorkers.create(_double_or_fail, n_process=2)
    try:
        assert first.map([1, 2]) == [2, 4]
        second.close()
        assert first.map([3, 4, 5]) == [6, 8, 10]
    finally:
        first.close()
    assert all(_reaped(pid) for pid in [*first._pids, *second._pids])


def _reaped(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


# --- config -----------------------------------------------------------------------------------


def test_config_round_trips_through_a_dict():
    config = DetectorConfig(score_threshold=0.7, allow_list=["Acme"], entities=["PERSON"])
    assert DetectorConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    "data",
    [{"languages": ["de"]}, {"score_threshold": 1.5}, {"colour": "blue"}, {"n_process": 0}],
)
def test_invalid_config_is_refused(data):
    with pytest.raises(ConfigError):
        DetectorConfig.from_dict(data)


def test_allow_list_deny_list_threshold_and_entity_filter(detector):
    text = "Ana Gil uses project Bluebird; phone 612345678; mail ana@gil.es"
    configured = detector.with_config(
        DetectorConfig(allow_list=["ana@gil.es"], deny_list=["bluebird"], entities=["PERSON"])
    )
    found = {(f.entity_type, text[f.start : f.end]) for f in configured.detect([text], ["es"])[0]}
    assert found == {("CUSTOM", "Bluebird"), ("PERSON", "Ana Gil")}  # deny-list terms always


def test_allow_listed_value_is_not_flagged(detector):
    text = "mail ana@gil.es or bob@gil.es"
    allowed = detector.with_config(DetectorConfig(allow_list=["ANA@gil.es"]))
    assert detect_one(allowed, text) == {("EMAIL_ADDRESS", "bob@gil.es")}


def test_threshold_drops_low_confidence_findings(detector):
    text = "apunta 612345678"  # a bare digit run scores 0.5 as a phone
    assert ("PHONE_NUMBER", "612345678") in detect_one(detector, text, "es")
    strict = detector.with_config(DetectorConfig(score_threshold=0.6))
    assert strict.detect([text], ["es"]) == [[]]


def test_with_config_refuses_languages_that_are_not_loaded(detector, monkeypatch):
    monkeypatch.setattr(detector.nlp_engine, "nlp", {"en": detector.nlp_engine.nlp["en"]})
    with pytest.raises(ConfigError):
        detector.with_config(DetectorConfig(languages=("en", "es")))


def test_records_in_a_language_outside_the_config_use_english(detector):
    english_only = detector.with_config(DetectorConfig(languages=("en",)))
    assert english_only.detect(["Call Bob Stone"], ["es"]) == english_only.detect(
        ["Call Bob Stone"], ["en"]
    )


# --- propagation ------------------------------------------------------------------------------


def test_found_values_propagate_to_every_record_including_name_parts(detector):
    texts = [
        "Meeting notes: Mark Scott joined.",
        "hi mark, see you",
        "Scott agreed",
        "Marks were high",
    ]
    findings = detector.detect(texts, ["en"] * 4)
    propagated = propagate_findings(texts, findings, index=detector.new_value_index())
    values = [
        {t[f.start : f.end] for f in fs if f.entity_type == "PERSON"}
        for t, fs in zip(texts, propagated, strict=True)
    ]
    assert "Mark Scott" in values[0]
    assert values[2] == {"Scott"}
    assert values[3] == set()  # word boundary: "Marks" is not "Mark"


def test_dictionary_word_parts_only_propagate_when_capitalised(detector):
    index = detector.new_value_index()
    index.add_value("Rose Brown", "PERSON")
    texts = ["Rose called", "a brown rose", "BROWN signed"]
    hits = [[t[f.start : f.end] for f in index.scan(t)] for t in texts]
    assert hits == [["Rose"], [], ["BROWN"]]


def test_short_parts_and_stop_words_are_not_propagated():
    index = ValueIndex(stop_words=frozenset({"de"}))
    index.add_value("Li de Wu", "PERSON")
    assert [f for f in index.scan("li and de and wu") if f.length < 8] == []


def test_value_index_streams_across_batches_and_chunks():
    index = ValueIndex(stop_words=frozenset())
    index.add("token hunter2x!", [Finding(6, 15, "SECRET", 0.9, "password_assignment")])
    for number in range(5):
        index.add_value(f"Projectname{number}", "CUSTOM")
    later = "reuse HUNTER2X! and projectname4 here"
    found = {(later[f.start : f.end], f.entity_type) for f in index.scan(later)}
    assert found == {("HUNTER2X!", "SECRET"), ("projectname4", "CUSTOM")}


def test_propagation_keeps_existing_findings_and_rejects_bad_input():
    texts = ["Ana Gil", "Ana"]
    original = [[Finding(0, 7, "PERSON", 0.9, "ner")], []]
    result = propagate_findings(texts, original, index=ValueIndex(stop_words=frozenset()))
    assert result[0] == original[0]
    assert [(f.start, f.end, f.recognizer) for f in result[1]] == [(0, 3, "propagation")]
    with pytest.raises(ValueError):
        propagate_findings(["a"], [])


def test_names_inside_email_addresses_propagate_as_name_parts(detector):
    texts = ["To: bridget.carter@hotmail.com", "Bridget - the landlord called", "carter-related"]
    findings = detector.detect(texts, ["en"] * 3)
    propagated = propagate_findings(texts, findings, index=detector.new_value_index())
    assert [texts[1][f.start : f.end] for f in propagated[1]] == ["Bridget"]


def test_propagation_without_an_explicit_index_uses_the_installed_lexicon():
    texts = ["Patient Ana Gil", "ANA GIL called; ana gil again"]
    result = propagate_findings(texts, [[Finding(8, 15, "PERSON", 0.9, "ner")], []])
    assert [texts[1][f.start : f.end] for f in result[1]] == ["ANA GIL", "ana gil"]


def test_a_trailing_initial_belongs_to_the_name_but_not_the_next_sentence():
    from datasets_app.pipeline.pii_names import with_honorifics

    text = "Atendió Rodrigo Sepúlveda B. en la sede. Then A. B. Smith left."
    name = Finding(8, 25, "PERSON", 0.8, "test")
    assert text[with_honorifics(text, name).start : with_honorifics(text, name).end] == (
        "Rodrigo Sepúlveda B."
    )
    lower = "ask rodrigo b. later"
    assert with_honorifics(lower, Finding(4, 11, "PERSON", 0.8, "t")).end == 11
    chained = "Smith A. B. wrote"
    assert with_honorifics(chained, Finding(0, 5, "PERSON", 0.8, "t")).end == 5


def test_detection_process_count_follows_the_environment(monkeypatch):
    monkeypatch.setenv("SOBERANA_PII_PROCESSES", "3")
    assert default_processes() == 3
    monkeypatch.delenv("SOBERANA_PII_PROCESSES")
    assert 1 <= default_processes() <= 4
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("SOBERANA_PII_PROCESSES", bad)
        with pytest.raises(ValueError, match="SOBERANA_PII_PROCESSES"):
            default_processes()
