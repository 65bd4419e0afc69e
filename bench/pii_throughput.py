"""PII detection throughput: ``PiiDetector.detect`` vs Presidio's plain analyze loop.

Both sides get the same documents (mixed en/es, all five genres of
``pii_corpus``, ~300 KB; ``--quick`` ~60 KB), the same spaCy models and the
same machine, measured in the same run. The baseline is
``AnalyzerEngine.analyze(text, language)`` per document with Presidio's
default recognizers (``build_presidio_analyzer``).

Ours is measured cold (fresh detector, empty segment cache) in several
configurations: the default (1 process), 2 processes, and with the repeated-
segment cache disabled (so template repetition in the synthetic corpus cannot
flatter the figure). Model loading is excluded on both sides. Wall-clock
chars/s is the headline; the CPU-time ratio (single process only) is printed
too because it is robust to other jobs sharing the machine.

The last output line is a JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pii_corpus import generate_corpus

from datasets_app.pipeline.pii import DetectorConfig, PiiDetector
from datasets_app.pipeline.pii_presidio import build_presidio_analyzer


def corpus(target_chars: int) -> tuple[list[str], list[str]]:
    """Documents from both template families until ``target_chars`` is reached."""
    texts: list[str] = []
    languages: list[str] = []
    seed = 100
    while sum(map(len, texts)) < target_chars:
        for split in ("dev", "test"):
            for doc in generate_corpus(50, seed=seed, split=split):
                texts.append(doc.text)
                languages.append(doc.language)
        seed += 1
    return texts, languages


def _timed(work: object) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) of ``work()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()  # type: ignore[operator]
    return time.perf_counter() - wall, time.process_time() - cpu


def presidio_rate(texts: list[str], languages: list[str]) -> tuple[float, float]:
    """(chars/s wall, chars/s CPU) of the plain analyze loop."""
    analyzer = build_presidio_analyzer()
    analyzer.analyze("warm up John Smith", "en")
    analyzer.analyze("calentar a Juan Pérez", "es")

    def loop() -> None:
        for text, language in zip(texts, languages, strict=True):
            analyzer.analyze(text, language)

    wall, cpu = _timed(loop)
    chars = sum(map(len, texts))
    return chars / wall, chars / cpu


def ours_rate(
    texts: list[str], languages: list[str], *, n_process: int, cache: bool
) -> tuple[float, float]:
    """(chars/s wall, chars/s CPU of the parent process) of one cold ``detect`` call."""
    detector = PiiDetector(DetectorConfig(n_process=n_process))
    if not cache:
        detector.ner.cache_size = 0
    detector.detect(["warm up John Smith"], ["en"])
    detector.detect(["calentar a Juan Pérez"], ["es"])
    wall, cpu = _timed(lambda: detector.detect(texts, languages))
    if detector.ner.pool is not None:
        detector.ner.pool.close()
    chars = sum(map(len, texts))
    return chars / wall, chars / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description="PII detection throughput benchmark")
    parser.add_argument("--quick", action="store_true", help="~60 KB instead of ~300 KB")
    args = parser.parse_args()
    texts, languages = corpus(60_000 if args.quick else 300_000)
    chars = sum(map(len, texts))
    print(f"documents: {len(texts)}  characters: {chars}")
    baseline, baseline_cpu = presidio_rate(texts, languages)
    print(
        f"presidio AnalyzerEngine.analyze loop : {baseline:12,.0f} chars/s (CPU {baseline_cpu:,.0f})"
    )
    figures = {
        "documents": len(texts),
        "characters": chars,
        "presidio_chars_per_s": baseline,
        "presidio_cpu_chars_per_s": baseline_cpu,
    }
    for label, n_process, cache in (
        ("detect, 1 process", 1, True),
        ("detect, 2 processes", 2, True),
        ("detect, 1 process, no segment cache", 1, False),
    ):
        rate, cpu_rate = ours_rate(texts, languages, n_process=n_process, cache=cache)
        cpu_note = f"  CPU ratio {cpu_rate / baseline_cpu:5.1f}x" if n_process == 1 else ""
        print(f"{label:37}: {rate:12,.0f} chars/s  ratio {rate / baseline:5.1f}x{cpu_note}")
        key = label.replace("detect, ", "").replace(" ", "_").replace(",", "")
        figures[f"ours_{key}_chars_per_s"] = rate
        figures[f"ratio_{key}"] = rate / baseline
        if n_process == 1:
            figures[f"cpu_ratio_{key}"] = cpu_rate / baseline_cpu
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
