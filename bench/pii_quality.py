"""PII detection quality on a labeled synthetic corpus: leak rate and over-redaction.

For each split (``dev`` templates, the held-out-style ``test`` templates, and
``native``: test templates with Faker's untouched value formats; different
seeds) it runs ``PiiDetector.detect`` + ``propagate_findings`` (the
pipeline's dataset-level pass) and, for comparison, Presidio's default
``AnalyzerEngine`` (same spaCy models, default recognizers, default threshold).

* LEAK RATE per labeled type: share of labeled values with less than 90% of
  their non-space characters covered by any finding (any type).
* OVER-REDACTION: share of word tokens outside every labeled span that a
  finding touches.

    .venv/bin/python bench/pii_quality.py            # 300 docs per split
    .venv/bin/python bench/pii_quality.py --quick    # 80 docs per split

The last output line is a JSON object with all figures.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pii_corpus import LabeledDoc, generate_corpus

from datasets_app.pipeline.pii import DetectorConfig, PiiDetector, propagate_findings

COVERED = 0.9
GROUPS = {
    "structured": {
        "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "ES_NIF",
        "ES_NIE", "IP_ADDRESS", "SECRET", "URL_CREDENTIALS",
    },
    "names": {"PERSON"},
    "addresses": {"ADDRESS", "LOCATION"},
    "dates_of_birth": {"DATE_OF_BIRTH"},
}  # fmt: skip
GOALS = {"structured": 0.01, "names": 0.03, "addresses": 0.10}
Spans = list[tuple[int, int]]


def _coverage(start: int, end: int, text: str, spans: Spans) -> float:
    wanted = [i for i in range(start, end) if not text[i].isspace()]
    if not wanted:
        return 1.0
    hit = sum(1 for i in wanted if any(s <= i < e for s, e in spans))
    return hit / len(wanted)


def evaluate(docs: list[LabeledDoc], spans_per_doc: list[Spans]) -> dict:
    """Per-type leak counts and the over-redaction ratio."""
    total: dict[str, int] = defaultdict(int)
    leaked: dict[str, int] = defaultdict(int)
    examples: dict[str, list[str]] = defaultdict(list)
    non_pii = over = 0
    for doc, spans in zip(docs, spans_per_doc, strict=True):
        for label in doc.spans:
            total[label.entity_type] += 1
            if _coverage(label.start, label.end, doc.text, spans) < COVERED:
                leaked[label.entity_type] += 1
                examples[label.entity_type].append(label.value)
        labeled = [(s.start, s.end) for s in doc.spans]
        for token in re.finditer(r"\w+", doc.text):
            if any(s < token.end() and token.start() < e for s, e in labeled):
                continue
            non_pii += 1
            over += any(s < token.end() and token.start() < e for s, e in spans)
    return {"total": dict(total), "leaked": dict(leaked), "examples": dict(examples),
            "non_pii_tokens": non_pii, "over_redacted": over}  # fmt: skip


def summarize(result: dict) -> dict:
    """Leak rate per type and per group, and the over-redaction rate."""
    rates = {t: result["leaked"].get(t, 0) / n for t, n in sorted(result["total"].items())}
    groups = {}
    for group, types in GROUPS.items():
        n = sum(result["total"].get(t, 0) for t in types)
        groups[group] = sum(result["leaked"].get(t, 0) for t in types) / n if n else 0.0
    over = result["over_redacted"] / max(1, result["non_pii_tokens"])
    return {"leak_by_type": rates, "leak_by_group": groups, "over_redaction": over}


def run_detector(detector: PiiDetector, docs: list[LabeledDoc]) -> list[Spans]:
    texts = [d.text for d in docs]
    findings = detector.detect(texts, [d.language for d in docs])
    findings = propagate_findings(texts, findings, index=detector.new_value_index())
    return [[(f.start, f.end) for f in fs] for fs in findings]


def run_presidio(analyzer: object, docs: list[LabeledDoc]) -> list[Spans]:
    return [[(r.start, r.end) for r in analyzer.analyze(d.text, d.language)] for d in docs]


def print_table(split: str, ours: dict, theirs: dict | None, result: dict) -> None:
    print(f"\n== {split} split: leak rate per type (ours vs Presidio defaults) ==")
    for entity_type, rate in ours["leak_by_type"].items():
        base = f"{theirs['leak_by_type'].get(entity_type, 0):7.1%}" if theirs else "   n/a"
        n = result["total"][entity_type]
        print(f"  {entity_type:16} n={n:4d}  ours {rate:7.1%}   presidio {base}")
    for group, rate in ours["leak_by_group"].items():
        base = f"{theirs['leak_by_group'][group]:7.1%}" if theirs else "   n/a"
        goal = f"(goal <= {GOALS[group]:.0%})" if group in GOALS else ""
        print(f"  group {group:14} ours {rate:7.1%}   presidio {base} {goal}")
    base = f"{theirs['over_redaction']:7.1%}" if theirs else "   n/a"
    print(
        f"  over-redaction         ours {ours['over_redaction']:7.1%}   presidio {base} (goal <= 5%)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="PII leak rate / over-redaction benchmark")
    parser.add_argument("--quick", action="store_true", help="80 docs per split")
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--no-presidio", action="store_true", help="skip the Presidio baseline")
    parser.add_argument("--show-leaks", type=int, default=0, help="print N leaked values per type")
    args = parser.parse_args()
    n_docs = 80 if args.quick else args.docs
    detector = PiiDetector(DetectorConfig())
    no_gazetteer = PiiDetector(DetectorConfig(name_gazetteer=False))
    analyzer = None
    if not args.no_presidio:
        from datasets_app.pipeline.pii_presidio import build_presidio_analyzer

        analyzer = build_presidio_analyzer()
    figures: dict = {"docs_per_split": n_docs}
    for split, seed in (("dev", 1), ("test", 2), ("native", 3)):
        docs = generate_corpus(n_docs, seed=seed, split=split)
        started = time.perf_counter()
        result = evaluate(docs, run_detector(detector, docs))
        ours = summarize(result)
        ablation = summarize(evaluate(docs, run_detector(no_gazetteer, docs)))
        theirs = summarize(evaluate(docs, run_presidio(analyzer, docs))) if analyzer else None
        print_table(split, ours, theirs, result)
        print(f"  names leak without the name gazetteer: {ablation['leak_by_group']['names']:.1%}")
        for entity_type, values in result["examples"].items():
            for value in values[: args.show_leaks]:
                print(f"    leaked {entity_type}: {value!r}")
        figures[split] = {"ours": ours, "presidio": theirs, "names_leak_no_gazetteer":
                          ablation["leak_by_group"]["names"], "seconds": time.perf_counter() - started}  # fmt: skip
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
