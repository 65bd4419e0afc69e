"""Peak memory and throughput of ingestion (iter_records + Cleaner) on a large JSONL stream.

The JSONL is generated on the fly by a generator-backed, non-seekable file object (nothing
is written to disk). Baseline, measured in the same run on the same stream: reading lines
and ``json.loads`` each one, nothing else. Each mode runs in its own subprocess so that
ru_maxrss (peak RSS) belongs to that mode alone.

    .venv/bin/python bench/ingest_memory.py --quick        # 200 MB
    .venv/bin/python bench/ingest_memory.py                # 2 GiB (goal: peak RSS < 1 GiB)
    .venv/bin/python bench/ingest_memory.py --size-mb 500

The stream mixes text (70%), prompt/completion (15%) and chat (15%) records of 100-3000
characters in English and Spanish, with ~3% exact duplicates, ~3% near duplicates and ~5%
HTML, so every cleaning step does real work. The last line printed is a JSON object.

``--full`` measures the whole ingestion instead: the Celery task ``ingest_dataset`` (parse,
clean, PII detection, consistency pass, encrypted records blob, findings into the database)
called in a child process per input size, on a fresh SQLite database in a temporary data dir.
Records carry personal data drawn from a pool of Faker people (names, e-mails, phones) plus
some one-off phone numbers and IBANs, so distinct found values keep growing with the input.
The same stream through ``json.loads`` is the baseline, per size. Detection runs at roughly
100k characters per second per core, so sizes are megabytes, not gigabytes:

    .venv/bin/python bench/ingest_memory.py --full                   # 5 and 20 MB
    .venv/bin/python bench/ingest_memory.py --full --full-sizes-mb 5,20,40
"""

import argparse
import io
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MiB = 1024 * 1024


def _words(locale_module):
    import importlib

    return list(
        importlib.import_module(f"faker.providers.lorem.{locale_module}").Provider.word_list
    )


class GeneratedJsonl(io.RawIOBase):
    """Non-seekable binary stream of ``size`` bytes of JSONL, produced record by record."""

    def __init__(self, size, seed=7):
        super().__init__()
        self._remaining = size
        self._rng = random.Random(seed)
        self._vocab = {"en": _words("en_US"), "es": _words("es_ES")}
        self._recent = []
        self._pending = b""

    def readable(self):
        return True

    def readinto(self, buffer):
        # Whole lines only: the stream ends at the first line boundary past ``size``.
        while len(self._pending) < len(buffer) and self._remaining > 0:
            line = self._next_line()
            self._remaining -= len(line)
            self._pending += line
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def _paragraph(self):
        lang = "en" if self._rng.random() < 0.6 else "es"
        words = self._rng.choices(self._vocab[lang], k=self._rng.randint(15, 450))
        return " ".join(words).capitalize() + "."

    def _next_line(self):
        roll = self._rng.random()
        if roll < 0.03 and self._recent:
            obj = self._rng.choice(self._recent)  # exact duplicate
        elif roll < 0.06 and self._recent:
            obj = _near_copy(self._rng.choice(self._recent), self._rng)
        else:
            obj = self._fresh(roll)
            self._recent = (self._recent + [obj])[-1000:]
        return (json.dumps(obj, ensure_ascii=False) + "\n").encode()

    def _fresh(self, roll):
        if roll < 0.11:
            return {"text": f"<div><p>{self._paragraph()}</p><script>x()</script></div>"}
        if roll < 0.70:
            return {"text": self._paragraph()}
        if roll < 0.85:
            return {"prompt": self._paragraph(), "completion": self._paragraph()}
        return {
            "messages": [
                {"role": "user", "content": self._paragraph()},
                {"role": "assistant", "content": self._paragraph()},
            ]
        }


def _near_copy(obj, rng):
    """Returns a copy of a generated record with one word of its longest field replaced."""
    copy = json.loads(json.dumps(obj))
    if "messages" in copy:
        holder, key = copy["messages"][-1], "content"
    else:
        holder, key = copy, "completion" if "completion" in copy else "text"
    words = holder[key].split(" ")
    words[rng.randrange(len(words))] = "cambiado"
    holder[key] = " ".join(words)
    return copy


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_baseline(size, source=None):
    """``json.loads`` of every line of the generated stream (``GeneratedJsonl`` by default)."""
    stream = io.BufferedReader((source or GeneratedJsonl)(size), buffer_size=1 << 16)
    rss_start, cpu_start = peak_rss_mb(), cpu_seconds()
    start, records = time.perf_counter(), 0
    for line in stream:
        json.loads(line)
        records += 1
    return {
        "records": records,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": cpu_seconds() - cpu_start,
        "rss_start_mb": rss_start,
    }


