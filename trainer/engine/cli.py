"""`python -m trainer.engine --config job.json` (also under `torchrun`).

job.json holds {"config": {TrainConfig fields}, "dataset_path": encrypted JSONL records with a
"split" field, "checkpoint_dir": ..., "key_id": ..., "artifact_id": ..., optional
"dataset_artifact_id" and "evaluate": bool}. The 32-byte data key is read as hex from stdin, never
from argv or a file; under torchrun only rank 0 reads it and sends it to the other ranks over the
process group. Progress goes to stdout as JSON lines (rank 0 only); SIGTERM / SIGINT make the run
checkpoint and exit cleanly.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

import torch

from envelope import EnvelopeError, read_encrypted_bytes

from .checkpoint import CheckpointError, CheckpointStore
from .config import ConfigError, TrainConfig
from .data import DataError, TrainData
from .distributed import DistContext, broadcast_bytes, init_process_group
from .evaluation import evaluate
from .loop import train
from .reporting import JsonLinesReporter

KEY_BYTES = 32


class SignalStopReporter(JsonLinesReporter):
    """JSON-lines reporter whose should_stop() turns True after SIGTERM or SIGINT."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self.stop_requested = False
        self._previous = {
            sig: signal.signal(sig, self._request_stop) for sig in (signal.SIGTERM, signal.SIGINT)
        }

    def _request_stop(self, signum: int, frame: object) -> None:
        self.stop_requested = True

    def should_stop(self) -> bool:
        return self.stop_requested

    def close(self) -> None:
        """Put back the signal handlers that were installed before."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class _QuietStopReporter(SignalStopReporter):
    """Non-zero ranks: silent, but still stoppable by signal."""

    def _emit(self, payload: dict[str, object]) -> None:
        pass


def read_key_from_stdin() -> bytes:
    """Read one line of hex from stdin; raises ValueError unless it is a 32-byte key."""
    line = sys.stdin.readline().strip()
    try:
        key = bytes.fromhex(line)
    except ValueError as exc:
        raise ValueError("stdin must carry the data key as hex") from exc
    if len(key) != KEY_BYTES:
        raise ValueError(f"the data key must be {KEY_BYTES} bytes ({2 * KEY_BYTES} hex digits)")
    return key


def load_job(path: Path) -> dict[str, Any]:
    """Read and check job.json; raises ConfigError naming the missing / bad entry."""
    try:
        job = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError("config", f"cannot read {path}: {exc}") from exc
    if not isinstance(job, dict):
        raise ConfigError("config", f"{path} does not hold a JSON object")
    for name in ("config", "dataset_path", "checkpoint_dir", "key_id", "artifact_id"):
        if name not in job:
            raise ConfigError(name, "missing from the job file")
    return job


def load_dataset(path: str, key: bytes, artifact_id: str | None) -> TrainData:
    """Decrypt (authenticating first) an encrypted JSONL dataset and split it. Raises DataError."""
    text = read_encrypted_bytes(path, key, artifact_id=artifact_id).decode("utf-8")
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except ValueError as exc:
                raise DataError(f"dataset line {number} is not JSON") from exc
    return TrainData.from_records(records)


def main(argv: list[str] | None = None) -> int:
    """Run one job; returns the exit status (0 done or stopped, 2 refused: config, data, key)."""
    parser = argparse.ArgumentParser(prog="python -m trainer.engine")
    parser.add_argument("--config", required=True, type=Path, help="job.json (module docstring)")
    args = parser.parse_args(argv)
    ctx = DistContext.from_env()
    reporter = SignalStopReporter() if ctx.is_main else _QuietStopReporter()
    try:
        summary = _run_job(args.config, ctx, reporter)
    except (ConfigError, DataError, CheckpointError, EnvelopeError, ValueError) as exc:
        reporter.event("error", f"{type(exc).__name__}: {exc}")
        return 2
    finally:
        reporter.close()
    if ctx.is_main:
        print(json.dumps(summary), flush=True)
    return 0


def _run_job(job_path: Path, ctx: DistContext, reporter: SignalStopReporter) -> dict[str, Any]:
    """Load job, key and data; train (and evaluate); return the JSON summary (no record data)."""
    job = load_job(job_path)
    cfg = TrainConfig.from_dict(job["config"])
    use_cuda = torch.cuda.is_available() and cfg.device != "cpu"
    device = torch.device("cuda", ctx.local_rank) if use_cuda else torch.device("cpu")
    init_process_group(ctx, device)
    key = broadcast_bytes(read_key_from_stdin() if ctx.is_main else None, ctx, device)
    data = load_dataset(job["dataset_path"], key, job.get("dataset_artifact_id"))
    store = CheckpointStore(
        job["checkpoint_dir"],
        key,
        key_id=job["key_id"],
        artifact_id=job["artifact_id"],
        keep_last=cfg.keep_last,
    )
    result = train(cfg, data, reporter, store)
    summary = {
        "type": "result",
        "step": result.step,
        "stopped": result.stopped,
        "early_stopped": result.early_stopped,
        "final_train_loss": result.final_train_loss,
        "best_val_loss": result.best_val_loss,
        "tokens_seen": result.tokens_seen,
    }
    if ctx.is_main and job.get("evaluate") and not result.stopped:
        metrics = evaluate(cfg, data, store, reporter)
        summary["perplexity"] = {
            name: (metrics[name] or {}).get("perplexity") for name in ("base", "tuned")
        }
    return summary
