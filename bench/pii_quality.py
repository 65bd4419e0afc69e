"""PII detection quality: leak rate per type and group, and the share of KEEP strings kept.

Splits (each beside Presidio's default ``AnalyzerEngine`` on the same documents, same spaCy
models, default threshold):

* ``faker``: documents generated from templates filled with Faker values (``pii_corpus``);
* ``dev``: hand-labelled realistic documents (``bench/pii_docs/dev``), the split the
  detector is tuned on;
* ``heldout``: hand-labelled documents never tuned on (``bench/pii_docs/heldout``). Only
  aggregate figures are printed for it: ``--show-leaks`` never lists its values.

The labelled format is read by ``bench/pii_docs/load.py``: a ``# key: value`` header, a blank
line, then text with every labelled span written ``[[TYPE|value]]``.

Figures, as the pipeline produces them (``PiiDetector.detect`` then the dataset-wide
consistency pass over the split):

* LEAK RATE: share of labelled values with less than 90% of their non-space characters
  covered by findings of any type; per type and per group (structured identifiers, names,
  addresses, dates of birth, secrets, phones).
* KEEP KEPT: share of ``KEEP`` strings (order numbers, versions, hashes, prices...) that no
  finding touches.
* OVER-REDACTION: share of unlabelled word tokens that a finding touches.

    .venv/bin/python bench/pii_quality.py                 # every split that exists
    .venv/bin/python bench/pii_quality.py --splits dev --no-presidio --show-leaks 20

The last output line is a JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

sys.path.insert(0, str(ROOT / "bench" / "pii_docs"))

import load as corpus_loader  # noqa: E402  (bench/pii_docs/load.py, the corpus's own loader)

from datasets_app.pipeline.pii import DetectorConfig, PiiDetector, propagate_findings  # noqa: E402

COVERED = 0.9
STRUCTURED = frozenset(
    {"EMAIL_ADDRESS", "PHONE_NUMBER", "NATIONAL_ID", "MEDICAL_ID", "CREDIT_CARD", "IBAN_CODE",
     "IP_ADDRESS", "SECRET", "US_SSN", "ES_NIF", "ES_NIE", "URL_CREDENTIALS"}
)  # fmt: skip
GROUPS: dict[str, frozenset[str]] = {
    "structured": STRUCTURED,
    "names": frozenset({"PERSON"}),
    "addresses": frozenset({"ADDRESS"}),
    "dates_of_birth": frozenset({"DATE_OF_BIRTH"}),
    "secrets": frozenset({"SECRET", "URL_CREDENTIALS"}),
    "phones": frozenset({"PHONE_NUMBER"}),
}
GOALS = {"structured": 0.03, "names": 0.05, "addresses": 0.15, "dates_of_birth": 0.05}
KEEP_GOAL = 0.95
Spans = list[tuple[int, int]]


@dataclass
class Label:
    start: int
    end: int
    entity_type: str
    value: str


@dataclass
class Doc:
    """One labelled document: plain text, language and labelled spans (KEEP included)."""

    name: str
    text: str
    language: str
    labels: list[Label] = field(default_factory=list)


def load_split(split: str) -> list[Doc]:
    """Every document of ``bench/pii_docs/<split>`` through the corpus's own loader."""
    return [
        Doc(
            d.id,
            d.text,
            d.language if d.language in ("en", "es") else "en",
            [Label(s.start, s.end, s.type, d.text[s.start : s.end]) for s in d.spans],
        )  # fmt: skip
        for d in corpus_loader.load_split(split)
    ]


def faker_split(n_docs: int, seed: int = 2) -> list[Doc]:
    """The Faker-filled template corpus (held-out-style templates), as labelled documents."""
    from pii_corpus import generate_corpus

    return [
        Doc(
            f"faker-{i}",
            d.text,
            d.language,
            [Label(s.start, s.end, s.entity_type, s.value) for s in d.spans],
        )  # fmt: skip
        for i, d in enumerate(generate_corpus(n_docs, seed=seed, split="test"))
    ]


def _coverage(start: int, end: int, text: str, spans: Spans) -> float:
    wanted = [i for i in range(start, end) if not text[i].isspace()]
    if not wanted:
        return 1.0
    hit = sum(1 for i in wanted if any(s <= i < e for s, e in spans))
    return hit / len(wanted)


def _overlaps(start: int, end: int, spans: Spans) -> bool:
    return any(s < end and start < e for s, e in spans)


def evaluate(docs: list[Doc], spans_per_doc: list[Spans]) -> dict:
    """Raw counts: labelled values per type and how many leaked; KEEP kept; over-redaction."""
    total: dict[str, int] = defaultdict(int)
    leaked: dict[str, int] = defaultdict(int)
    examples: dict[str, list[str]] = defaultdict(list)
    keep_total = keep_destroyed = non_pii = over = 0
    destroyed_examples: list[str] = []
    for doc, spans in zip(docs, spans_per_doc, strict=True):
        for label in doc.labels:
            if label.entity_type == "KEEP":
                keep_total += 1
                if _overlaps(label.start, label.end, spans):
                    keep_destroyed += 1
                    destroyed_examples.append(label.value)
                continue
            total[label.entity_type] += 1
            if _coverage(label.start, label.end, doc.text, spans) < COVERED:
                leaked[label.entity_type] += 1
                examples[label.entity_type].append(label.value)
        labelled = [(s.start, s.end) for s in doc.labels]
        for token in re.finditer(r"\w+", doc.text):
            if _overlaps(token.start(), token.end(), labelled):
                continue
            non_pii += 1
            over += _overlaps(token.start(), token.end(), spans)
    return {"total": dict(total), "leaked": dict(leaked), "examples": dict(examples),
            "keep_total": keep_total, "keep_destroyed": keep_destroyed,
            "destroyed_examples": destroyed_examples, "non_pii_tokens": non_pii,
            "over_redacted": over}  # fmt: skip


