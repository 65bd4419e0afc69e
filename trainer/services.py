"""Verbs on training jobs: validate and create, cancel, requeue, add to the history.

The worker side (claim, heartbeat, progress, finish), fenced by the lease, is
``trainer.lease``'s.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.roles import Action
from accounts.services import project_ids_allowing, require
from audit.services import Actor, record_event
from datasets_app.models import DatasetStatus, DatasetVersion
from ops.errors import InvalidField
from ops.signals import send_on_commit
from trainer import canaries, signals
from trainer.engine import dp, registry
from trainer.models import BaseModel, JobEvent, JobStatus, ModelVersion, TrainingJob
from vault import services as vault

if TYPE_CHECKING:
    from trainer.engine.config import TrainConfig

HYPERPARAMETER_DEFAULTS: dict[str, Any] = {
    "max_steps": 30,
    "learning_rate": 2e-4,
    "batch_size": 2,
    "seq_len": 256,
    "checkpoint_every": 10,
    "eval_every": 10,
    "lora_r": 8,
    "lora_alpha": 16,
    "keep_last": 2,
    "seed": 1234,
}


class JobRequestError(InvalidField):
    """A job request is invalid; ``field`` names the offending input."""


def visible_jobs(user: Any) -> QuerySet[TrainingJob]:
    """Jobs of projects the user belongs to."""
    ids = project_ids_allowing(user, Action.VIEW_PROJECT)
    return TrainingJob.objects.filter(project_id__in=ids)


def visible_model_versions(user: Any) -> QuerySet[ModelVersion]:
    """Model versions of projects the user belongs to."""
    ids = project_ids_allowing(user, Action.VIEW_PROJECT)
    return ModelVersion.objects.filter(project_id__in=ids)


def build_engine_config(
    version: DatasetVersion, base_model: BaseModel | None, method: str, hyperparameters: dict
) -> TrainConfig:
    """Validate a job request with the engine's own config; raise JobRequestError naming the field."""
    from trainer.engine import ConfigError, TrainConfig

    values = {**HYPERPARAMETER_DEFAULTS, **hyperparameters, "method": method}
    if "warmup_steps" not in hyperparameters:
        # A tenth of the run, so a short run never trips "warmup must be below max_steps".
        max_steps = values["max_steps"] if isinstance(values["max_steps"], int) else 0
        values["warmup_steps"] = max(0, min(100, max_steps // 10))
    values["base_model_dir"] = base_model.path if base_model else None
    values.setdefault("device", settings.TRAINING_DEVICE)
    try:
        # The job runs on a training worker, not here: what this web process's machine can do
        # (no GPU, no bitsandbytes in its image) says nothing about that.
        config = TrainConfig.from_dict(values, can_train_here=False)
        if base_model is not None:
            config.check_against_model(base_model.max_seq_len)
    except ConfigError as exc:
        field = "base_model" if exc.field == "base_model_dir" else exc.field
        raise JobRequestError(field, exc.message) from exc
    if registry.method(config.method).quantized and not qlora_worker_available():
        raise JobRequestError("method", QLORA_NO_WORKER)
    if version is not None:  # None: an OpenAI job validated before its file is approved
        check_record_kinds(config, version, "objective")
    return config


def check_record_kinds(config: TrainConfig, version: DatasetVersion, field: str) -> None:
    """JobRequestError(field) when the version holds records the config's objective cannot
    train on (preference pairs for a supervised job, plain examples for DPO, ...)."""
    problem = registry.record_kinds_error(config.objective, version.record_kinds or {})
    if problem:
        raise JobRequestError(field, problem)


QLORA_NO_WORKER = (
    "QLoRA needs a training worker with an NVIDIA GPU and bitsandbytes, and none has reported "
    "in the last 10 minutes; use method 'lora' (same adapters, a 16-bit base), or start the "
    "GPU worker (docker-compose's gpu-worker image has bitsandbytes)."
)
WORKER_CAPABILITIES_FRESH = timedelta(minutes=10)


def worker_capabilities(queues: list[str]) -> dict[str, Any]:
    """What a worker consuming `queues` can train, for its heartbeat: {} unless it takes the
    training queue (so ingestion workers never import PyTorch), else the CUDA devices it sees
    and whether QLoRA can run there."""
    if "training" not in queues:
        return {}
    import torch

    from trainer.engine.config import qlora_available

    device = settings.TRAINING_DEVICE
    gpus = torch.cuda.device_count() if device != "cpu" else 0
    return {
        "cuda_devices": gpus,
        "qlora": qlora_available(device),
        # What runner.training_processes offers a job on this worker (before max_processes).
        "processes": settings.TRAINING_PROCESSES or max(1, gpus),
    }


def _fresh_training_workers() -> list[dict[str, Any]]:
    """Capabilities of the training workers seen in the last 10 minutes."""
    from ops.models import WorkerHeartbeat

    recent = WorkerHeartbeat.objects.filter(
        queues__contains="training", last_seen__gte=timezone.now() - WORKER_CAPABILITIES_FRESH
    )
    return [row.capabilities for row in recent]


def qlora_worker_available() -> bool:
    """True when a training worker seen in the last 10 minutes can run QLoRA."""
    return any(caps.get("qlora") for caps in _fresh_training_workers())


def processes_for_estimate(config: TrainConfig) -> int:
    """Processes a job will train with, for the memory estimate: the fewest any fresh training
    worker offers (any of them may take the job), capped by its max_processes; 1 when none
    has reported."""
    offers = [int(caps["processes"]) for caps in _fresh_training_workers() if caps.get("processes")]
    offered = min(offers) if offers else 1
    return min(offered, dp.process_limit(config) or offered)


def estimate_job(config: TrainConfig, base_model: BaseModel | None) -> dict[str, Any]:
    """Peak memory and time of a configuration on the target device (engine's estimate).

    The target is ``SOBERANA_TARGET_GPU_MEMORY_GB`` (0: the CPU and this host's memory)."""
    from transformers import AutoConfig

    from trainer.engine import estimate_resources

    if base_model is None:
        return {}
    if not (Path(base_model.path) / "config.json").is_file():
        raise JobRequestError(
            "base_model",
            f"The files of base model {base_model.name!r} are "
            "missing on disk; ask an administrator to register it again.",
        )
    model_config = AutoConfig.from_pretrained(base_model.path, local_files_only=True)
    gpu_bytes = settings.TARGET_GPU_MEMORY_GB * 2**30 if settings.TARGET_GPU_MEMORY_GB else None
    estimate = estimate_resources(
        config, model_config, gpu_bytes, processes=processes_for_estimate(config)
    )
    estimate.pop("breakdown", None)
    return estimate


def _check_validation_version(version: DatasetVersion, other: DatasetVersion | None) -> None:
    if other is None:
        return
    if other.dataset.project_id != version.dataset.project_id:
        raise JobRequestError("validation_version", "must belong to the training data's project")
    if other.dataset.status == DatasetStatus.DELETED:
        raise JobRequestError(
            "validation_version", "the dataset was deleted and its data destroyed"
        )


def _checked_request(
    version: DatasetVersion,
    base_model: BaseModel | None,
    method: str,
    hyperparameters: dict[str, Any],
    validation_version: DatasetVersion | None,
) -> Any:
    """The engine config of a job request after every check ``create_job`` makes before
    writing (JobRequestError naming the field otherwise)."""
    if version.dataset.status == DatasetStatus.DELETED:
        raise JobRequestError("dataset", "the dataset was deleted and its data destroyed")
    _check_validation_version(version, validation_version)
    if base_model is None and registry.method(method).needs_base_model:
        raise JobRequestError("base_model", "a base model is required for this method")
    config = build_engine_config(version, base_model, method, hyperparameters)
    if validation_version is not None:
        check_record_kinds(config, validation_version, "validation_version")
    return config


def estimate_request(
    actor: Actor,
    version: DatasetVersion,
    *,
    base_model: BaseModel | None,
    method: str,
    hyperparameters: dict[str, Any],
    validation_version: DatasetVersion | None = None,
) -> dict[str, Any]:
    """What ``create_job`` would check and estimate for this request, writing nothing: the
    engine's estimate (peak_mem_bytes, fits, reason, est_seconds, trainable_params,
    total_params; {} from scratch) plus the ``max_steps`` it would run. Raises
    PermissionDenied (audited) for a caller who may not launch jobs, JobRequestError naming
    the field for an invalid request."""
    require(actor, version.dataset.project_id, Action.LAUNCH_JOB, obj=version.dataset)
    config = _checked_request(version, base_model, method, hyperparameters, validation_version)
    return {**estimate_job(config, base_model), "max_steps": config.max_steps}


def create_job(
    actor: Actor,
    version: DatasetVersion,
    *,
    base_model: BaseModel | None,
    method: str,
    hyperparameters: dict[str, Any],
    priority: int = 0,
    validation_version: DatasetVersion | None = None,
    privacy_audit: Any = None,
) -> TrainingJob:
    """Queue a training job on an approved dataset version, validated on ``validation_version``
    (another approved version of the same project) when given. ``privacy_audit`` (``{"canaries":
    bool}``, canaries on by default; ``trainer.canaries``) is validated, naming the field.
    Audited, refusals included (``job.refused``, naming the field); the message is sent on
    commit."""
    require(actor, version.dataset.project_id, Action.LAUNCH_JOB, obj=version.dataset)
    try:
        audit_settings = canaries.validate_privacy_audit(privacy_audit)
        config = _checked_request(version, base_model, method, hyperparameters, validation_version)
        estimate = estimate_job(config, base_model)
        if estimate and not estimate["fits"]:
            raise JobRequestError(
                "batch_size", f"This configuration will not fit: {estimate['reason']}."
            )
    except JobRequestError as exc:
        record_job_refusal(actor, version, method, hyperparameters, exc)
        raise
    with transaction.atomic():
        key, _ = vault.create_data_key("job", parent=version.data_key)
        job = TrainingJob.objects.create(
            project_id=version.dataset.project_id,
            dataset_version=version,
            validation_version=validation_version,
            base_model=base_model,
            method=method,
            hyperparameters=_public_hyperparameters(config),
            priority=priority,
            created_by=actor.user,
            data_key=key,
            progress={
                "step": 0,
                "total_steps": config.max_steps,
                "loss": None,
                "estimate": estimate,
            },
        )
        canaries.store_seed(job, audit_settings)
        add_event(job, "queued", "Job queued.", data={"privacy_audit": audit_settings})
        record_event(
            actor,
            "job.create",
            obj=job,
            details={
                "method": method,
                "dataset_version": version.pk,
                "validation_version": validation_version.pk if validation_version else None,
                "privacy_audit": audit_settings,
            },
        )
        transaction.on_commit(lambda: enqueue_job(job.pk))
    return job


def record_job_refusal(
    actor: Actor,
    version: DatasetVersion,
    method: str,
    hyperparameters: dict[str, Any],
    error: InvalidField,
) -> None:
    """Audit a refused job request (``job.refused``, outcome denied) on the dataset: the field
    and the reason, the method, and whether differential privacy was asked for, so that
    attempts to train without a guarantee the request asked for leave a trace. Values of the
    request are not copied (the reason may name a setting, never a record)."""
    record_event(
        actor,
        "job.refused",
        obj=version.dataset,
        outcome="denied",
        details={
            "field": error.field,
            "reason": error.message[:300],
            "method": str(method)[:40],
            "dataset_version": version.pk,
            "differential_privacy": bool(
                isinstance(hyperparameters, dict) and hyperparameters.get(dp.FIELD)
            ),
        },
    )


def _public_hyperparameters(config: Any) -> dict[str, Any]:
    values = config.to_dict()
    values.pop("base_model_dir", None)
    values.pop("method", None)
    return values


def enqueue_job(job_id: int) -> None:
    """Send the training message (ids only)."""
    from trainer.tasks import run_training_job

    run_training_job.delay(job_id)


def add_event(
    job: TrainingJob | int,
    kind: str,
    message: str,
    *,
    level: str = "info",
    data: dict[str, Any] | None = None,
) -> JobEvent:
    """Append a line to the job's history (no record text ever)."""
    job_id = job if isinstance(job, int) else job.pk
    return JobEvent.objects.create(
        job_id=job_id, kind=kind, message=message, level=level, data=data or {}
    )


def send_job_finished(job_id: int, status: str) -> None:
    """``job_finished`` for a job whose terminal status the caller's transaction writes."""
    job = TrainingJob.objects.get(pk=job_id)
    send_on_commit(signals.job_finished, sender=TrainingJob, job=job, status=str(status))


def pending_evaluation_deadline() -> Any:
    """When a pending evaluation's message counts as lost and is sent again. Ten leases, not
    one: the message usually waits behind a training job on the same queue, and re-sending it
    every lease would pile up duplicates (harmless, but noise)."""
    return timezone.now() + timedelta(seconds=10 * settings.JOB_LEASE_SECONDS)


# --- user side: cancel --------------------------------------------------------------------


def request_cancel(actor: Actor, job: TrainingJob) -> TrainingJob:
    """Cancel a job: a queued job stops at once; a running one within seconds, keeping its
    last checkpoint. Audited. Cancelling a finished job is a no-op."""
    require(actor, job.project_id, Action.CANCEL_JOB, obj=job)
    with transaction.atomic():
        if TrainingJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
            status=JobStatus.CANCELLED, finished_at=timezone.now()
        ):
            add_event(job, "cancelled", "Cancelled before it started.")
            send_job_finished(job.pk, JobStatus.CANCELLED)
        elif TrainingJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            cancel_requested=True
        ):
            add_event(job, "cancel_requested", "Cancellation requested; stopping at the next step.")
        record_event(actor, "job.cancel", obj=job)
    job.refresh_from_db()
    return job


