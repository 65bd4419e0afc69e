"""Runs a claimed training job: decrypt data, call the engine, record the model version.

The engine (``trainer.engine``) knows nothing of Django; this module adapts: it feeds the engine
the approved version's records, a reporter that writes progress to the job row (fenced by the
lease), and an encrypted checkpoint store under the job's data key.

One process (the default) trains in this worker process, on data decrypted in memory. Several
(``SOBERANA_TRAINING_PROCESSES``, capped by the job's ``max_processes``) train under torchrun:
the runner writes the engine's job file and the dataset, encrypted under the job's data key,
to the job's blob folder and ``trainer.launcher`` runs ``python -m trainer.engine`` in each
process, relaying rank 0's progress to the same reporter. Either way a succeeded job has its
model version stored and its evaluation queued as a task of its own (``trainer.evaluations``).
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from trainer import canaries, checkpoints, evaluations, launcher, services
from trainer import lease as leases
from trainer.engine import dp
from trainer.engine_io import (
    EngineProcessError,
    audit_decryption,
    engine_config,
    explain_failure,
    finite_json,
    iter_engine_records,
    load_training_data,
    no_training_records,
    open_checkpoint_store,
)
from trainer.lease import Heartbeat, Lease, LeaseLost
from trainer.models import JobStatus, ModelVersion, TrainingJob
from vault import services as vault

if TYPE_CHECKING:
    from trainer.engine.checkpoint import CheckpointStore
    from trainer.engine.config import TrainConfig

logger = logging.getLogger(__name__)
SHUTDOWN = threading.Event()
PROGRESS_KEYS = (
    "loss",
    "val_loss",
    "lr",
    "tokens_per_s",
    "eta_s",
    "gpu_mem_bytes",
    "total_steps",
    "epsilon",  # differential privacy: spent so far (dp.py)
)


class JobReporter:
    """The engine's reporter: progress to the job row, events to the job's history."""

    def __init__(self, lease: Lease, total_steps: int, processes: int = 1) -> None:
        self.lease = lease
        self.total_steps = total_steps
        self.processes = processes
        self.estimate: dict[str, Any] = {}
        self.lost = threading.Event()
        self._last_cancel_check = 0.0
        self._cancel = False

    def log(self, step: int, metrics: dict[str, float]) -> None:
        progress = {
            "step": step,
            "total_steps": int(metrics.get("total_steps", self.total_steps)),
            "estimate": self.estimate,
            "processes": self.processes,
        }
        progress.update({k: finite_json(metrics[k]) for k in PROGRESS_KEYS if k in metrics})
        if not leases.record_progress(self.lease, progress):
            self.lost.set()
            raise LeaseLost(f"job {self.lease.job_id}")
        services.add_event(
            self.lease.job_id,
            "metrics",
            f"step {step}",
            data={"step": step, **{k: finite_json(v) for k, v in metrics.items()}},
        )

    def event(self, kind: str, message: str) -> None:
        services.add_event(self.lease.job_id, kind, message)

    def should_stop(self) -> bool:
        if self.lost.is_set() or SHUTDOWN.is_set():
            return True
        now = time.monotonic()
        if now - self._last_cancel_check >= 1.0:
            self._last_cancel_check = now
            self._cancel = leases.cancel_requested(self.lease)
        return self._cancel


def training_processes(job: TrainingJob, config: TrainConfig) -> int:
    """How many processes train this job: what the worker offers (``TRAINING_PROCESSES``; 0 =
    one per visible GPU), capped by the job's ``max_processes``. A job resumed from checkpoints
    keeps the count that wrote them when this worker can offer it (the engine refuses another:
    the data position counts global batches)."""
    offered = settings.TRAINING_PROCESSES or _visible_gpus(config)
    wanted = min(offered, dp.process_limit(config) or offered)
    progress = job.progress or {}
    if not progress.get("step"):
        return wanted
    # Progress of runs from before the count was recorded comes from one process.
    previous = int(progress.get("processes") or 1)
    return previous if previous <= offered else wanted


def _visible_gpus(config: TrainConfig) -> int:
    """GPUs this worker was given (CUDA_VISIBLE_DEVICES), at least 1 (a CPU host: 1 process)."""
    if config.device == "cpu":
        return 1
    import torch

    return max(1, torch.cuda.device_count())


def run_claimed_job(lease: Lease) -> None:
    """Train a job this worker has claimed, store its model version and queue its evaluation.
    Never raises for job errors: they become a failed job with a reason a user can act on."""
    job = TrainingJob.objects.select_related(
        "dataset_version__data_key", "base_model", "data_key"
    ).get(pk=lease.job_id)
    config = engine_config(job)
    reporter = JobReporter(lease, config.max_steps, training_processes(job, config))
    reporter.estimate = (job.progress or {}).get("estimate", {})
    heartbeat = Heartbeat(f"job-{lease.job_id}", lambda: leases.renew_lease(lease), reporter.lost)
    heartbeat.start()
    previous_handler = _catch_sigterm()
    try:
        _train_and_record(job, config, lease, reporter)
    except LeaseLost:
        logger.warning("job %s: lease lost; another worker owns it now", job.pk)
    except Exception as exc:
        logger.exception("job %s failed", job.pk)
        detail = getattr(exc, "detail", "") or traceback.format_exc()
        leases.finish_job(
            lease, JobStatus.FAILED, error=explain_failure(exc), error_detail=detail[-20000:]
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


@dataclass(frozen=True)
class TrainOutcome:
    """Where training ended: at ``step``, early at a stop request or not."""

    step: int
    stopped: bool


def _train_and_record(
    job: TrainingJob, config: TrainConfig, lease: Lease, reporter: JobReporter
) -> None:
    store = open_checkpoint_store(job, config.keep_last)
    _announce_start(job, lease, store, reporter.processes)
    if reporter.processes > 1:
        outcome = _train_in_processes(job, config, reporter, store)
    else:
        outcome = _train_here(job, config, reporter, store)
    if outcome.stopped:
        _record_stop(job, lease, reporter, outcome.step)
        return
    version = _store_model_version(job, store)
    if not leases.record_success(lease, version):
        raise LeaseLost(f"job {job.pk}")
    services.add_event(job, "succeeded", "Training finished; evaluation queued.")
    evaluations.enqueue_evaluation(version.pk)


def _announce_start(job: TrainingJob, lease: Lease, store: CheckpointStore, processes: int) -> None:
    """Audit the decryption and record ``started`` or ``resumed`` (from the newest checkpoint)."""
    latest = store.latest()
    audit_decryption(
        job, "resume" if latest is not None else "train", latest.step if latest is not None else 0
    )
    on = f" on {processes} processes" if processes > 1 else ""
    if latest is not None:
        services.add_event(
            job,
            "resumed",
            f"Resumed from step {latest.step} (attempt {lease.attempt}){on}.",
            data={"step": latest.step, "processes": processes},
        )
    else:
        services.add_event(job, "started", f"Training started (attempt {lease.attempt}){on}.")


def _train_here(
    job: TrainingJob, config: TrainConfig, reporter: JobReporter, store: CheckpointStore
) -> TrainOutcome:
    """Train in this process on data decrypted in memory."""
    from trainer.engine import train

    data = load_training_data(job)
    data.train.extend(canaries.canary_records(job, config, data.train))
    result = train(config, data, reporter, store)
    return TrainOutcome(step=result.step, stopped=result.stopped)


def _record_stop(job: TrainingJob, lease: Lease, reporter: JobReporter, step: int) -> None:
    """A run stopped early: lease lost (stop at once), worker shutdown (back to the queue) or
    cancel (cancelled, checkpoint kept)."""
    if reporter.lost.is_set():
        raise LeaseLost(f"job {job.pk}")
    if SHUTDOWN.is_set() and not leases.cancel_requested(lease):
        leases.release_job(
            lease,
            f"The worker was stopped; the job is back in the queue and will resume from step "
            f"{step}.",
        )
        return
    leases.finish_job(lease, JobStatus.CANCELLED)
    services.add_event(job, "cancelled", f"Cancelled at step {step}; the last checkpoint was kept.")


# --- several processes: torchrun -------------------------------------------------------------

ENGINE_DATASET_BLOB = "engine-dataset.jsonl"
ENGINE_JOB_FILE = "engine-job.json"


def _train_in_processes(
    job: TrainingJob, config: TrainConfig, reporter: JobReporter, store: CheckpointStore
) -> TrainOutcome:
    """Train under torchrun over ``reporter.processes`` processes; see the module docstring."""
    job_file = write_engine_inputs(job, config)
    try:
        run = launcher.run_engine(
            job_file,
            vault.unwrap_data_key(job.data_key),
            reporter.processes,
            reporter,
            must_kill=reporter.lost.is_set,
        )
    finally:
        remove_engine_inputs(job)
    if run.killed or reporter.lost.is_set():
        raise LeaseLost(f"job {job.pk}")
    if run.stopped and run.summary is not None:
        return TrainOutcome(step=int(run.summary["step"]), stopped=True)
    if run.stopped:  # asked to stop, it died before its result line: the checkpoint says where
        latest = store.latest()
        return TrainOutcome(step=latest.step if latest is not None else 0, stopped=True)
    if not run.succeeded:
        reason = run.error or f"the training processes exited with status {run.returncode}"
        raise EngineProcessError(reason, run.stderr_tail)
    return TrainOutcome(step=int(run.summary["step"]), stopped=False)


def write_engine_inputs(job: TrainingJob, config: TrainConfig) -> Path:
    """Write the engine's job file and the dataset (records with their split, encrypted under
    the job's data key: the key the engine gets on stdin) to the job's blob folder; return the
    job file's path. Raises JobRequestError when there is nothing to train on."""
    train: list[dict[str, Any]] = []
    with vault.blob_writer(job.data_key, ENGINE_DATASET_BLOB) as writer:
        for record in iter_engine_records(job):
            if record["split"] == "train":
                train.append({k: v for k, v in record.items() if k != "split"})
            writer.write(json.dumps(record).encode() + b"\n")
        if train:  # the privacy audit's canaries: training split only, this file only
            for canary in canaries.canary_records(job, config, train):
                writer.write(json.dumps({**canary, "split": "train"}).encode() + b"\n")
    if not train:
        remove_engine_inputs(job)
        raise no_training_records()
    artifact = job.data_key.artifact_id
    spec = {
        "config": config.to_dict(),
        "dataset_path": str(vault.blob_path(job.data_key, ENGINE_DATASET_BLOB)),
        "dataset_artifact_id": artifact,
        "checkpoint_dir": str(checkpoints.checkpoint_dir(job)),
        "key_id": artifact,
        "artifact_id": artifact,
        "evaluate": False,  # evaluation is a task of its own
    }
    # Settings and paths only, no record data: it can be plain JSON.
    path = vault.blob_dir(job.data_key) / ENGINE_JOB_FILE
    path.write_text(json.dumps(spec))
    return path