def run_pipeline(size):
    from datasets_app.pipeline.cleaning import Cleaner, CleaningConfig
    from datasets_app.pipeline.language import detect_language
    from datasets_app.pipeline.parsing import ParseOptions, ParseReport, iter_records

    detect_language("warm up the language model so its load is not counted as growth")
    cleaner, report = Cleaner(CleaningConfig()), ParseReport()
    rss_start, cpu_start = peak_rss_mb(), cpu_seconds()
    start, kept = time.perf_counter(), 0
    for record in iter_records("bench.jsonl", GeneratedJsonl(size), ParseOptions(), report):
        kept += cleaner.process(record) is not None
    seconds = time.perf_counter() - start
    cleaning = cleaner.report()
    drops = {step.name: step.dropped for step in cleaning.steps if step.dropped}
    return {
        "records": report.records,
        "kept": kept,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds() - cpu_start,
        "rss_start_mb": rss_start,
        "dropped_by_step": drops,
        "languages": cleaning.languages,
    }


class GeneratedPiiJsonl(GeneratedJsonl):
    """The same mix of records, each paragraph carrying personal data: people drawn from a
    fixed pool (so names, e-mails and phones recur across records, as in real tickets) and, in
    some records, a one-off phone number or IBAN (so distinct values grow with the input)."""

    POOL = 2000  # people per language

    def __init__(self, size, seed=7):
        super().__init__(size, seed)
        from faker import Faker

        self._people, self._fakers = {}, {}
        for lang, locale in (("en", "en_US"), ("es", "es_ES")):
            fake = self._fakers[lang] = Faker(locale)
            fake.seed_instance(seed)
            self._people[lang] = [_person(fake) for _ in range(self.POOL)]

    def _paragraph(self):
        lang = "en" if self._rng.random() < 0.6 else "es"
        words = self._rng.choices(self._vocab[lang], k=self._rng.randint(15, 450))
        person = self._rng.choice(self._people[lang])
        for sentence in self._pii_sentences(lang, person):
            words.insert(self._rng.randrange(len(words) + 1), sentence)
        text = " ".join(words)
        return text[:1].upper() + text[1:] + "."  # not capitalize(): it lowercases the names

    def _pii_sentences(self, lang, person):
        first, name, email, phone = person
        hello, write, call = (
            ("Hi", "write to", "call") if lang == "en" else ("Hola", "escribe a", "llama a")
        )
        sentences = [f"{hello} {first},", f"{name} {write} {email}."]
        if self._rng.random() < 0.4:
            sentences.append(f"{call} {first} {phone}.")
        if self._rng.random() < 0.05:  # a value seen once in the whole file
            sentences.append(f"{call} +34 6{self._rng.randrange(10**8):08d}.")
        if self._rng.random() < 0.02:
            sentences.append(f"IBAN {self._fakers[lang].iban()}")
        return sentences


def _person(fake):
    import unicodedata

    first, last = fake.first_name(), fake.last_name()
    ascii_name = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore")
    local = ascii_name.decode().lower().replace(" ", "")
    return first, f"{first} {last}", f"{local}@{fake.free_email_domain()}", fake.phone_number()


def run_pii_baseline(size):
    return run_baseline(size, GeneratedPiiJsonl)


def run_full(size):
    """The whole ingestion task on ``size`` bytes, in a throw-away data dir."""
    data_dir = tempfile.mkdtemp(prefix="soberana-bench-")
    try:
        return _run_full_in(Path(data_dir), size)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _setup_django(data_dir):
    import warnings

    os.environ.update(
        SOBERANA_ENV="development",
        SOBERANA_DEBUG="0",  # DEBUG would keep the last 9,000 SQL statements in memory
        SOBERANA_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="platform_site.settings",
    )
    warnings.simplefilter("ignore")  # the "new master key, back it up" warning
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _encrypted_upload(size):
    """Streams the generated JSONL into an encrypted raw blob, as the upload handler does."""
    import hashlib

    from datasets_app.uploads import RAW_BLOB, EncryptedUpload
    from vault import services as vault

    key, _ = vault.create_data_key("upload")
    digest, written, source = hashlib.sha256(), 0, GeneratedPiiJsonl(size)
    with vault.blob_writer(key, RAW_BLOB) as writer:
        while piece := source.read(1 << 20):
            digest.update(piece)
            writer.write(piece)
            written += len(piece)
    return EncryptedUpload("bench.jsonl", "application/jsonl", written, digest.hexdigest(), key)


