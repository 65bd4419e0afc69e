"""Language identification: Faker-based accuracy for en/es, other languages, scripts, speed."""

import pytest
from faker import Faker

from datasets_app.pipeline import language
from datasets_app.pipeline.language import SAMPLE_CHARS, detect_language


def paragraphs(locale, count, min_chars=100, seed=1234):
    fake = Faker(locale)
    fake.seed_instance(seed)
    texts = []
    while len(texts) < count:
        paragraph = fake.paragraph(nb_sentences=3)
        while len(paragraph) < min_chars:
            paragraph += " " + fake.paragraph(nb_sentences=1)
        texts.append(paragraph)
    return texts


@pytest.mark.parametrize(("locale", "code"), [("en_US", "en"), ("es_ES", "es")])
def test_english_and_spanish_paragraphs_of_100_chars_are_at_least_98_percent_correct(locale, code):
    texts = paragraphs(locale, 300)
    correct = sum(detect_language(text) == code for text in texts)
    assert correct / len(texts) >= 0.98


@pytest.mark.parametrize(
    ("locale", "code"), [("fr_FR", "fr"), ("de_DE", "de"), ("it_IT", "it"), ("nl_NL", "nl")]
)
def test_other_european_languages_are_recognized(locale, code):
    texts = paragraphs(locale, 100)
    correct = sum(detect_language(text) == code for text in texts)
    assert correct / len(texts) >= 0.95


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Eu não sei se você vai gostar, mas o livro é muito bom e já está na mesa.", "pt"),
        ("Non so se ti piacerà, ma il libro è molto bello ed è già sul tavolo.", "it"),
        ("No sé si te gustará, pero el libro es muy bueno y ya está en la mesa.", "es"),
        ("No sé si t'agradarà, però el llibre és molt bo i ja és a la taula.", "ca"),
        ("Привет, как у тебя дела сегодня вечером?", "ru"),
        ("Слава Україні, як справи у вашій родині?", "uk"),
        ("今日はとても良い天気ですね。散歩に行きましょう。", "ja"),
        ("我们今天下午一起去公园散步吧。", "zh"),
        ("오늘 날씨가 정말 좋네요. 산책하러 갈까요?", "ko"),
        ("مرحبا، كيف حالك اليوم يا صديقي؟", "ar"),
        ("Καλημέρα, τι κάνεις σήμερα φίλε μου;", "el"),
    ],
)
def test_common_sentences_and_scripts_are_identified(text, code):
    assert detect_language(text) == code


@pytest.mark.parametrize("text", ["", "ok", "Hi Bob!", "12345 67890 +34 600", "::-- ** ::", "漢"])
def test_too_short_or_letterless_text_is_unknown(text):
    assert detect_language(text) == "unknown"


def test_spanish_inverted_punctuation_tips_a_short_question():
    assert detect_language("¿Dónde estáis todos ahora?") == "es"


def test_only_the_leading_sample_is_read():
    spanish_tail = " el gato se sentó en la alfombra" * 500
    english_then_spanish = ("the cat sat on the mat " * 200)[:SAMPLE_CHARS] + spanish_tail
    assert detect_language(english_then_spanish) == "en"


def test_result_does_not_depend_on_the_word_cache_state():
    texts = paragraphs("es_ES", 20) + paragraphs("en_US", 20)
    first = [detect_language(text) for text in texts]
    assert [detect_language(text) for text in reversed(texts)] == first[::-1]


def test_a_full_word_cache_is_reset_without_changing_results(monkeypatch):
    texts = paragraphs("es_ES", 30) + paragraphs("en_US", 30)
    expected = [detect_language(text) for text in texts]
    monkeypatch.setattr(language, "_WORD_CACHE_LIMIT", 200)
    language._model.cache_clear()
    try:
        assert [detect_language(text) for text in texts] == expected
    finally:
        language._model.cache_clear()
