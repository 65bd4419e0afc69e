"""``bench/poisoning.py --ingest``: the poisoning screen measured through the real ingestion.

Each corpus (the same tickets as the direct mode, with their ``source`` and ``timestamp``
fields in the JSONL, which ingestion takes as each record's provenance) is uploaded as an encrypted blob
and ingested by the ingestion task's own function (``datasets_app.tasks.ingest_dataset``:
parse, clean, PII detection and its consistency pass, the screen, findings and risk flags
into the database, encrypted records and evidence blobs) on a fresh SQLite database in a
throw-away data dir. Recall and false positives are read back from the ``RiskFlag`` rows.

Cost: on the 1% corpus, the whole ingestion with the screen (``screen`` option on) and
without it (off), ``--repeats`` times each, interleaved, fastest run of each counted (CPU
seconds of this process, and wall seconds); the screen's added time is the difference.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

RATES = (0.005, 0.01, 0.02)


def setup_django(data_dir: Path) -> None:
    os.environ.update(
        SOBERANA_ENV="development",
        SOBERANA_DEBUG="0",  # DEBUG would keep every SQL statement in memory
        SOBERANA_DATA_DIR=str(data_dir),
        # No training queue here: the perplexity screen's message would go nowhere.
        SOBERANA_PERPLEXITY_SCREEN="0",
        DJANGO_SETTINGS_MODULE="platform_site.settings",
    )
    warnings.simplefilter("ignore")  # the "new master key, back it up" warning
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def jsonl_with_sources(tickets: list[Any]) -> bytes:
    """The corpus as uploaded: each line carries its ``source`` and ``timestamp`` (its
    provenance)."""
    lines = [json.dumps(ticket.record, ensure_ascii=False) for ticket in tickets]
    return ("\n".join(lines) + "\n").encode()


def _upload(data: bytes) -> Any:
    from datasets_app.uploads import RAW_BLOB, EncryptedUpload
    from vault import services as vault

    key, _ = vault.create_data_key("upload")
    vault.write_blob(key, RAW_BLOB, data)
    digest = hashlib.sha256(data).hexdigest()
    return EncryptedUpload("tickets.jsonl", "application/jsonl", len(data), digest, key)


class Bench:
    """A project, a steward and the warmed-up PII detector, for every ingestion of the run."""

    def __init__(self) -> None:
        from django.contrib.auth import get_user_model

        from accounts.models import Membership, Project
        from audit.services import Actor
        from datasets_app import ingestion, services
        from datasets_app.options import IngestOptions

        self.project = Project.objects.create(name="bench")
        user = get_user_model().objects.create_user("steward", "", "bench-Long-pw-1!")
        Membership.objects.create(project=self.project, user=user, role="steward")
        self.actor = Actor(user=user)
        services._enqueue_ingestion = lambda _id: None  # no broker: the task is called here
        detector = ingestion.detector_for(IngestOptions())
        detector.detect(["Warm up, Mark Scott (mark@example.com)."], ["en"])
        detector.detect(["Calentar, Juan Pérez (juan@example.com)."], ["es"])

    def ingest(self, data: bytes, *, screen: bool) -> tuple[Any, float, float]:
        """Ingest ``data``; returns the dataset and the wall and CPU seconds of the task."""
        from datasets_app import services
        from datasets_app.models import Dataset
        from datasets_app.options import IngestOptions
        from datasets_app.tasks import ingest_dataset

        dataset = services.create_dataset(
            self.actor,
            self.project,
            name="bench",
            upload=_upload(data),
            options=IngestOptions(screen=screen),
        )
        wall, cpu = time.perf_counter(), time.process_time()
        ingest_dataset(dataset.pk)
        elapsed = time.perf_counter() - wall, time.process_time() - cpu
        dataset = Dataset.objects.get(pk=dataset.pk)
        if dataset.status != "needs_review":
            raise SystemExit(f"ingestion ended {dataset.status}: {dataset.error}")
        return dataset, *elapsed


def flagged_tickets(dataset: Any) -> tuple[list[tuple[int, None]], dict[int, set[str]]]:
    """(kept ticket indices, detectors per ticket index) read back from the stored records
    (their ``source`` says the JSONL line) and the dataset's RiskFlag rows."""
    from datasets_app import ingestion
    from vault import services as vault

    ticket_of: list[int] = []
    with vault.open_blob(dataset.data_key, ingestion.RECORDS_BLOB) as stream:
        for line in stream:
            location = json.loads(line)["source"]
            ticket_of.append(int(location.rsplit(":", 1)[1]) - 1)
    flagged: dict[int, set[str]] = defaultdict(set)
    for index, detector in dataset.risk_flags.values_list("record_index", "detector"):
        flagged[ticket_of[index]].add(detector)
    return [(ticket, None) for ticket in ticket_of], flagged


