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
"""

import argparse
import io
import json
import random
import resource
import subprocess
import sys
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


def run_baseline(size):
    stream = io.BufferedReader(GeneratedJsonl(size), buffer_size=1 << 16)
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


def child(mode, size):
    result = run_baseline(size) if mode == "baseline" else run_pipeline(size)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def measure(mode, size):
    command = [sys.executable, __file__, "--child", mode, "--size-bytes", str(size)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=2048)
    parser.add_argument("--quick", action="store_true", help="200 MB instead of --size-mb")
    parser.add_argument("--child", choices=["baseline", "pipeline"], help=argparse.SUPPRESS)
    parser.add_argument("--size-bytes", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.size_bytes)
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


if __name__ == "__main__":
    main()
