"""OpenAI objects of fine-tuning: ``fine_tuning.job``, its events and checkpoints."""

from __future__ import annotations

import json
from typing import Any

from datasets_app.models import DatasetStatus
from openai_api.methods import objective_of
from openai_api.models import FineTuneJob, FineTuneStatus
from openai_api.naming import file_id, job_id
from trainer import checkpoints
from trainer import services as trainer
from trainer.engine import registry
from trainer.models import ModelVersion


def _ts(value: Any) -> int | None:
    return int(value.timestamp()) if value else None


def status_of(job: FineTuneJob) -> str:
    """OpenAI's status: the training job's once submitted, else our own."""
    if job.status == FineTuneStatus.SUBMITTED and job.training_job is not None:
        return str(job.training_job.status)
    return str(job.status)


def _error(job: FineTuneJob) -> dict[str, Any] | None:
    if job.status == FineTuneStatus.FAILED:
        code, _, message = job.error.partition(": ")
        return {"code": code, "message": message or job.error, "param": job.error_param or None}
    training = job.training_job
    if training is not None and training.status == "failed":
        return {"code": "training_failed", "message": training.error, "param": None}
    return None


def _hyperparameters(job: FineTuneJob) -> dict[str, Any]:
    requested = job.requested_hyperparameters or {}
    shown = {
        name: requested.get(name, "auto")
        for name in ("n_epochs", "batch_size", "learning_rate_multiplier")
    }
    if job.training_job is not None:
        actual = job.training_job.hyperparameters
        default_lr = trainer.HYPERPARAMETER_DEFAULTS["learning_rate"]
        shown["batch_size"] = actual.get("batch_size", shown["batch_size"])
        shown["learning_rate_multiplier"] = round(
            actual.get("learning_rate", default_lr) / default_lr, 6
        )
        shown["max_steps"] = actual.get("max_steps")
    return shown


def _method_hyperparameters(job: FineTuneJob, shown: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's three plus the objective's own settings (``beta`` for ``dpo``), as
    requested or ``"auto"``, the way OpenAI shows ``method.dpo.hyperparameters``."""
    requested = job.requested_hyperparameters or {}
    objective = registry.objective(objective_of(job.method_type))
    return {**shown, **{name: requested.get(name, "auto") for name in objective.settings}}


def _metadata(job: FineTuneJob) -> dict[str, str] | None:
    """OpenAI's ``metadata`` (string values): the requested differential privacy and, once
    the model version exists, the epsilon and delta it achieved; None without DP."""
    requested = (job.requested_hyperparameters or {}).get("differential_privacy")
    if not requested:
        return None
    shown = {"differential_privacy": json.dumps(requested, sort_keys=True)}
    version = _model_version(job)
    if version is not None and version.dp_epsilon is not None:
        shown["differential_privacy_epsilon"] = f"{version.dp_epsilon:.6g}"
        shown["differential_privacy_delta"] = f"{version.dp_delta:.6g}"
    return shown


def _model_version(job: FineTuneJob) -> ModelVersion | None:
    if job.training_job_id is None:
        return None
    return ModelVersion.objects.filter(job_id=job.training_job_id).first()


def fine_tuning_job(job: FineTuneJob) -> dict[str, Any]:
    """The ``fine_tuning.job`` object."""
    training = job.training_job
    shown = _hyperparameters(job)
    method_params = {"hyperparameters": _method_hyperparameters(job, shown)}
    return {
        "id": job_id(job.pk),
        "object": "fine_tuning.job",
        "created_at": _ts(job.created_at),
        "error": _error(job),
        "fine_tuned_model": job.deployment.model_name if job.deployment else None,
        "finished_at": _ts(training.finished_at if training else job.finished_at),
        "hyperparameters": shown,
        "model": job.base_model.name if job.base_model else None,
        "organization_id": f"proj-{job.project_id}",
        "result_files": [],
        "seed": job.seed,
        "status": status_of(job),
        "trained_tokens": None,
        "training_file": file_id(job.training_file_id),
        "validation_file": file_id(job.validation_file_id) if job.validation_file_id else None,
        "estimated_finish": None,
        "integrations": [],
        "metadata": _metadata(job),
        "user_provided_suffix": job.suffix or None,
        "method": {"type": job.method_type, job.method_type: method_params},
        "soberana": {
            "training_job": training.pk if training else None,
            "method": job.method,
            "progress": training.progress if training else None,
        },
    }


def _event(
    eid: str,
    created: Any,
    level: str,
    message: str,
    kind: str = "message",
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "object": "fine_tuning.job.event",
        "id": eid,
        "created_at": _ts(created),
        "level": level if level in ("info", "warn", "error") else "warn",
        "message": message,
        "data": data or {},
        "type": kind,
    }


def events(job: FineTuneJob) -> list[dict[str, Any]]:
    """Events of the job, newest first: its file validation, then the training job's history
    (metrics events have type ``metrics``). No record text is ever part of an event."""
    found = [
        _event(
            f"ftevent-{job.pk}-0",
            job.created_at,
            "info",
            f"Created fine-tuning job: {job_id(job.pk)}",
        ),
        _event(
            f"ftevent-{job.pk}-1",
            job.created_at,
            "info",
            f"Validating training file: {file_id(job.training_file_id)}"
            + (
                f" and validation file: {file_id(job.validation_file_id)}"
                if job.validation_file_id
                else ""
            ),
        ),
    ]
    waiting = [
        name
        for name, dataset in (("training", job.training_file), ("validation", job.validation_file))
        if dataset is not None and dataset.status == DatasetStatus.NEEDS_REVIEW
    ]
    if job.status == FineTuneStatus.VALIDATING_FILES and waiting:
        found.append(
            _event(
                f"ftevent-{job.pk}-2",
                job.created_at,
                "info",
                f"Waiting for a data steward to review and approve the {' and '.join(waiting)} "
                f"file{'s' if len(waiting) > 1 else ''}.",
            )
        )
    if job.status == FineTuneStatus.FAILED:
        found.append(_event(f"ftevent-{job.pk}-3", job.finished_at, "error", job.error))
    if job.training_job is not None:
        for event in job.training_job.events.all():
            found.append(
                _event(
                    f"ftevent-{event.pk}",
                    event.created_at,
                    "warn" if event.level == "warning" else event.level,
                    event.message,
                    "metrics" if event.kind == "metrics" else "message",
                    event.data,
                )
            )
    found.reverse()
    return found


def page(items: list[dict[str, Any]], after: str | None, limit: int) -> tuple[list, bool]:
    """Items following the one whose id is ``after``, at most ``limit``; and has_more."""
    if after:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    return items[:limit], len(items) > limit


def checkpoint_objects(job: FineTuneJob) -> list[dict[str, Any]]:
    """The kept checkpoints of the training job, newest first."""
    training = job.training_job
    if training is None:
        return []
    model = job.deployment.model_name if job.deployment else f"ft:{job_id(job.pk)}"
    found = []
    for info in checkpoints.list_checkpoints(training):
        found.append(
            {
                "object": "fine_tuning.job.checkpoint",
                "id": f"ftckpt-{job.pk}-{info['step']}",
                "created_at": _ts(training.finished_at or training.created_at),
                "fine_tuned_model_checkpoint": f"{model}:ckpt-step-{info['step']}",
                "fine_tuning_job_id": job_id(job.pk),
                "metrics": {
                    "step": info["step"],
                    "train_loss": info["train_loss"],
                    "valid_loss": info["val_loss"],
                },
                "step_number": info["step"],
            }
        )
    found.sort(key=lambda c: -c["step_number"])
    return found