# --- sweeper ------------------------------------------------------------------------------


def requeue_expired_jobs() -> list[int]:
    """Put running jobs whose lease expired back in the queue (or fail them after too many
    attempts). Returns the ids put back in the queue; the caller sends their messages."""
    now = timezone.now()
    requeued: list[int] = []
    expired = TrainingJob.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=now)
    for job in expired.only("pk", "attempts", "lease_owner"):
        if job.attempts >= settings.JOB_MAX_ATTEMPTS:
            _fail_exhausted(job)
            continue
        moved = TrainingJob.objects.filter(
            pk=job.pk,
            status=JobStatus.RUNNING,
            lease_owner=job.lease_owner,
            lease_expires_at__lt=now,
        ).update(status=JobStatus.QUEUED, lease_owner="", lease_expires_at=None)
        if moved:
            add_event(
                job,
                "requeued",
                f"The worker running attempt {job.attempts} stopped "
                "answering; the job is back in the queue and will resume from its last "
                "checkpoint.",
                level="warning",
            )
            requeued.append(job.pk)
    requeued.extend(_stale_queued_jobs(now))
    return requeued


def _fail_exhausted(job: TrainingJob) -> None:
    reason = (
        f"The job's worker stopped answering {job.attempts} times (for example it ran out "
        "of memory or the machine restarted). Try a smaller batch size or sequence length."
    )
    with transaction.atomic():
        if TrainingJob.objects.filter(
            pk=job.pk, lease_owner=job.lease_owner, status=JobStatus.RUNNING
        ).update(status=JobStatus.FAILED, error=reason, finished_at=timezone.now(), lease_owner=""):
            add_event(job, "failed", reason, level="error")
            send_job_finished(job.pk, JobStatus.FAILED)


def _stale_queued_jobs(now: Any) -> list[int]:
    """Queued jobs whose message may have been lost (or refused by the per-project limit)."""
    cutoff = now - timedelta(seconds=settings.JOB_LEASE_SECONDS)
    stale = TrainingJob.objects.filter(status=JobStatus.QUEUED).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff)
    )
    ids = list(stale.values_list("pk", flat=True)[:50])
    TrainingJob.objects.filter(pk__in=ids).update(heartbeat_at=now)
    return ids
