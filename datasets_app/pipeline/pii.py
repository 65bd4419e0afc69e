"""PII and secret detection for English and Spanish text (Presidio + spaCy, batched).

Public API (used by the Django side):

* ``Finding`` - one detected span (``start``, ``end``, ``entity_type``, ``score``, ``recognizer``).
* ``DetectorConfig`` - languages, score threshold, allow/deny lists, entity filter.
* ``PiiDetector(config).detect(texts, languages)`` - findings per text, batched.
* ``propagate_findings(texts, findings)`` / ``ValueIndex`` - dataset-wide consistency.

How detection works (and why it is fast): compiled regexes run straight over
the raw text (``recognizers``, ``pii_secrets``, ``pii_addresses``, plus
Presidio's own national-id patterns via ``pii_presidio``; weak patterns are
only searched near their context words), then name heuristics
(``pii_names``: greetings, honorifics, labels, signatures, a first-name
gazetteer). spaCy then runs NER only (tagger, parser, lemmatizer excluded),
through ``nlp.pipe``, and only on short windows around capitalised words that
nothing above explained (``pii_nlp``); its output goes through false-positive
filters (ORG/MISC dropped, salutations trimmed, company names rejected).
Overlaps are resolved so each character belongs to at most one finding.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from datasets_app.pipeline.pii_context import context_findings, with_address_lines
from datasets_app.pipeline.pii_dates import answered_birth_dates, recent_year
from datasets_app.pipeline.pii_keep import drop_hard_negatives
from datasets_app.pipeline.pii_lexicon import NameLexicon, model_dirs_of
from datasets_app.pipeline.pii_name_extent import extend_person
from datasets_app.pipeline.pii_names import clean_ner_span, find_person_names, with_honorifics
from datasets_app.pipeline.pii_nlp import (
    NER_LABEL_MAP,
    SPACY_MODELS,
    NerRunner,
    OfflineSpacyNlpEngine,
    model_list,
)
from datasets_app.pipeline.pii_presidio import configure_offline_tldextract, presidio_pattern_specs
from datasets_app.pipeline.pii_propagation import ValueIndex
from datasets_app.pipeline.pii_propagation import propagate_findings as _propagate
from datasets_app.pipeline.pii_spoken import spoken_number_findings
from datasets_app.pipeline.pii_types import (
    CUSTOM,
    DATE_OF_BIRTH,
    LOCATION,
    PERSON,
    SUPPORTED_LANGUAGES,
    Finding,
    normalize_language,
)
from datasets_app.pipeline.pii_validators import email_domain_valid
from datasets_app.pipeline.pii_workers import ForkedWorkers
from datasets_app.pipeline.recognizers import (
    PatternSpec,
    block_findings,
    default_pattern_specs,
    scan_patterns,
)
from datasets_app.pipeline.redaction import PRIORITY_TYPES, resolve_overlaps

DETECTOR_VERSION = "2.1.0"
# Distinct texts whose findings a detector remembers (least recently stored dropped first).
SEEN_TEXTS = 20_000
Span = tuple[int, int]
NER_ENTITIES = frozenset({PERSON, LOCATION, "ADDRESS"})

__all__ = [
    "DETECTOR_VERSION",
    "DetectorConfig",
    "Finding",
    "PiiDetector",
    "ValueIndex",
    "default_lexicon",
    "propagate_findings",
]


class ConfigError(ValueError):
    """A DetectorConfig dictionary is malformed."""


@dataclass
class DetectorConfig:
    """What to detect and how strictly.

    ``deny_list`` terms are always flagged (entity ``CUSTOM``, score 1.0) even
    when ``entities`` excludes CUSTOM; ``allow_list`` terms are never flagged
    (exact value match, case-insensitive). ``entities=None`` means all types.
    ``n_process`` > 1 forks ``n_process - 1`` detection workers that take a share of every
    large batch (``pii_workers``; in-process where ``os.fork`` does not exist); the findings
    are the same whatever the count. ``name_gazetteer``
    toggles the first-name/surname gazetteer heuristic.
    """

    languages: tuple[str, ...] = SUPPORTED_LANGUAGES
    score_threshold: float = 0.5
    allow_list: list[str] = field(default_factory=list)
    deny_list: list[str] = field(default_factory=list)
    entities: list[str] | None = None
    n_process: int = 1
    name_gazetteer: bool = True

    def __post_init__(self) -> None:
        self.languages = tuple(self.languages)
        unknown = [lang for lang in self.languages if lang not in SUPPORTED_LANGUAGES]
        if unknown or not self.languages:
            raise ConfigError(f"unsupported languages: {unknown or 'none given'}")
        if not 0.0 <= self.score_threshold <= 1.0:
            raise ConfigError("score_threshold must be within [0, 1]")
        if self.n_process < 1:
            raise ConfigError("n_process must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (lists, not tuples)."""
        data = asdict(self)
        data["languages"] = list(self.languages)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectorConfig:
        """Inverse of ``to_dict``; raises ``ConfigError`` on unknown keys or bad values."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown DetectorConfig keys: {sorted(unknown)}")
        values = dict(data)
        if "languages" in values:
            values["languages"] = tuple(values["languages"])
        return cls(**values)


@lru_cache(maxsize=1)
def default_lexicon() -> NameLexicon:
    """Name lexicon built from the installed models' folders (no model is loaded)."""
    import spacy

    dirs = []
    for name in SPACY_MODELS.values():
        try:
            package_dir = Path(spacy.util.get_package_path(name))
        except (ModuleNotFoundError, ImportError):
            continue
        dirs.extend(p.parent.parent for p in package_dir.glob("*/lemmatizer/lookups"))
    return NameLexicon.load(dirs)


