"""PII detection throughput: ``manage.py redact`` and the ingestion task vs Presidio's plain loop.

All sides get the same documents (mixed English/Spanish: the Faker-filled templates of
``pii_corpus`` with fresh values in every document, plus the hand-labelled ``dev`` split
when present), on the same machine, in the same run:

* the baseline: Presidio's default ``AnalyzerEngine.analyze(text, language)`` per document
  (``build_presidio_analyzer``, the same spaCy models), models loaded before timing;
* ``manage.py redact``: the command stewards script, run as a child process on the whole
  input and on its first half; the **marginal** rate (extra characters / extra seconds)
  leaves out the start-up both runs share (Django, model loading), as a long file would;
* the ingestion task: the Celery task ``ingest_dataset`` itself (parse, clean, language,
  detection, consistency pass, encrypted records blob, findings into SQLite) in a child
  process with a throw-away data folder, after the detector is loaded and a small warm-up
  upload of other documents went through; duplicate removal is off so every document counts;
* ``PiiDetector.detect`` alone, in this process, for reference.

Presidio's loop runs in one process. ``manage.py redact`` and the ingestion task are measured
twice: in one process (``SOBERANA_PII_PROCESSES=1``, the same process count as the baseline)
and as the product runs them (``pii_workers.default_processes()``: one process per CPU, at
most 4, forked detection workers sharing every large batch). Every line says how many
processes it used. Wall-clock characters per second are the headline; CPU-time ratios (all
processes' CPU time, children included) are printed as well because they hold up when other
work shares the machine, and they show what the extra processes cost.

    .venv/bin/python bench/pii_throughput.py            # ~400 KB
    .venv/bin/python bench/pii_throughput.py --quick    # ~120 KB

The last output line is a JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def corpus(target_chars: int) -> tuple[list[str], list[str]]:
    """Documents until ``target_chars``: the dev split once, then fresh Faker documents."""
    from pii_corpus import generate_corpus
    from pii_quality import load_split

    texts = [d.text for d in load_split("dev")]
    languages = [d.language for d in load_split("dev")]
    seed = 100
    while sum(map(len, texts)) < target_chars:
        for split in ("dev", "test"):
            for doc in generate_corpus(50, seed=seed, split=split):
                texts.append(doc.text)
                languages.append(doc.language)
        seed += 1
    # Shuffled (fixed seed) so that any half of the list holds the same mix of documents.
    order = list(range(len(texts)))
    random.Random(0).shuffle(order)
    return [texts[i] for i in order], [languages[i] for i in order]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def presidio_rate(texts: list[str], languages: list[str]) -> tuple[float, float]:
    """(chars/s wall, chars/s CPU) of Presidio's plain analyze loop."""
    from datasets_app.pipeline.pii_presidio import build_presidio_analyzer

    analyzer = build_presidio_analyzer()
    analyzer.analyze("warm up John Smith", "en")
    analyzer.analyze("calentar a Juan Pérez", "es")
    wall, cpu = time.perf_counter(), time.process_time()
    for text, language in zip(texts, languages, strict=True):
        analyzer.analyze(text, language)
    chars = sum(map(len, texts))
    return chars / (time.perf_counter() - wall), chars / (time.process_time() - cpu)


def detect_rate(texts: list[str], languages: list[str]) -> tuple[float, float]:
    """(chars/s wall, chars/s CPU) of one cold ``PiiDetector.detect`` call over everything."""
    from datasets_app.pipeline.pii import DetectorConfig, PiiDetector

    detector = PiiDetector(DetectorConfig())
    detector.detect(["warm up John Smith"], ["en"])
    detector.detect(["calentar a Juan Pérez"], ["es"])
    wall, cpu = time.perf_counter(), time.process_time()
    detector.detect(texts, languages)
    chars = sum(map(len, texts))
    return chars / (time.perf_counter() - wall), chars / (time.process_time() - cpu)


def _env(data_dir: str, processes: int) -> dict[str, str]:
    return dict(
        os.environ,
        SOBERANA_ENV="development",
        SOBERANA_DEBUG="0",
        SOBERANA_DATA_DIR=data_dir,
        DJANGO_SETTINGS_MODULE="platform_site.settings",
        PYTHONWARNINGS="ignore",
        SOBERANA_PII_PROCESSES=str(processes),
    )