def summarize(result: dict) -> dict:
    """Rates from ``evaluate``'s counts (a group with no labelled value reports None)."""
    leak = {t: result["leaked"].get(t, 0) / n for t, n in sorted(result["total"].items())}
    groups: dict[str, float | None] = {}
    counts: dict[str, int] = {}
    for group, types in GROUPS.items():
        n = sum(result["total"].get(t, 0) for t in types)
        counts[group] = n
        groups[group] = sum(result["leaked"].get(t, 0) for t in types) / n if n else None
    keep_total = result["keep_total"]
    return {
        "leak_by_type": leak,
        "n_by_type": dict(sorted(result["total"].items())),
        "leak_by_group": groups,
        "n_by_group": counts,
        "keep_kept": 1 - result["keep_destroyed"] / keep_total if keep_total else None,
        "n_keep": keep_total,
        "over_redaction": result["over_redacted"] / max(1, result["non_pii_tokens"]),
    }


def run_detector(detector: PiiDetector, docs: list[Doc]) -> list[Spans]:
    texts = [d.text for d in docs]
    findings = detector.detect(texts, [d.language for d in docs])
    findings = propagate_findings(texts, findings, index=detector.new_value_index())
    return [[(f.start, f.end) for f in fs] for fs in findings]


def run_presidio(analyzer: object, docs: list[Doc]) -> list[Spans]:
    return [[(r.start, r.end) for r in analyzer.analyze(d.text, d.language)] for d in docs]  # type: ignore[attr-defined]


def _rate(value: float | None) -> str:
    return "    n/a" if value is None else f"{value:7.1%}"


def print_table(split: str, n_docs: int, ours: dict, theirs: dict | None) -> None:
    print(f"\n== {split} split ({n_docs} documents): leak rate, ours vs Presidio defaults ==")
    for entity_type, rate in ours["leak_by_type"].items():
        base = _rate(theirs["leak_by_type"].get(entity_type)) if theirs else "    n/a"
        n = ours["n_by_type"][entity_type]
        print(f"  {entity_type:16} n={n:4d}  ours {_rate(rate)}   presidio {base}")
    for group, rate in ours["leak_by_group"].items():
        base = _rate(theirs["leak_by_group"][group]) if theirs else "    n/a"
        goal = f"(goal <= {GOALS[group]:.0%})" if group in GOALS else ""
        n = ours["n_by_group"][group]
        print(f"  group {group:14} n={n:4d} ours {_rate(rate)}   presidio {base} {goal}")
    base = _rate(theirs["keep_kept"]) if theirs else "    n/a"
    print(
        f"  KEEP strings kept     n={ours['n_keep']:4d} ours {_rate(ours['keep_kept'])}   "
        f"presidio {base} (goal >= {KEEP_GOAL:.0%})"
    )
    base = _rate(theirs["over_redaction"]) if theirs else "    n/a"
    print(f"  unlabelled tokens touched   ours {_rate(ours['over_redaction'])}   presidio {base}")


def show_leaks(split: str, result: dict, limit: int) -> None:
    """Leaked and destroyed values, never for the held-out split."""
    if split == "heldout" or limit <= 0:
        return
    for entity_type, values in sorted(result["examples"].items()):
        for value in values[:limit]:
            print(f"    leaked {entity_type}: {value!r}")
    for value in result["destroyed_examples"][:limit]:
        print(f"    destroyed KEEP: {value!r}")


def splits_to_run(names: Iterable[str], faker_docs: int) -> list[tuple[str, list[Doc]]]:
    runs = []
    for name in names:
        docs = faker_split(faker_docs) if name == "faker" else load_split(name)
        if docs:
            runs.append((name, docs))
        else:
            print(f"(no documents in bench/pii_docs/{name}: split skipped)")
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description="PII leak rate / KEEP strings kept benchmark")
    parser.add_argument("--splits", default="faker,dev,heldout")
    parser.add_argument("--faker-docs", type=int, default=300)
    parser.add_argument("--no-presidio", action="store_true", help="skip the Presidio baseline")
    parser.add_argument(
        "--show-leaks", type=int, default=0, help="print N leaked values per type (not heldout)"
    )
    args = parser.parse_args()
    detector = PiiDetector(DetectorConfig())
    analyzer = None
    if not args.no_presidio:
        from datasets_app.pipeline.pii_presidio import build_presidio_analyzer

        analyzer = build_presidio_analyzer()
    figures: dict = {}
    for split, docs in splits_to_run(args.splits.split(","), args.faker_docs):
        started = time.perf_counter()
        result = evaluate(docs, run_detector(detector, docs))
        ours = summarize(result)
        theirs = summarize(evaluate(docs, run_presidio(analyzer, docs))) if analyzer else None
        print_table(split, len(docs), ours, theirs)
        show_leaks(split, result, args.show_leaks)
        figures[split] = {"documents": len(docs), "ours": ours, "presidio": theirs,
                          "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