def propagate_findings(
    texts: Sequence[str], findings: list[list[Finding]], *, index: ValueIndex | None = None
) -> list[list[Finding]]:
    """Flag every occurrence, anywhere in ``texts``, of a value found in any record.

    Case-insensitive, on word boundaries; person names also propagate by parts
    (>= 3 letters, no stop words; dictionary-word parts only when capitalised).
    Pass ``index`` (e.g. ``PiiDetector.new_value_index()`` filled by earlier
    batches) to stream over a dataset larger than memory.
    """
    if index is None:
        lexicon = default_lexicon()
        index = ValueIndex(is_dictionary_word=lexicon.in_dictionary, is_person_name=lexicon.is_name)
    return _propagate(texts, findings, index=index)


def _deny_regex(terms: Sequence[str]) -> re.Pattern[str] | None:
    cleaned = sorted({t.strip() for t in terms if t.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    body = "|".join(re.escape(t) for t in cleaned)
    return re.compile(rf"(?i)(?<!\w)(?:{body})(?!\w)")


def _context_only(spec: PatternSpec, threshold: float) -> PatternSpec:
    """A spec that only reaches ``threshold`` with context words is only searched near them."""
    weak = spec.rescore is None and spec.score < threshold and bool(spec.context)
    return replace(spec, requires_context=True) if weak and not spec.requires_context else spec


class PiiDetector:
    """Loads the models once (seconds); ``detect`` is then cheap. Keep one per process.

    Not thread-safe (the NER window cache and the texts already seen are mutated by
    ``detect``, and requests to forked workers share their pipes): share one per process or
    per thread, and keep ``n_process`` at 1 in a threaded process. ``with_config`` derives
    detectors with other allow/deny lists or thresholds that reuse the loaded models (and
    workers).
    """

    def __init__(self, config: DetectorConfig | None = None) -> None:
        config = config or DetectorConfig()
        configure_offline_tldextract()
        self.nlp_engine = OfflineSpacyNlpEngine(model_list(config.languages), ner_only=True)
        self.nlp_engine.load()
        self.lexicon = NameLexicon.load(model_dirs_of(self.nlp_engine.nlp))
        email_domain_valid("example.com")  # builds the offline suffix trie now, not mid-batch
        self.ner = NerRunner(self.nlp_engine.nlp, self.lexicon)
        self._configure(config)
        self._clones: dict[str, PiiDetector] = {}
        # Last: the children are forked with everything above loaded and compiled (and
        # ``workers`` None: a child never forwards a request).
        self.workers: ForkedWorkers | None = None
        self.workers = ForkedWorkers.create(self._answer, config.n_process)

    def _configure(self, config: DetectorConfig) -> None:
        """Set everything that depends on the config but not on the loaded models."""
        self.config = config
        every = (*default_pattern_specs(), *presidio_pattern_specs(config.languages))
        self.specs: list[PatternSpec] = [
            _context_only(spec, config.score_threshold)
            for spec in every
            if spec.best_score >= config.score_threshold  # never-reportable specs are skipped
        ]
        self._deny = _deny_regex(config.deny_list)
        self._seen: OrderedDict[tuple[bytes, str], list[Finding]] = OrderedDict()
        self._allow = {t.strip().casefold() for t in config.allow_list if t.strip()}
        self._wanted = None if config.entities is None else frozenset(config.entities)

    def with_config(self, config: DetectorConfig) -> PiiDetector:
        """A detector with another config that shares this one's loaded models (cheap).

        Raises ConfigError when ``config`` needs languages this detector did not load.
        """
        missing = set(config.languages) - set(self.nlp_engine.nlp)
        if missing:
            raise ConfigError(f"models not loaded for {sorted(missing)}")
        clone = object.__new__(PiiDetector)
        clone.nlp_engine, clone.lexicon, clone.ner = self.nlp_engine, self.lexicon, self.ner
        clone.workers, clone._clones = self.workers, self._clones
        clone._configure(config)
        return clone

    def _answer(self, request: dict[str, Any]) -> list[list[list[Any]]]:
        """A worker's answer to ``{"config", "texts", "langs"}``: ``_detect_unique`` findings as
        ``[start, end, entity_type, score, recognizer]`` lists (JSON keeps floats exact)."""
        key = json.dumps(request["config"], sort_keys=True)
        if key not in self._clones:
            self._clones[key] = self.with_config(DetectorConfig.from_dict(request["config"]))
        pairs = list(zip(request["texts"], request["langs"], strict=True))
        return [
            [[f.start, f.end, f.entity_type, f.score, f.recognizer] for f in found]
            for found in self._clones[key]._detect_unique(pairs)
        ]

    def _language(self, language: str | None) -> str:
        lang = normalize_language(language)
        if lang in self.config.languages:
            return lang
        return "en" if "en" in self.config.languages else self.config.languages[0]

    def _wants(self, entity_type: str) -> bool:
        return self._wanted is None or entity_type in self._wanted

    def _needs_ner(self) -> bool:
        return self._wanted is None or bool(self._wanted & NER_ENTITIES)

    def _ner_findings(self, text: str, entities: Sequence[tuple[int, int, str]]) -> list[Finding]:
        found = []
        for start, end, label in entities:
            entity_type = NER_LABEL_MAP.get(label)
            if entity_type is not None:
                cleaned = clean_ner_span(text, start, end, entity_type, self.lexicon)
                if cleaned is not None:
                    found.append(cleaned)
        return found

    def _rule_findings(self, text: str, language: str) -> tuple[list[Finding], list[Span]]:
        """Regex recognizers, label evidence and name heuristics (everything but NER), and
        the spans of non-personal labelled values (order numbers, versions...)."""
        found = scan_patterns(self.specs, text, language)
        labelled, keep = context_findings(text, self.lexicon)
        found.extend(labelled)
        found.extend(spoken_number_findings(text))
        found.extend(block_findings(text))
        found.extend(
            Finding(start, end, DATE_OF_BIRTH, 0.85, "date_of_birth_answer")
            for start, end in answered_birth_dates(text)
            if not recent_year(text[start:end])
        )
        if self._wants(PERSON):
            names = find_person_names(text, self.lexicon)
            if not self.config.name_gazetteer:
                names = [f for f in names if f.recognizer != "name_gazetteer"]
            found.extend(names)
        return found, keep

    def _keep(self, text: str, finding: Finding) -> bool:
        if finding.score < self.config.score_threshold or not self._wants(finding.entity_type):
            return False
        return text[finding.start : finding.end].strip().casefold() not in self._allow

    def _finish(self, text: str, candidates: list[Finding], keep: list[Span]) -> list[Finding]:
        """Threshold, entity and allow-list filters, hard negatives, deny-list terms,
        honorifics, overlaps."""
        kept = [
            with_honorifics(text, extend_person(text, f, self.lexicon))
            if f.entity_type == PERSON
            else with_address_lines(text, f)
            for f in drop_hard_negatives(text, candidates, keep)
            if self._keep(text, f)
        ]
        if self._deny is not None:
            kept.extend(
                Finding(m.start(), m.end(), CUSTOM, 1.0, "deny_list")
                for m in self._deny.finditer(text)
            )
        return resolve_overlaps(merge_partial_overlaps(kept))

    def detect(self, texts: Sequence[str], languages: Sequence[str]) -> list[list[Finding]]:
        """Findings per text (non-overlapping, sorted by start, score >= threshold).

        ``languages[i]`` is the language of ``texts[i]`` (``en``/``es``; anything
        else is treated as English). Identical (text, language) pairs are
        analysed once, within a call and across the last ``SEEN_TEXTS`` distinct texts of
        earlier calls. Raises ValueError when the two sequences differ in length.
        """
        if len(texts) != len(languages):
            raise ValueError("texts and languages must have the same length")
        langs = [self._language(lang) for lang in languages]
        keys = [(_text_digest(text), lang) for text, lang in zip(texts, langs, strict=True)]
        unseen = list(dict.fromkeys(
            (text, key) for text, key in zip(texts, keys, strict=True) if key not in self._seen
        ))  # fmt: skip
        found = self._detect_shared([(text, key[1]) for text, key in unseen])
        results = {key: self._seen.get(key) for key in keys}
        for (_, key), findings in zip(unseen, found, strict=True):
            results[key] = findings
            self._remember(key, findings)
        return [list(results[key] or ()) for key in keys]

    def _remember(self, key: tuple[bytes, str], findings: list[Finding]) -> None:
        """Keep the findings of a text for the texts repeated in later batches (a system
        prompt in every conversation, a signature under every e-mail): keyed by a digest."""
        self._seen[key] = findings
        if len(self._seen) > SEEN_TEXTS:
            self._seen.popitem(last=False)

    def _detect_shared(self, unique: list[tuple[str, str]]) -> list[list[Finding]]:
        """``_detect_unique`` over ``unique``, its shares spread over the workers when it pays."""
        sizes = [len(text) for text, _ in unique]
        if self.workers is None or not self.workers.worth_it(sizes):
            return self._detect_unique(unique)
        config = self.config.to_dict()
        requests = [
            {
                "config": config,
                "texts": [unique[i][0] for i in share],
                "langs": [unique[i][1] for i in share],
            }
            for share in self.workers.shares(sizes)
        ]
        return [
            [Finding(start, end, kind, score, name) for start, end, kind, score, name in found]
            for answer in self.workers.map(requests)
            for found in answer
        ]

    def _detect_unique(self, unique: Sequence[tuple[str, str]]) -> list[list[Finding]]:
        """Findings per distinct (text, language) pair, in this process."""
        scanned = [self._rule_findings(text, lang) for text, lang in unique]
        rules = [found for found, _ in scanned]
        entities: list[list[Any]] = [[] for _ in unique]
        if self._needs_ner():
            threshold = self.config.score_threshold
            covered = [[(f.start, f.end) for f in fs if f.score >= threshold] for fs in rules]
            entities = self.ner.run([t for t, _ in unique], [lang for _, lang in unique], covered)
        return [
            self._finish(text, found + self._ner_findings(text, ents), keep)
            for (text, _), (found, keep), ents in zip(unique, scanned, entities, strict=True)
        ]

    def new_value_index(self) -> ValueIndex:
        """An empty ``ValueIndex`` using this detector's dictionary for name parts."""
        return ValueIndex(
            is_dictionary_word=self.lexicon.in_dictionary, is_person_name=self.lexicon.is_name
        )

    def versions(self) -> dict[str, Any]:
        """Versions of everything that shapes the output, for dataset lineage."""
        models = {
            lang: f"{nlp.meta.get('lang')}_{nlp.meta.get('name')}-{nlp.meta.get('version')}"
            for lang, nlp in self.nlp_engine.nlp.items()
        }
        return {
            "detector": DETECTOR_VERSION,
            "presidio_analyzer": _package_version("presidio-analyzer"),
            "spacy": _package_version("spacy"),
            "faker": _package_version("faker"),
            "tldextract": _package_version("tldextract"),
            "spacy_models": models,
            "config": self.config.to_dict(),
        }


def _text_digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def merge_partial_overlaps(findings: list[Finding]) -> list[Finding]:
    """Findings that overlap without one containing the other become one finding over their
    union, typed like the longest (then highest-scoring) of them: redacting "Ana Gil ana.gil"
    as a name must not leave "@x.com" of the e-mail it cut into. Credentials and deny-list
    terms are left to ``resolve_overlaps`` (they win over what they overlap, as they are).
    """
    mergeable = sorted(
        (f for f in findings if f.entity_type not in PRIORITY_TYPES), key=lambda f: f.start
    )
    others = [f for f in findings if f.entity_type in PRIORITY_TYPES]
    merged: list[Finding] = []
    group: list[Finding] = []
    for finding in [*mergeable, None]:
        if finding is not None and group and finding.start < max(f.end for f in group):
            group.append(finding)
            continue
        if group:
            merged.extend(_union(group))
        group = [finding] if finding is not None else []
    return [*merged, *others]


def _union(group: list[Finding]) -> list[Finding]:
    """The group itself when one finding contains all the others, else one union finding."""
    start, end = min(f.start for f in group), max(f.end for f in group)
    best = max(group, key=lambda f: (f.end - f.start, f.score))
    if (best.start, best.end) == (start, end):
        return group
    return [Finding(start, end, best.entity_type, best.score, best.recognizer)]


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None
