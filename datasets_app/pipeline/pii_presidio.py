"""Presidio integration: offline tldextract, Presidio recognizers as fast specs, analyzers.

* ``configure_offline_tldextract`` makes tldextract (Presidio's email/URL
  validation) use its bundled public-suffix snapshot, never the network.
* ``presidio_pattern_specs`` turns Presidio's predefined national-id
  recognizers (US passport/ITIN/driver licence/bank, medical licence, crypto
  wallets, Spanish passport...; the UK NHS and NINO ones are replaced by
  ``pii_national_ids``) into ``PatternSpec`` objects
  that keep Presidio's regexes, scores, validation and context words but run
  as plain compiled regexes.
* ``build_presidio_analyzer`` builds a Presidio ``AnalyzerEngine`` for en+es
  with a registry configured in code on the offline spaCy engine, optionally
  extended with this project's recognizers (``SpecRecognizer``); the
  benchmarks use its default form as the baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import regex
from presidio_analyzer import AnalyzerEngine, LocalRecognizer, PatternRecognizer, RecognizerResult
from presidio_analyzer import predefined_recognizers as presidio_predefined
from presidio_analyzer.recognizer_registry import RecognizerRegistry

from datasets_app.pipeline.pii_nlp import OfflineSpacyNlpEngine, model_list
from datasets_app.pipeline.pii_offline import configure_offline_tldextract, offline_tld_extractor
from datasets_app.pipeline.recognizers import PatternSpec, scan_patterns

PRESIDIO_FLAGS = regex.DOTALL | regex.MULTILINE | regex.IGNORECASE
# Presidio recognizer class -> (record languages it runs on, needs context to report at all).
# US/UK identifiers run on English records only (Presidio registers them for English too).
PRESIDIO_EXTRA_RECOGNIZERS: dict[str, tuple[tuple[str, ...], bool]] = {
    "UsPassportRecognizer": (("en",), False),
    "UsItinRecognizer": (("en",), False),
    "UsLicenseRecognizer": (("en",), False),
    "UsBankRecognizer": (("en",), False),
    "AbaRoutingRecognizer": (("en",), True),
    "MedicalLicenseRecognizer": (("en",), False),
    "CryptoRecognizer": (("en", "es"), False),
    "EsPassportRecognizer": (("es", "en"), True),
}


def _adapt_acceptor(recognizer: PatternRecognizer) -> Any:
    def accept(value: str) -> int:
        if recognizer.validate_result(value) is False or recognizer.invalidate_result(value):
            return 0
        return len(value)

    return accept


def _adapt_rescore(recognizer: PatternRecognizer, base: float) -> Any:
    def rescore(value: str) -> float:
        return 1.0 if recognizer.validate_result(value) else base

    return rescore


def _specs_from_recognizer(
    recognizer: PatternRecognizer, languages: tuple[str, ...], requires_context: bool
) -> list[PatternSpec]:
    """One PatternSpec per Presidio pattern, same regex flags, scores, validation and context."""
    specs = []
    validates = type(recognizer).validate_result is not PatternRecognizer.validate_result
    for pattern in recognizer.patterns:
        boosted = min(1.0, max(pattern.score + 0.35, 0.4)) if recognizer.context else pattern.score
        specs.append(
            PatternSpec(
                name=f"presidio:{type(recognizer).__name__}",
                entity_type=recognizer.supported_entities[0],
                # Never inside a longer token ("KA4417209" of "IN-KA44172093418820W").
                pattern=regex.compile(  # type: ignore[arg-type]
                    rf"(?<![A-Za-z0-9])(?:{pattern.regex})(?![A-Za-z0-9])", PRESIDIO_FLAGS
                ),
                score=pattern.score,
                accept=_adapt_acceptor(recognizer),
                rescore=_adapt_rescore(recognizer, pattern.score) if validates else None,
                context=tuple(recognizer.context or ()),
                requires_context=requires_context,
                languages=frozenset(languages),
                ceiling=1.0 if validates else boosted,
                digits=True,  # every identifier kept here holds digits
            )
        )
    return specs


def presidio_pattern_specs(languages: Sequence[str] = ("en", "es")) -> list[PatternSpec]:
    """Presidio's extra national-id recognizers as fast specs, limited to ``languages``."""
    specs: list[PatternSpec] = []
    for class_name, (spec_languages, needs_context) in PRESIDIO_EXTRA_RECOGNIZERS.items():
        recognizer_class = getattr(presidio_predefined, class_name, None)
        wanted = tuple(lang for lang in spec_languages if lang in languages)
        if recognizer_class is None or not wanted:
            continue
        specs.extend(_specs_from_recognizer(recognizer_class(), wanted, needs_context))
    return specs


class SpecRecognizer(LocalRecognizer):
    """Presidio recognizer wrapping this project's ``PatternSpec`` list (for Presidio pipelines)."""

    def __init__(self, specs: Sequence[PatternSpec], language: str) -> None:
        self.specs = list(specs)
        entities = sorted({spec.entity_type for spec in self.specs})
        super().__init__(
            supported_entities=entities, supported_language=language, name="SoberanaSpecs"
        )

    def load(self) -> None:
        """Nothing to load: specs are compiled already."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        """Presidio results for the specs' findings restricted to ``entities``."""
        wanted = set(entities or self.supported_entities)
        return [
            RecognizerResult(f.entity_type, f.start, f.end, f.score)
            for f in scan_patterns(self.specs, text, self.supported_language)
            if f.entity_type in wanted
        ]


def build_presidio_analyzer(
    languages: Sequence[str] = ("en", "es"), *, extra_specs: Sequence[PatternSpec] = ()
) -> AnalyzerEngine:
    """Presidio AnalyzerEngine on the offline spaCy engine with the default en/es recognizers.

    ``extra_specs`` adds this project's regex specs to the registry. Loads the
    full spaCy pipelines (Presidio's context enhancer reads lemmas).
    """
    configure_offline_tldextract()
    nlp_engine = OfflineSpacyNlpEngine(model_list(languages))
    nlp_engine.load()
    registry = RecognizerRegistry(supported_languages=list(languages))
    registry.load_predefined_recognizers(languages=list(languages), nlp_engine=nlp_engine)
    for language in languages:
        if extra_specs:
            registry.add_recognizer(SpecRecognizer(extra_specs, language))
    return AnalyzerEngine(
        registry=registry, nlp_engine=nlp_engine, supported_languages=list(languages)
    )


configure_offline_tldextract()
__all__ = [
    "build_presidio_analyzer",
    "configure_offline_tldextract",
    "offline_tld_extractor",
    "presidio_pattern_specs",
]
