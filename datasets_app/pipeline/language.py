"""Offline language identification: Unicode script first, then a trigram Naive Bayes scorer.

Non-Latin scripts map straight to a language (Cyrillic -> ru/uk, Arabic -> ar/fa, kana ->
ja, Han -> zh, Hangul -> ko, Greek, Hebrew, Devanagari, Thai). Latin-script text is scored
against character-trigram profiles of en, es, fr, de, pt, it, nl and ca (counts built from
Django's translation catalogs by ``language_profiles_build``) plus a small bonus for
hand-picked function words. Only the first SAMPLE_CHARS characters are read, so the cost
per record is bounded (well above 1 MB/s). Measured on Faker paragraphs of >= 100 chars:
en and es 100% correct (tests assert >= 98%); 40-char snippets are ~92-95% correct.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LATIN_LANGUAGES = ("en", "es", "fr", "de", "pt", "it", "nl", "ca")
PROFILE_PATH = Path(__file__).with_name("language_profiles.json")
UNKNOWN = "unknown"
MIN_LETTERS = 12  # below this, Latin text is "unknown": too little evidence to be right
MIN_SCRIPT_CHARS = 4  # CJK and other scripts carry more information per character
SAMPLE_CHARS = 2000
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
_NON_LETTER = re.compile(r"[\W\d_]+")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
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
_UKRAINIAN = re.compile(r"[іїєґІЇЄҐ]")
_PERSIAN = re.compile(r"[پچژگ]")


def normalize_letters(text: str) -> str:
    """Casefolds and replaces every run of non-letters with one space (trimmed)."""
    return " ".join(_NON_LETTER.sub(" ", text.casefold()).split())


def trigrams(text: str) -> list[str]:
    """Returns the character trigrams of the letter-normalized text, padded with spaces."""
    padded = f" {normalize_letters(text)} "
    return [padded[i : i + 3] for i in range(len(padded) - 2)]


@dataclass(frozen=True)
class _Model:
    rows: dict[str, int]  # trigram -> row of log_probs; unseen trigrams use the last row
    log_probs: np.ndarray  # (trigrams + 1, languages)
    stop_rows: dict[str, int]
    stop_bonus: np.ndarray  # (stopwords, languages)


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
    stop_rows, stop_bonus = _stopword_table()
    return _Model(rows, log_probs, stop_rows, stop_bonus)


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
    if not sample.isascii():
        script_language = _script_language(sample)
        if script_language is not None:
            return script_language
    normalized = normalize_letters(sample)
    if len(normalized) - normalized.count(" ") < MIN_LETTERS:
        return UNKNOWN
    return _latin_language(normalized, sample)


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


def _latin_language(normalized: str, sample: str) -> str:
    model = _model()
    padded = f" {normalized} "
    unseen = len(model.log_probs) - 1
    rows = [model.rows.get(padded[i : i + 3], unseen) for i in range(len(padded) - 2)]
    scores = model.log_probs[rows].sum(axis=0)
    stop_hits = [model.stop_rows[word] for word in normalized.split() if word in model.stop_rows]
    if stop_hits:
        scores = scores + model.stop_bonus[stop_hits].sum(axis=0)
    if "¿" in sample or "¡" in sample:  # inverted marks are (almost) exclusive to Spanish
        scores[LATIN_LANGUAGES.index("es")] += STOPWORD_BONUS
    return LATIN_LANGUAGES[int(np.argmax(scores))]