def obfuscation_recall(tickets: list[Any], kept: list[tuple[int, None]], flagged: Any) -> dict:
    """Backdoor recall (by the backdoor detector, and by any) for plain and obfuscated
    triggers (case, punctuation, zero-width, homoglyph together)."""
    hits: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for index, _ in kept:
        ticket = tickets[index]
        if ticket.label != "backdoor":
            continue
        kind = "plain" if ticket.variant.endswith(":plain") else "obfuscated"
        found = flagged.get(index, set())
        hits[kind].append(("backdoor" in found, bool(found)))
    return {
        kind: {
            "records": len(rows),
            "backdoor": sum(b for b, _ in rows) / len(rows),
            "combined": sum(c for _, c in rows) / len(rows),
        }
        for kind, rows in sorted(hits.items())
    }


def run(records: int, seed: int, repeats: int) -> dict[str, Any]:
    """Every figure of the ``--ingest`` mode, printed as it comes."""
    import poisoning

    data_dir = Path(tempfile.mkdtemp(prefix="soberana-poison-bench-"))
    try:
        setup_django(data_dir)
        bench = Bench()
        figures: dict[str, Any] = {"mode": "ingest", "records_per_rate": records, "rates": {}}
        cost_input = b""
        for rate in RATES:
            tickets = poisoning.build(records, rate, seed)
            data = jsonl_with_sources(tickets)
            dataset, _, _ = bench.ingest(data, screen=True)
            kept, flagged = flagged_tickets(dataset)
            result = poisoning.measure(tickets, kept, flagged)
            result["obfuscation"] = obfuscation_recall(tickets, kept, flagged)
            result["notes"] = dataset.screen_summary.get("notes", [])
            figures["rates"][f"{rate:.3f}"] = result
            poisoning.print_rate(rate, result)
            print(
                "backdoor recall, plain vs obfuscated triggers: "
                + ", ".join(
                    f"{k} {v['backdoor']:.0%} of {v['records']} (any detector {v['combined']:.0%})"
                    for k, v in result["obfuscation"].items()
                )
            )
            if rate == 0.01:
                cost_input = data
        figures["cost"] = cost(bench, cost_input, repeats)
        return figures
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def cost(bench: Bench, data: bytes, repeats: int) -> dict[str, Any]:
    """The whole ingestion with and without the screen, fastest of ``repeats`` each."""
    runs: dict[str, list[tuple[float, float]]] = defaultdict(list)
    kept = 0
    for _ in range(repeats):
        for screen in (False, True):
            dataset, wall, cpu = bench.ingest(data, screen=screen)
            runs["with" if screen else "without"].append((wall, cpu))
            kept = dataset.record_count
    best = {mode: (min(w for w, _ in t), min(c for _, c in t)) for mode, t in runs.items()}
    (wall_off, cpu_off), (wall_on, cpu_on) = best["without"], best["with"]
    figures = {
        "records_kept": kept,
        "repeats": repeats,
        "without_screen_cpu_s": round(cpu_off, 3),
        "with_screen_cpu_s": round(cpu_on, 3),
        "without_screen_wall_s": round(wall_off, 3),
        "with_screen_wall_s": round(wall_on, 3),
        "screen_added_cpu": round(cpu_on / cpu_off - 1, 4),
        "screen_added_wall": round(wall_on / wall_off - 1, 4),
    }
    print(f"\n== ingestion of the 1% corpus ({kept} records kept), fastest of {repeats} ==")
    print(f"{'':<22}{'CPU s':>10}{'wall s':>10}{'ms/record (CPU)':>18}")
    for label, (wall, cpu_s) in (
        ("without the screen", best["without"]),
        ("with the screen", best["with"]),
    ):
        print(f"{label:<22}{cpu_s:>10.2f}{wall:>10.2f}{1000 * cpu_s / max(kept, 1):>18.3f}")
    print(
        f"the screen adds {figures['screen_added_cpu']:.1%} CPU, "
        f"{figures['screen_added_wall']:.1%} wall (goal <= 20%)"
    )
    return figures
