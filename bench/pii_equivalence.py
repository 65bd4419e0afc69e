"""Speed work must not change what the PII detector finds: compare two versions' findings.

The corpus is the hand-labelled ``dev`` split plus a Faker sample (``pii_corpus`` templates,
fixed seeds, English and Spanish). For every document the detector's findings are recorded as
``[start, end, entity_type, score, recognizer]``, under a digest of the document (never its
text, never a found value), first from ``PiiDetector.detect`` over the whole corpus in batches
of 256 (as ingestion and ``manage.py redact`` call it), then after the dataset-wide consistency
pass (``ValueIndex.add`` over every batch, then ``merge_new(found, index.scan(text))``, as
``manage.py redact`` does). Scores must agree within 1e-9, everything else exactly.

    # findings of the code at a git revision vs this working tree (the usual check):
    .venv/bin/python bench/pii_equivalence.py --ref main
    # save this tree's findings (digests, offsets, types, scores only) / compare with a file:
    .venv/bin/python bench/pii_equivalence.py --save var/pii-findings.json
    .venv/bin/python bench/pii_equivalence.py --check var/pii-findings.json

``--ref`` exports ``datasets_app/`` of that revision with ``git archive`` into a temporary
folder and runs this script there in a child process (``--dump``), so both sides read the same
documents in the same run. Exit status 1 and a summary (document digests, offsets, types: no
text) when the findings differ.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
BATCH = 256
FAKER_SEEDS = (7, 8)
FAKER_DOCS_PER_SEED = 60
SCORE_TOLERANCE = 1e-9


def corpus() -> list[tuple[str, str]]:
    """(text, language) pairs: the dev split, then the Faker sample (dev and test templates)."""
    sys.path[:0] = [str(BENCH), str(BENCH / "pii_docs")]
    import load as corpus_loader  # bench/pii_docs/load.py (imports no detector code)
    from pii_corpus import generate_corpus

    docs = [
        (d.text, d.language if d.language in ("en", "es") else "en")
        for d in corpus_loader.load_split("dev")
    ]
    for seed in FAKER_SEEDS:
        for split in ("dev", "test"):
            docs.extend(
                (d.text, d.language)
                for d in generate_corpus(FAKER_DOCS_PER_SEED, seed=seed, split=split)
            )
    return docs


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _rows(findings: list[Any]) -> list[list[Any]]:
    return [[f.start, f.end, f.entity_type, f.score, f.recognizer] for f in findings]


def findings_of_this_tree(docs: list[tuple[str, str]], n_process: int = 1) -> dict[str, Any]:
    """{"detect": [...], "propagated": [...], "docs": [digest...], "seconds": float}."""
    from datasets_app.pipeline.pii import DetectorConfig, PiiDetector
    from datasets_app.pipeline.pii_propagation import merge_new

    detector = PiiDetector(DetectorConfig(n_process=n_process))
    index = detector.new_value_index()
    texts, languages = [t for t, _ in docs], [lang for _, lang in docs]
    started = time.perf_counter()
    detected: list[list[Any]] = []
    for start in range(0, len(texts), BATCH):
        chunk = texts[start : start + BATCH]
        found = detector.detect(chunk, languages[start : start + BATCH])
        for text, findings in zip(chunk, found, strict=True):
            index.add(text, findings)
        detected.extend(found)
    seconds = time.perf_counter() - started
    propagated = [merge_new(f, index.scan(t)) for t, f in zip(texts, detected, strict=True)]
    return {
        "docs": [_digest(t) for t in texts],
        "detect": [_rows(f) for f in detected],
        "propagated": [_rows(f) for f in propagated],
        "seconds": seconds,
    }


def _ref_findings(ref: str, n_process: int) -> dict[str, Any]:
    """Findings of ``datasets_app`` at git revision ``ref``, computed in a child process."""
    with tempfile.TemporaryDirectory(prefix="soberana-pii-ref-") as folder:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", ref, "datasets_app"],
            cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
        out = Path(folder) / "findings.json"
        env = dict(os.environ, PYTHONPATH=folder, PYTHONWARNINGS="ignore")
        subprocess.run(
            [sys.executable, __file__, "--dump", str(out), "--n-process", str(n_process)],
            cwd=folder, env=env, check=True,
        )  # fmt: skip
        return json.loads(out.read_text())


def _row_equal(a: list[Any], b: list[Any]) -> bool:
    return a[:3] == b[:3] and a[4] == b[4] and abs(a[3] - b[3]) <= SCORE_TOLERANCE


def compare(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Human-readable differences (digests, offsets, types, recognizers; never text)."""
    if expected["docs"] != actual["docs"]:
        return ["the two sides did not read the same documents"]
    problems = []
    for stage in ("detect", "propagated"):
        for digest, old, new in zip(expected["docs"], expected[stage], actual[stage], strict=True):
            same = len(old) == len(new) and all(map(_row_equal, old, new))
            if not same:
                gone = [r for r in old if not any(_row_equal(r, n) for n in new)]
                added = [r for r in new if not any(_row_equal(r, o) for o in old)]
                problems.append(f"{stage} {digest}: only before {gone}, only after {added}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--ref", help="git revision whose findings must be reproduced")
    action.add_argument("--save", type=Path, help="write this tree's findings to a JSON file")
    action.add_argument("--check", type=Path, help="compare this tree with a saved JSON file")
    action.add_argument("--dump", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--n-process", type=int, default=1, help="DetectorConfig.n_process")
    args = parser.parse_args()
    if args.dump is None:
        sys.path.insert(0, str(ROOT))
    docs = corpus()
    import datasets_app

    print(f"detector code from {Path(datasets_app.__file__).parent.parent}", file=sys.stderr)
    if args.ref:
        expected = _ref_findings(args.ref, 1)
    elif args.check:
        expected = json.loads(args.check.read_text())
    actual = findings_of_this_tree(docs, args.n_process)
    if args.dump or args.save:
        (args.dump or args.save).write_text(json.dumps(actual))
        if args.save:
            print(f"saved the findings of {len(docs)} documents to {args.save}")
        return
    problems = compare(expected, actual)
    total = sum(len(f) for f in actual["propagated"])
    print(
        f"{len(docs)} documents ({sum(len(t) for t, _ in docs):,} chars), {total} findings; "
        f"detect took {expected['seconds']:.1f} s before, {actual['seconds']:.1f} s now"
    )
    for line in problems[:40]:
        print(line)
    print("IDENTICAL" if not problems else f"DIFFERENT in {len(problems)} documents/stages")
    raise SystemExit(1 if problems else 0)


if __name__ == "__main__":
    main()
