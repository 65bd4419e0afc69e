"""Helpers shared by the engine tests (imported by name: the test directory is on sys.path)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from trainer.engine import TrainConfig, TrainData

ROOT = Path(__file__).resolve().parents[3]

TEXTS = [
    f"Invoice {i}: the customer in Valencia paid {i * 7} euros for the quick brown fox service."
    * (1 + i % 3)
    for i in range(40)
]
QA = [{"prompt": f"What is {i} plus {i}?", "completion": f"It is {2 * i}."} for i in range(40)]
# Preference pairs: the right sum, briefly, over a wrong one with a hedge.
PAIRS = [
    {
        "prompt": f"What is {i} plus {i}?",
        "chosen": f"It is {2 * i}.",
        "rejected": f"It is {2 * i + 1}, I think.",
    }
    for i in range(40)
]


class RecordingReporter:
    """Reporter that records everything; stops after `stop_after` should_stop() calls, or raises
    `crash` on the given call (simulates a worker dying mid-run)."""

    def __init__(self, stop_after: int | None = None, crash_at: int | None = None) -> None:
        self.logs: list[tuple[int, dict[str, float]]] = []
        self.events: list[tuple[str, str]] = []
        self.calls = 0
        self.stop_after, self.crash_at = stop_after, crash_at

    def log(self, step: int, metrics: dict[str, float]) -> None:
        self.logs.append((step, dict(metrics)))

    def event(self, kind: str, message: str) -> None:
        self.events.append((kind, message))

    def should_stop(self) -> bool:
        self.calls += 1
        if self.crash_at is not None and self.calls == self.crash_at:
            raise RuntimeError("simulated worker crash")
        return self.stop_after is not None and self.calls > self.stop_after


def text_splits() -> TrainData:
    """Plain-text train / validation / test splits of TEXTS (the `text_data` fixture)."""
    return TrainData(
        train=[{"text": t} for t in TEXTS[:32]],
        validation=[{"text": t} for t in TEXTS[32:36]],
        test=[{"text": t} for t in TEXTS[36:]],
    )


# Unpaired answers marked good (the right sum) or bad (a wrong one with a hedge), for KTO.
ANSWERS = [
    {
        "prompt": f"What is {i} plus {i}?",
        "completion": f"It is {2 * i}." if i % 2 == 0 else f"It is {2 * i + 1}, I think.",
        "label": i % 2 == 0,
    }
    for i in range(40)
]


def answer_splits() -> TrainData:
    """Train / validation / test splits of ANSWERS."""
    return TrainData(train=ANSWERS[:30], validation=ANSWERS[30:34], test=ANSWERS[34:])


def pair_splits() -> TrainData:
    """Train / validation / test splits of PAIRS (the `pair_data` fixture)."""
    return TrainData(train=PAIRS[:30], validation=PAIRS[30:34], test=PAIRS[34:])


def make_small_config(model_dir: str | None, **overrides) -> TrainConfig:
    """A config that trains the tiny model in about a second (the `small_config` fixture)."""
    settings = dict(
        method="lora",
        base_model_dir=model_dir,
        max_steps=12,
        batch_size=2,
        seq_len=96,
        learning_rate=3e-3,
        eval_every=6,
        checkpoint_every=6,
        log_interval_s=0.0,
        scratch_vocab_size=320,
        device="cpu",
    )
    settings.update(overrides)
    return TrainConfig(**settings)


def launch_ranks(tmp: Path, spec: dict[str, Any], data_key: bytes, ranks: int = 2) -> dict:
    """Run torchrun_train.py over `ranks` gloo processes on `spec` (its docstring), the data
    key on rank 0's stdin; return what rank 0 wrote to spec["result"]."""
    (tmp / "spec.json").write_text(json.dumps(spec))
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    proc = subprocess.run(
        [
            torchrun,
            "--standalone",
            f"--nproc-per-node={ranks}",
            str(Path(__file__).with_name("torchrun_train.py")),
            str(tmp / "spec.json"),
        ],
        input=data_key.hex() + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT)),
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(Path(spec["result"]).read_text())
