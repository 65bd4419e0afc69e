"""Offline language identification: Unicode script first, then a trigram Naive Bayes scorer.

Non-Latin scripts map straight to a language (Cyrillic -> ru/uk, Arabic -> ar/fa, kana ->
ja, Han -> zh, Hangul -> ko, Greek, Hebrew, Devanagari, Thai). Latin-script text is scored
against character-trigram profiles of en, es, fr, de, pt, it, nl and ca (counts built from
Django's translation catalogs by ``language_profiles_build``) plus a small bonus for
hand-picked function words. Only the first SAMPLE_CHARS characters are read, so the cost
per record is bounded (well above 1 MB/s). Measured on Faker paragraphs of >= 100 chars:
en and es 100% correct (tests assert >= 98%); 40-char snippets drop to 91-99%
by language.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from pathlib import Path

import numpy as np

LATIN_LANGUAGES = ("en", "es", "fr", "de", "pt", "it", "nl", "ca")
PROFILE_PATH = Path(__file__).with_name("language_profiles.json")
UNKNOWN = "unknown"
MIN_LETTERS = 12  # below this, Latin text is "unknown": too little evidence to be right
MIN_SCRIPT_CHARS = 4  # CJK and other scripts carry more information per character
SAMPLE_CHARS = 1000
STOPWORD_BONUS = 3.0  # log-likelihood bonus per function word, shared among its languages

# Frequent function words per language (hand-picked; a word in several lists splits its bonus).
_STOPWORDS = {
    "en": "the and of to is in that it for you was with on are this be have not but at from "
    "they we his her she he by or an will would can there their what which your has been were "
    "if do does my me our all about just so than then when who how i",
    "es": "el la los las de del que y en un una es por con para se no lo su al más pero como le "
    "ya o este esta sí porque muy sin sobre también hasta hay donde dónde cuando nos ser está "
    "están estoy son tiene qué cómo yo mi tu usted ellos fue ha han era gracias hola bueno",
    "fr": "le la les de des du et est un une que qui dans pour pas ne sur au aux avec ce cette "
    "il elle nous vous je tu sont mais ou où plus par son sa ses leur été être avoir fait très "
    "aussi comme si bien merci bonjour",
    "de": "der die das und ist nicht ein eine zu den dem des mit sich von auf für im es ich sie "
    "wir ihr auch als wie aber oder wenn noch nach bei aus werden wird sind hat haben war kann "
    "dass nur schon sehr danke bitte",
    "pt": "o os a as de do da dos das em no na nos nas um uma que e é para com não por mais se "
    "ao como mas foi ele ela eu você são está isso este esta muito também já quando obrigado "
    "obrigada olá sim então",
    "it": "il lo la i gli le di del della che e è un una per non in con sono mi ti si ma anche "
    "come più questo questa ho hai ha abbiamo nel nella dei delle alla al sul essere molto "
    "grazie ciao perché cosa sempre",
    "nl": "de het een en van is dat niet op te zijn voor met ik je we wij ze die er maar ook als "
    "bij aan om uit naar wat hoe worden wordt heb heeft dank",
    "ca": "el la els les de del que i en un una és per amb no es als dels però com més també "
    "aquest aquesta són està hi ho molt perquè quan on jo tu nosaltres gràcies",
}
_WORD = re.compile(r"[^\W\d_]+")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
# Any letter of a script handled by _SCRIPTS; text without one goes straight to the Latin scorer.
_OTHER_SCRIPT = re.compile(
    r"[\u0370-\u03ff\u0400-\u04ff\u0590-\u06ff\u0900-\u097f\u0e00-\u0e7f"
    r"\u1100-\u11ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]"
)
_SCRIPTS = {
    "kana": re.compile(r"[\u3040-\u30ff]"),
    "han": re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]"),
    "ko": re.compile(r"[\uac00-\ud7af\u1100-\u11ff]"),
    "cyrillic": re.compile(r"[\u0400-\u04ff]"),
    "arabic": re.compile(r"[\u0600-\u06ff]"),
    "el": re.compile(r"[\u0370-\u03ff]"),
    "he": re.compile(r"[\u0590-\u05ff]"),
    "hi": re.compile(r"[\u0900-\u097f]"),
    "th": re.compile(r"[\u0e00-\u0e7f]"),
}
_WORD_CACHE_LIMIT = 100_000  # distinct words whose scores are cached (6.4 MB of floats)
_UKRAINIAN = re.compile(r"[іїєґІЇЄҐ]")
_PERSIAN = re.compile(r"[پچژگ]")


def words_of(text: str) -> list[str]:
    """Returns the casefolded runs of letters (digits, punctuation and spaces separate words)."""
    return _WORD.findall(text.casefold())


def word_trigrams(word: str) -> list[str]:
    """Returns the trigrams of one word padded with a space on each side (" de", "de ")."""
    padded = f" {word} "
    return [padded[i : i + 3] for i in range(len(padded) - 2)]


def trigrams(text: str) -> list[str]:
    """Returns the per-word padded trigrams of a text (no trigram spans two words)."""
    return [gram for word in words_of(text) for gram in word_trigrams(word)]


class _Model:
    """Trigram log-probabilities plus a bounded, thread-safe cache of per-word scores."""

    def __init__(self, rows: dict[str, int], log_probs: np.ndarray) -> None:
        self._rows = rows  # trigram -> row of log_probs; unseen trigrams use the last row
        self._log_probs = log_probs  # (trigrams + 1, languages)
        self._stop_rows, self._stop_bonus = _stopword_table()
        # Words repeat (Zipf), so each distinct word is scored once and stored as a row of
        # _word_scores; a text's score is then one fancy-index sum over its word rows.
        self._word_rows: dict[str, int] = {}
        self._word_scores = np.empty((_WORD_CACHE_LIMIT, log_probs.shape[1]))
        self._lock = threading.Lock()

    def text_scores(self, words: list[str]) -> np.ndarray:
        """Returns the summed per-language scores of ``words`` (bonus included)."""
        with self._lock:
            # A sample holds at most SAMPLE_CHARS / 2 words, far fewer than the cache rows.
            if len(self._word_rows) + len(words) > _WORD_CACHE_LIMIT:
                self._word_rows.clear()  # bounded memory; results never depend on the cache
            cached = list(map(self._word_rows.get, words))
            rows = [
                self._add_word(w) if r is None else r for w, r in zip(words, cached, strict=True)
            ]
            scores: np.ndarray = self._word_scores[rows].sum(axis=0)
            return scores

    def _add_word(self, word: str) -> int:
        known = self._word_rows.get(word)  # the same new word may occur twice in one text
        if known is not None:
            return known
        unseen = len(self._log_probs) - 1
        grams = [self._rows.get(gram, unseen) for gram in word_trigrams(word)]
        vector = self._log_probs[grams].sum(axis=0)
        if word in self._stop_rows:
            vector = vector + self._stop_bonus[self._stop_rows[word]]
        row = len(self._word_rows)
        self._word_scores[row] = vector
        self._word_rows[word] = row
        return row


@functools.lru_cache(maxsize=1)
def _model() -> _Model:
    profiles = json.loads(PROFILE_PATH.read_text("utf-8"))["languages"]
    vocabulary = sorted({gram for lang in LATIN_LANGUAGES for gram in profiles[lang]["counts"]})
    rows = {gram: index for index, gram in enumerate(vocabulary)}
    log_probs = np.empty((len(vocabulary) + 1, len(LATIN_LANGUAGES)))
    for column, lang in enumerate(LATIN_LANGUAGES):
        total, counts = profiles[lang]["total"], profiles[lang]["counts"]
        # Unseen trigrams get half a count: a fixed, language-relative penalty.
        floor = np.log(0.5 / total)
        log_probs[:, column] = floor
        for gram, count in counts.items():
            log_probs[rows[gram], column] = np.log(count / total)
    return _Model(rows, log_probs)


def _stopword_table() -> tuple[dict[str, int], np.ndarray]:
    owners: dict[str, list[int]] = {}
    for column, lang in enumerate(LATIN_LANGUAGES):
        for word in _STOPWORDS[lang].split():
            owners.setdefault(word, []).append(column)
    bonus = np.zeros((len(owners), len(LATIN_LANGUAGES)))
    rows = {}
    for row, (word, columns) in enumerate(sorted(owners.items())):
        rows[word] = row
        bonus[row, columns] = STOPWORD_BONUS / len(columns)
    return rows, bonus


def detect_language(text: str) -> str:
    """Returns an ISO 639-1 code ("en", "es", ...) or "unknown" when there is too little text.

    Pure and deterministic; reads at most SAMPLE_CHARS characters; never raises for str input.
    """
    sample = text[:SAMPLE_CHARS]
    if not sample.isascii() and _OTHER_SCRIPT.search(sample):
        script_language = _script_language(sample)
        if script_language is not None:
            return script_language
    words = words_of(sample)
    if sum(map(len, words)) < MIN_LETTERS:
        return UNKNOWN
    return _latin_language(words, sample)


def _script_language(sample: str) -> str | None:
    """Returns the language of a dominant non-Latin script, "unknown" if too short, else None."""
    counts = {name: len(pattern.findall(sample)) for name, pattern in _SCRIPTS.items()}
    counts["han"] += counts.pop("kana")  # Japanese mixes both; kana decides ja vs zh below
    name, count = max(counts.items(), key=lambda item: item[1])
    if count == 0 or count <= len(_LATIN_LETTER.findall(sample)):
        return None
    if count < MIN_SCRIPT_CHARS:
        return UNKNOWN
    if name == "han":
        return "ja" if _SCRIPTS["kana"].search(sample) else "zh"
    if name == "cyrillic":
        return "uk" if _UKRAINIAN.search(sample) else "ru"
    if name == "arabic":
        return "fa" if _PERSIAN.search(sample) else "ar"
    return name


def _latin_language(words: list[str], sample: str) -> str:
    scores = _model().text_scores(words)
    if "¿" in sample or "¡" in sample:  # inverted marks are (almost) exclusive to Spanish
        scores[LATIN_LANGUAGES.index("es")] += STOPWORD_BONUS
    return LATIN_LANGUAGES[int(np.argmax(scores))]