def _run_full_in(data_dir, size):
    _setup_django(data_dir)
    from django.contrib.auth import get_user_model

    from accounts.models import Membership, Project
    from audit.services import Actor
    from datasets_app import ingestion, services
    from datasets_app.models import Dataset
    from datasets_app.options import IngestOptions
    from datasets_app.tasks import ingest_dataset

    project = Project.objects.create(name="bench")
    user = get_user_model().objects.create_user("steward", "", "bench-Long-pw-1!")
    Membership.objects.create(project=project, user=user, role="steward")
    options = IngestOptions()
    # Load the detector (spaCy models, lexicon) first: a worker loads it once, not per file.
    ingestion.detector_for(options).detect(["Warm up, Mark Scott (mark@example.com)."], ["en"])
    upload = _encrypted_upload(size)
    services._enqueue_ingestion = lambda _id: None  # no broker: the task is called below
    dataset = services.create_dataset(
        Actor(user=user), project, name="bench", upload=upload, options=options
    )
    rss_start, cpu_start = peak_rss_mb(), cpu_seconds()
    start = time.perf_counter()
    _start_progress_sampler(start)
    ingest_dataset(dataset.pk)  # the Celery task's own function, run in this process
    seconds = time.perf_counter() - start
    dataset = Dataset.objects.get(pk=dataset.pk)
    if dataset.status != "needs_review":
        raise SystemExit(f"ingestion ended {dataset.status}: {dataset.error}")
    findings = dataset.findings.all()
    return {
        "records": dataset.parse_report["records"],
        "kept": dataset.record_count,
        "findings": findings.count(),
        "distinct_values": findings.values("value_digest").distinct().count(),
        "by_type": dataset.pii_summary["by_type"],
        "seconds": seconds,
        "cpu_seconds": cpu_seconds() - cpu_start,
        "rss_start_mb": rss_start,
    }


def _read_bytes():
    """Bytes this process has read so far (/proc/self/io rchar; 0 where /proc lacks it)."""
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("rchar:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _current_rss_mb():
    try:
        return (
            int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGESIZE") / 2**20
        )
    except OSError:
        return 0.0


def _start_progress_sampler(start, every_s=60.0):
    """A line on stderr every minute (elapsed, RSS now and peak, MB read), so a multi-hour run
    shows its memory curve as it goes, and a run cut short still leaves figures."""
    import threading

    read_start = _read_bytes()

    def sample():
        while True:
            time.sleep(every_s)
            line = {
                "elapsed_s": round(time.perf_counter() - start),
                "rss_mb": round(_current_rss_mb()),
                "peak_rss_mb": round(peak_rss_mb()),
                "read_mb": round((_read_bytes() - read_start) / 2**20),
            }
            print("progress", json.dumps(line), file=sys.stderr, flush=True)

    threading.Thread(target=sample, daemon=True).start()


CHILD_MODES = {
    "baseline": run_baseline,
    "pipeline": run_pipeline,
    "pii-baseline": run_pii_baseline,
    "full": run_full,
}


def child(mode, size):
    result = CHILD_MODES[mode](size)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def measure(mode, size):
    command = [sys.executable, __file__, "--child", mode, "--size-bytes", str(size)]
    # stderr passes through: the full run's progress lines show while it runs.
    output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=2048)
    parser.add_argument("--quick", action="store_true", help="200 MB instead of --size-mb")
    parser.add_argument(
        "--full", action="store_true", help="the whole ingestion task, per --full-sizes-mb"
    )
    parser.add_argument("--full-sizes-mb", default="5,20", help="comma-separated sizes in MB")
    parser.add_argument("--child", choices=sorted(CHILD_MODES), help=argparse.SUPPRESS)
    parser.add_argument("--size-bytes", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.size_bytes)
        return
    if args.full:
        sizes = [float(mb) * MiB for mb in args.full_sizes_mb.split(",")]
        runs = [
            (int(size), measure("pii-baseline", int(size)), measure("full", int(size)))
            for size in sizes
        ]
        report_full(runs)
        return
    size = (200 if args.quick else args.size_mb) * MiB
    baseline, pipeline = measure("baseline", size), measure("pipeline", size)
    report(size, baseline, pipeline)