def remove_engine_inputs(job: TrainingJob) -> None:
    """The dataset copy is only for the run (the version keeps the records)."""
    for name in (ENGINE_DATASET_BLOB, ENGINE_JOB_FILE):
        (vault.blob_dir(job.data_key) / name).unlink(missing_ok=True)


def _store_model_version(job: TrainingJob, store: CheckpointStore) -> ModelVersion:
    """Record the trained model (its metrics arrive with the evaluation task)."""
    version, _ = ModelVersion.objects.update_or_create(
        job=job,
        defaults={
            "project_id": job.project_id,
            "name": f"{job.base_model.name if job.base_model else 'scratch'}-{job.method}-job{job.pk}",
            "data_key": job.data_key,
            "artifact_dir": str(store.directory),
            "lineage": {
                "dataset_version": job.dataset_version_id,
                "dataset_content_hash": job.dataset_version.content_hash,
                "validation_version": job.validation_version_id,
                "base_model": job.base_model.name if job.base_model else None,
                "method": job.method,
                "hyperparameters": job.hyperparameters,
            },
            **_privacy_fields(store),
        },
    )
    return version


def _privacy_fields(store: CheckpointStore) -> dict[str, Any]:
    """The model version's DP columns from the final model's metadata (empty without DP)."""
    from trainer.engine.final_model import final_metadata

    privacy = (final_metadata(store).get("metrics") or {}).get("differential_privacy")
    if not privacy:
        return {"dp_epsilon": None, "dp_delta": None, "dp_accounting": {}}
    return {
        "dp_epsilon": privacy["epsilon"],
        "dp_delta": privacy["delta"],
        "dp_accounting": finite_json(privacy),
    }
