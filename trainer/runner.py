"""Runs a claimed training job in this worker: decrypt data in memory, call the engine, record.

The engine (``trainer.engine``) knows nothing of Django; this module adapts: it feeds the engine
the approved version's records, a reporter that writes progress to the job row (fenced by the
lease), and an encrypted checkpoint store under the job's data key.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import close_old_connections

from datasets_app.versioning import iter_version_records
from trainer import services
from trainer.models import JobStatus, ModelVersion, TrainingJob
from trainer.services import Lease, LeaseLost
from vault import services as vault

logger = logging.getLogger(__name__)
SHUTDOWN = threading.Event()
PROGRESS_KEYS = ("loss", "val_loss", "lr", "tokens_per_s", "eta_s", "gpu_mem_bytes", "total_steps")


class JobReporter:
    """The engine's reporter: progress to the job row, events to the job's history."""

    def __init__(self, lease: Lease, total_steps: int) -> None:
        self.lease = lease
        self.total_steps = total_steps
        self.estimate: dict[str, Any] = {}
        self.lost = threading.Event()
        self._last_cancel_check = 0.0
        self._cancel = False

    def log(self, step: int, metrics: dict[str, float]) -> None:
        progress = {
            "step": step,
            "total_steps": int(metrics.get("total_steps", self.total_steps)),
            "estimate": self.estimate,
        }
        progress.update({k: _finite(metrics[k]) for k in PROGRESS_KEYS if k in metrics})
        if not services.record_progress(self.lease, progress):
            self.lost.set()
            raise LeaseLost(f"job {self.lease.job_id}")
        services.add_event(
            self.lease.job_id,
            "metrics",
            f"step {step}",
            data={"step": step, **{k: _finite(v) for k, v in metrics.items()}},
        )

    def event(self, kind: str, message: str) -> None:
        services.add_event(self.lease.job_id, kind, message)

    def should_stop(self) -> bool:
        if self.lost.is_set() or SHUTDOWN.is_set():
            return True
        now = time.monotonic()
        if now - self._last_cancel_check >= 1.0:
            self._last_cancel_check = now
            self._cancel = services.cancel_requested(self.lease)
        return self._cancel


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None, recursively: JSON has no
    NaN, and PostgreSQL refuses it in a JSON column."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


class Heartbeat(threading.Thread):
    """Renews the lease while the engine works (model loading can take minutes between steps)."""

    def __init__(self, lease: Lease, reporter: JobReporter) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{lease.job_id}")
        self.lease = lease
        self.reporter = reporter
        self.stopped = threading.Event()

    def run(self) -> None:
        interval = max(1.0, settings.JOB_LEASE_SECONDS / 3)
        while not self.stopped.wait(interval):
            try:
                if not services.renew_lease(self.lease):
                    self.reporter.lost.set()
                    return
            except Exception:  # a transient database error must not kill the heartbeat
                logger.warning("heartbeat failed for job %s", self.lease.job_id, exc_info=True)
            finally:
                close_old_connections()


def load_training_data(job: TrainingJob) -> Any:
    """The approved version's records, decrypted into memory, split into train/val/test."""
    from trainer.engine import TrainData

    splits: dict[str, list[dict[str, Any]]] = {"train": [], "validation": [], "test": []}
    for record in iter_version_records(job.dataset_version):
        split = record.pop("split", "train")
        record.pop("lang", None)
        record.pop("source", None)
        splits.setdefault(split, []).append(record)
    if not splits["train"]:
        raise services.JobRequestError("dataset", "the dataset version has no training records")
    # A small dataset can hash no record into the test split: evaluate on validation instead
    # (the evaluation says which split it used).
    test = splits["test"] or splits["validation"]
    return TrainData(train=splits["train"], validation=splits["validation"], test=test)


def checkpoint_dir(job: TrainingJob) -> Path:
    return vault.blob_dir(job.data_key) / "checkpoints"


def run_claimed_job(lease: Lease) -> None:
    """Train, evaluate and record a job this worker has claimed. Never raises for job errors:
    they become a failed job with a reason a user can act on."""
    job = TrainingJob.objects.select_related(
        "dataset_version__data_key", "base_model", "data_key"
    ).get(pk=lease.job_id)
    config = services.build_engine_config(
        job.dataset_version, job.base_model, job.method, job.hyperparameters
    )
    reporter = JobReporter(lease, config.max_steps)
    reporter.estimate = (job.progress or {}).get("estimate", {})
    heartbeat = Heartbeat(lease, reporter)
    heartbeat.start()
    previous_handler = _catch_sigterm()
    try:
        _train_and_record(job, config, lease, reporter)
    except LeaseLost:
        logger.warning("job %s: lease lost; another worker owns it now", job.pk)
    except Exception as exc:
        logger.exception("job %s failed", job.pk)
        services.finish_job(
            lease,
            JobStatus.FAILED,
            error=explain_failure(exc),
            error_detail=traceback.format_exc()[-20000:],
        )
        services.add_event(job, "failed", explain_failure(exc), level="error")
    finally:
        heartbeat.stopped.set()
        _restore_sigterm(previous_handler)