def figures_of(size, baseline, pipeline):
    """Returns the JSON figures: peak RSS vs input and vs baseline, throughput ratios."""
    input_mb = size / MiB
    runs = (("baseline", baseline), ("pipeline", pipeline))
    rates = {name: r["records"] / r["seconds"] for name, r in runs}
    # CPU-time rates too: wall time is distorted when other work shares the machine.
    cpu_rates = {name: r["records"] / r["cpu_seconds"] for name, r in runs}
    peak, base_peak = pipeline["peak_rss_mb"], baseline["peak_rss_mb"]
    return {
        "input_mb": round(input_mb, 1),
        "records": pipeline["records"],
        "kept": pipeline["kept"],
        "pipeline_peak_rss_mb": round(peak, 1),
        "baseline_peak_rss_mb": round(base_peak, 1),
        "pipeline_rss_over_input": round(peak / input_mb, 3),
        "pipeline_rss_growth_mb": round(peak - pipeline["rss_start_mb"], 1),
        "rss_ratio_pipeline_vs_baseline": round(peak / base_peak, 2),
        "pipeline_records_per_s": round(rates["pipeline"]),
        "baseline_records_per_s": round(rates["baseline"]),
        "throughput_ratio_pipeline_vs_baseline": round(rates["pipeline"] / rates["baseline"], 3),
        "pipeline_mb_per_s": round(input_mb / pipeline["seconds"], 2),
        "pipeline_records_per_cpu_s": round(cpu_rates["pipeline"]),
        "baseline_records_per_cpu_s": round(cpu_rates["baseline"]),
        "cpu_throughput_ratio": round(cpu_rates["pipeline"] / cpu_rates["baseline"], 3),
        "goal_peak_rss_under_1GiB": peak < 1024,
        "dropped_by_step": pipeline["dropped_by_step"],
    }


def report(size, baseline, pipeline):
    f = figures_of(size, baseline, pipeline)
    print(f"input: {f['input_mb']:.0f} MB generated JSONL, {f['records']} records")
    print(
        f"peak RSS       pipeline {f['pipeline_peak_rss_mb']} MB | baseline "
        f"{f['baseline_peak_rss_mb']} MB | ratio {f['rss_ratio_pipeline_vs_baseline']}x | "
        f"pipeline RSS / input {f['pipeline_rss_over_input']}"
    )
    print(
        f"records/s      pipeline {f['pipeline_records_per_s']} | baseline "
        f"{f['baseline_records_per_s']} | ratio {f['throughput_ratio_pipeline_vs_baseline']}x"
    )
    print(
        f"records/cpu-s  pipeline {f['pipeline_records_per_cpu_s']} | baseline "
        f"{f['baseline_records_per_cpu_s']} | ratio {f['cpu_throughput_ratio']}x"
    )
    print(f"kept {f['kept']} records; dropped by step: {f['dropped_by_step']}")
    print(json.dumps(f))


def full_figures_of(size, baseline, full):
    """Returns the JSON figures of one input size of the full ingestion."""
    input_mb = size / MiB
    return {
        "input_mb": round(input_mb, 1),
        "records": full["records"],
        "kept": full["kept"],
        "findings": full["findings"],
        "distinct_values": full["distinct_values"],
        "full_peak_rss_mb": round(full["peak_rss_mb"], 1),
        "full_rss_after_warmup_mb": round(full["rss_start_mb"], 1),
        "full_rss_growth_mb": round(full["peak_rss_mb"] - full["rss_start_mb"], 1),
        "baseline_peak_rss_mb": round(baseline["peak_rss_mb"], 1),
        "full_records_per_s": round(full["kept"] / full["seconds"], 1),
        "full_records_per_cpu_s": round(full["kept"] / full["cpu_seconds"], 1),
        "full_mb_per_s": round(input_mb / full["seconds"], 3),
        "baseline_records_per_s": round(baseline["records"] / baseline["seconds"]),
        "seconds": round(full["seconds"], 1),
        "by_type": full["by_type"],
    }


def report_full(runs):
    sizes = [full_figures_of(size, baseline, full) for size, baseline, full in runs]
    for f in sizes:
        print(
            f"{f['input_mb']:.0f} MB: {f['kept']} records, {f['findings']} findings "
            f"({f['distinct_values']} distinct values) in {f['seconds']} s | peak RSS full "
            f"{f['full_peak_rss_mb']} MB (after warm-up {f['full_rss_after_warmup_mb']} MB, "
            f"growth {f['full_rss_growth_mb']} MB) | json.loads baseline "
            f"{f['baseline_peak_rss_mb']} MB | {f['full_records_per_s']} records/s "
            f"({f['full_records_per_cpu_s']} per CPU-s) vs baseline {f['baseline_records_per_s']}"
        )
    small, large = sizes[0], sizes[-1]
    summary = {
        "mode": "full",
        "sizes": sizes,
        "input_ratio": round(large["input_mb"] / small["input_mb"], 2),
        "peak_rss_ratio": round(large["full_peak_rss_mb"] / small["full_peak_rss_mb"], 3),
        "growth_mb_per_input_mb": round(
            (large["full_peak_rss_mb"] - small["full_peak_rss_mb"])
            / max(large["input_mb"] - small["input_mb"], 1e-9),
            3,
        ),
        "goal_peak_rss_under_1GiB": all(f["full_peak_rss_mb"] < 1024 for f in sizes),
    }
    print(
        f"input x{summary['input_ratio']} -> peak RSS x{summary['peak_rss_ratio']} "
        f"({summary['growth_mb_per_input_mb']} MB of RSS per MB of input)"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
