"""The ingestion worker never loads PyTorch, and detects exactly what a process with it does.

PyTorch would add about 400 MB to every ingestion worker (thinc and Presidio import it when it
is installed; see datasets_app/pipeline/__init__.py), which is most of the 1 GiB budget for a
2 GiB upload. Each case runs in a fresh interpreter, as a Celery worker starts: Django set up,
every task module imported and Django's checks run (which import every view), then detection.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

TEXTS = [
    "Hi Mark, Mark Scott approved the refund; write to laura.gomez@example.com.",
    "Llame a Laura Gómez al +34 612 345 678, DNI 12345678Z, vive en Calle Mayor 5, Madrid.",
    "deploy failed: AKIAIOSFODNN7EXAMPLE password=hunter22 from 10.0.3.7",
]

SCRIPT = """
import json, sys
import django
django.setup()
from platform_site.celery import app
app.loader.import_default_modules()  # what a worker does when it starts
if sys.argv[1] == "torch-first":
    import torch, transformers  # noqa: F401, E401  (as in a serving process)
from datasets_app import ingestion
from datasets_app.options import IngestOptions
texts = json.loads(sys.argv[2])
found = ingestion.detector_for(IngestOptions()).detect(texts, ["en", "es", "en"])
print(json.dumps({
    "loaded": sorted(m for m in ("torch", "transformers") if sys.modules.get(m) is not None),
    "findings": [[[f.start, f.end, f.entity_type] for f in fs] for fs in found],
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec,
    # so under a big pytest process it would report the parent's peak.
    "peak_rss_mb": next(int(line.split()[1]) // 1024 for line in open("/proc/self/status")
                        if line.startswith("VmHWM:")),
}))
"""


def _worker(mode: str, tmp_path: Path) -> dict:
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="platform_site.settings",
        SOBERANA_ENV="test",
        SOBERANA_DATA_DIR=str(tmp_path / mode),
    )
    env.pop("PRESIDIO_DEVICE", None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode, json.dumps(TEXTS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_ingestion_worker_detects_without_loading_torch(tmp_path: Path) -> None:
    light = _worker("worker", tmp_path)
    assert light["loaded"] == []
    heavy = _worker("torch-first", tmp_path)
    assert heavy["loaded"] == ["torch", "transformers"]
    assert light["findings"] == heavy["findings"]
    assert all(light["findings"])  # every text had something to find
    assert light["peak_rss_mb"] < heavy["peak_rss_mb"] - 200