def _write_jsonl(path: Path, texts: list[str]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for text in texts:
            out.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")


def _redact_once(folder: Path, texts: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of ``manage.py redact`` over ``texts`` in a child process."""
    source, target = folder / f"in-{len(texts)}.jsonl", folder / f"out-{len(texts)}.jsonl"
    _write_jsonl(source, texts)
    command = [sys.executable, "manage.py", "redact", str(source), "--output", str(target),
               "--language", "auto"]  # fmt: skip
    cpu, wall = _children_cpu(), time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - wall, _children_cpu() - cpu


def redact_rate(texts: list[str], processes: int) -> tuple[float, float]:
    """Marginal (chars/s wall, chars/s CPU) of ``manage.py redact``: all texts vs the first half."""
    half = texts[: len(texts) // 2]
    with tempfile.TemporaryDirectory(prefix="soberana-redact-bench-") as folder:
        env = _env(folder, processes)
        subprocess.run([sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT,
                       env=env, check=True, capture_output=True)  # fmt: skip
        # Best of two runs of each size: start-up time varies on a shared machine.
        small_wall, small_cpu = min(_redact_once(Path(folder), half, env) for _ in range(2))
        big_wall, big_cpu = min(_redact_once(Path(folder), texts, env) for _ in range(2))
    extra = sum(map(len, texts)) - sum(map(len, half))
    return extra / (big_wall - small_wall), extra / (big_cpu - small_cpu)


INGEST_CHILD = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")

def children_and_self_cpu():
    # Forked detection workers are reaped only at exit: read their CPU time from /proc.
    import os
    total = time.process_time()
    for task in os.listdir("/proc"):
        if task.isdigit() and int(task) != os.getpid():
            try:
                stat = open(f"/proc/{task}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == os.getpid():  # ppid
                total += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return total

import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
import hashlib
from django.contrib.auth import get_user_model
from accounts.models import Membership, Project
from audit.services import Actor
from datasets_app import ingestion, services
from datasets_app.models import Dataset
from datasets_app.options import IngestOptions
from datasets_app.tasks import ingest_dataset
from datasets_app.uploads import RAW_BLOB, EncryptedUpload
from vault import services as vault

project = Project.objects.create(name="bench")
user = get_user_model().objects.create_user("steward", "", "bench-Long-pw-1!")
Membership.objects.create(project=project, user=user, role="steward")
options = IngestOptions(cleaning={"dedup_near": False, "dedup_exact": False})
ingestion.detector_for(options, parallel=True).detect(["Warm up, Mark Scott (mark@example.com)."], ["en"])
services._enqueue_ingestion = lambda _id: None

def ingest(path):
    data = open(path, "rb").read()
    key, _ = vault.create_data_key("upload")
    with vault.blob_writer(key, RAW_BLOB) as writer:
        writer.write(data)
    upload = EncryptedUpload("bench.jsonl", "application/jsonl", len(data),
                             hashlib.sha256(data).hexdigest(), key)
    dataset = services.create_dataset(Actor(user=user), project, name=path, upload=upload,
                                      options=options)
    wall, cpu = time.perf_counter(), children_and_self_cpu()
    ingest_dataset(dataset.pk)
    wall, cpu = time.perf_counter() - wall, children_and_self_cpu() - cpu
    dataset = Dataset.objects.get(pk=dataset.pk)
    assert dataset.status == "needs_review", dataset.error
    return {"wall": wall, "cpu": cpu, "records": dataset.record_count,
            "findings": dataset.findings.count()}

print(json.dumps([ingest(path) for path in sys.argv[1:]]))
"""


def ingest_rate(texts: list[str], processes: int) -> tuple[float, float, dict]:
    """(chars/s wall, chars/s CPU) of the ingestion task on every document, in a worker that
    first ingested a small warm-up upload of other documents (imports and first-use costs
    paid, as in a worker that has been running), and the raw runs."""
    half, texts = texts[:20], texts[20:]
    with tempfile.TemporaryDirectory(prefix="soberana-ingest-bench-") as folder:
        small, big = Path(folder) / "small.jsonl", Path(folder) / "big.jsonl"
        _write_jsonl(small, half)
        _write_jsonl(big, texts)
        done = subprocess.run(
            [sys.executable, "-c", INGEST_CHILD, str(small), str(big)],
            cwd=ROOT, env=_env(folder, processes), check=True, capture_output=True, text=True,
        )  # fmt: skip
    runs = json.loads(done.stdout.strip().splitlines()[-1])
    if runs[1]["records"] != len(texts):
        raise SystemExit(f"ingestion kept {runs[1]['records']} of {len(texts)} records")
    chars = sum(map(len, texts))
    return chars / runs[1]["wall"], chars / runs[1]["cpu"], {"runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description="PII detection throughput benchmark")
    parser.add_argument("--quick", action="store_true", help="~120 KB instead of ~400 KB")
    args = parser.parse_args()
    texts, languages = corpus(120_000 if args.quick else 400_000)
    chars = sum(map(len, texts))
    from datasets_app.pipeline.pii_workers import default_processes

    product = default_processes()
    print(f"documents: {len(texts)}  characters: {chars}  CPU: {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f} at the start")  # fmt: skip
    base, base_cpu = presidio_rate(texts, languages)
    print(f"presidio AnalyzerEngine.analyze loop, 1 process      : {base:10,.0f} chars/s"
          f" (CPU {base_cpu:,.0f})")  # fmt: skip
    figures: dict[str, float | int | dict] = {
        "documents": len(texts), "characters": chars, "product_processes": product,
        "presidio_chars_per_s": base, "presidio_cpu_chars_per_s": base_cpu,
    }  # fmt: skip
    measured = {
        "redact_1p": ("manage.py redact (marginal), 1 process", lambda: redact_rate(texts, 1)),
        "ingest_1p": ("ingestion task (warm), 1 process", lambda: ingest_rate(texts, 1)[:2]),
        "detect_1p": ("PiiDetector.detect, 1 process", lambda: detect_rate(texts, languages)),
    }
    if product > 1:
        measured |= {
            "redact": (f"manage.py redact (marginal), {product} processes",
                       lambda: redact_rate(texts, product)),
            "ingest": (f"ingestion task (warm), {product} processes",
                       lambda: ingest_rate(texts, product)[:2]),
        }  # fmt: skip
    for key, (label, measure) in measured.items():
        rate, cpu_rate = measure()
        print(
            f"{label:53}: {rate:10,.0f} chars/s  {rate / base:5.1f}x Presidio"
            f"  (CPU {cpu_rate:,.0f}: {cpu_rate / base_cpu:5.1f}x)"
        )
        figures |= {f"{key}_chars_per_s": rate, f"{key}_ratio": rate / base,
                    f"{key}_cpu_chars_per_s": cpu_rate, f"{key}_cpu_ratio": cpu_rate / base_cpu}  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.2f} at the end; "
          f"product configuration: {product} processes (pii_workers.default_processes(); "
          "SOBERANA_PII_PROCESSES overrides); the Presidio baseline is one process")  # fmt: skip
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