def _catch_sigterm() -> object:
    """While a job runs, SIGTERM asks the engine to checkpoint and stop (the job then goes back
    to the queue) instead of killing the process mid-step."""
    if threading.current_thread() is not threading.main_thread():
        return None
    SHUTDOWN.clear()
    return signal.signal(signal.SIGTERM, lambda _signum, _frame: SHUTDOWN.set())


def _restore_sigterm(previous: object) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)  # type: ignore[arg-type]
        if SHUTDOWN.is_set():
            signal.raise_signal(signal.SIGTERM)  # let the process stop as it was asked to


def _train_and_record(job: TrainingJob, config: Any, lease: Lease, reporter: JobReporter) -> None:
    from trainer.engine import CheckpointStore, evaluate, train

    data = load_training_data(job)
    key = vault.unwrap_data_key(job.data_key)
    store = CheckpointStore(
        checkpoint_dir(job),
        data_key=key,
        key_id=job.data_key.artifact_id,
        artifact_id=job.data_key.artifact_id,
        keep_last=config.keep_last,
    )
    latest = store.latest()
    _audit_decryption(
        job, "resume" if latest is not None else "train", latest.step if latest is not None else 0
    )
    if latest is not None:
        services.add_event(
            job,
            "resumed",
            f"Resumed from step {latest.step} (attempt {lease.attempt}).",
            data={"step": latest.step},
        )
    else:
        services.add_event(job, "started", f"Training started (attempt {lease.attempt}).")
    result = train(config, data, reporter, store)
    if result.stopped:
        if reporter.lost.is_set():
            raise LeaseLost(f"job {job.pk}")
        if SHUTDOWN.is_set() and not services.cancel_requested(lease):
            services.release_job(
                lease,
                f"The worker was stopped; the job is back in the queue "
                f"and will resume from step {result.step}.",
            )
            return
        services.finish_job(lease, JobStatus.CANCELLED)
        services.add_event(
            job, "cancelled", f"Cancelled at step {result.step}; the last checkpoint was kept."
        )
        return
    services.add_event(job, "evaluating", "Training finished; evaluating on the test split.")
    _audit_decryption(job, "evaluate", result.step)
    metrics = evaluate(config, data, store, reporter)
    evaluation, samples = _split_samples(metrics)
    evaluation["split"] = "test" if job.dataset_version.split_counts.get("test") else "validation"
    _store_model_version(job, store, evaluation, samples)
    services.finish_job(lease, JobStatus.SUCCEEDED, evaluation=evaluation)
    services.add_event(job, "succeeded", "Training and evaluation finished.")


def _audit_decryption(job: TrainingJob, purpose: str, step: int) -> None:
    """Decrypting training data, checkpoints or the trained model is an audited access."""
    from audit.services import SYSTEM, record_event

    record_event(
        SYSTEM,
        "checkpoint.decrypt" if purpose != "train" else "dataset.decrypt",
        obj=job,
        details={"purpose": purpose, "step": step, "dataset_version": job.dataset_version_id},
    )


def _split_samples(metrics: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """Sample generations contain data: they are stored encrypted, never in the job row."""
    evaluation = _finite(dict(metrics))
    samples = evaluation.pop("samples", []) or []
    return evaluation, samples


def _store_model_version(job: TrainingJob, store: Any, evaluation: dict, samples: list) -> None:
    import json

    vault.write_blob(job.data_key, "samples.json", json.dumps(samples).encode())
    ModelVersion.objects.update_or_create(
        job=job,
        defaults={
            "project_id": job.project_id,
            "name": f"{job.base_model.name if job.base_model else 'scratch'}-{job.method}-job{job.pk}",
            "data_key": job.data_key,
            "artifact_dir": str(store.directory),
            "metrics": evaluation,
            "lineage": {
                "dataset_version": job.dataset_version_id,
                "dataset_content_hash": job.dataset_version.content_hash,
                "base_model": job.base_model.name if job.base_model else None,
                "method": job.method,
                "hyperparameters": job.hyperparameters,
            },
        },
    )


def explain_failure(exc: BaseException) -> str:
    """A reason a user can act on, from an exception raised while training."""
    from trainer.engine import ConfigError

    text = str(exc)
    if isinstance(exc, ConfigError | services.JobRequestError):
        return f"Invalid configuration: {text}"
    if isinstance(exc, MemoryError) or "out of memory" in text.lower():
        return (
            "The job ran out of memory. Lower batch_size or seq_len, enable "
            "gradient_checkpointing, or use LoRA instead of a full fine-tune."
        )
    if isinstance(exc, vault.KeyDestroyedError):
        return "The dataset behind this job was deleted and its data destroyed."
    return f"Training failed: {type(exc).__name__}: {text[:300]}"
