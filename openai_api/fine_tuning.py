"""Fine-tuning jobs in OpenAI's shape, mapped onto Soberana's training jobs.

A ``FineTuneJob`` is created at once (status ``validating_files``) and becomes a real
``TrainingJob`` (``trainer.services.create_job``, the creator's permissions) when its training
file is approved: by a data steward, or automatically when the project sets
``auto_approve_redaction``. When the training job's model version appears, it is deployed under
the job's ``fine_tuned_model`` name (the creator needs DEPLOY_MODEL, which every role that may
launch jobs has).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.roles import Action
from accounts.services import PermissionDenied, project_ids_allowing, require
from audit.services import SYSTEM, Actor, record_event
from datasets_app.models import Dataset, DatasetStatus
from openai_api.files import auto_approvable, auto_approve
from openai_api.methods import UNSUPPORTED_METHOD_TYPES, method_types, objective_of
from openai_api.models import FineTuneJob, FineTuneStatus
from openai_api.naming import file_id
from serving.naming import valid_suffix
from serving.services import DeploymentError, create_deployment
from trainer import services as trainer
from trainer.engine.registry import record_kinds_error
from trainer.models import BaseModel, ModelVersion

logger = logging.getLogger(__name__)
OPENAI_HYPERPARAMETERS = ("n_epochs", "batch_size", "learning_rate_multiplier")
DP_METADATA_KEY = "differential_privacy"  # the engine config's key (trainer/engine/dp.py)


class FineTuneRequestError(ValueError):
    """A fine-tuning request is invalid; ``param`` names the offending parameter."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


@dataclass(frozen=True)
class FineTuneRequest:
    """A validated ``POST /v1/fine_tuning/jobs`` body."""

    training_file: Dataset
    validation_file: Dataset | None
    base_model: BaseModel
    method: str
    method_type: str
    hyperparameters: dict[str, Any]
    suffix: str
    seed: int

    @property
    def objective(self) -> str:
        return objective_of(self.method_type)


def visible_fine_tunes(user: Any) -> QuerySet[FineTuneJob]:
    """Fine-tuning jobs of the projects the user belongs to, newest first."""
    ids = project_ids_allowing(user, Action.VIEW_PROJECT)
    return FineTuneJob.objects.filter(project_id__in=ids).select_related(
        "training_job", "base_model", "deployment", "training_file", "validation_file", "project"
    )


# --- request validation -------------------------------------------------------------------


def method_of(raw: Any) -> tuple[str, str, dict[str, Any]]:
    """(Soberana method, OpenAI method type, method hyperparameters) from ``method``:
    ``{"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1}}}`` as OpenAI takes it.
    FineTuneRequestError naming ``method`` (or the section) for anything else."""
    types = method_types()
    if raw is None:
        return types["supervised"][0], "supervised", {}
    if not isinstance(raw, dict):
        raise FineTuneRequestError("method", "must be an object with a 'type'")
    kind = raw.get("type")
    if isinstance(kind, str) and kind in UNSUPPORTED_METHOD_TYPES:
        raise FineTuneRequestError("method", UNSUPPORTED_METHOD_TYPES[kind])
    if not isinstance(kind, str) or kind not in types:
        raise FineTuneRequestError("method", f"type must be one of {', '.join(types)}")
    unknown = sorted(set(raw) - {"type", kind})
    if unknown:
        raise FineTuneRequestError(f"method.{unknown[0]}", f"not a setting of type {kind!r}")
    section = raw.get(kind) or {}
    if not isinstance(section, dict) or set(section) - {"hyperparameters"}:
        raise FineTuneRequestError(f"method.{kind}", "must be {'hyperparameters': {...}}")
    params = section.get("hyperparameters") or {}
    if not isinstance(params, dict):
        raise FineTuneRequestError(f"method.{kind}.hyperparameters", "must be an object")
    return types[kind][0], kind, dict(params)


def merge_hyperparameters(top: Any, from_method: dict[str, Any]) -> dict[str, Any]:
    """The requested hyperparameters: OpenAI's three (numbers or ``"auto"``) and, beyond
    OpenAI, any Soberana training setting (``max_steps``, ``seq_len``, ``lora_r`` …)."""
    if top is not None and not isinstance(top, dict):
        raise FineTuneRequestError("hyperparameters", "must be an object")
    merged = {**(top or {}), **from_method}
    for name in OPENAI_HYPERPARAMETERS:
        value = merged.get(name, "auto")
        if value != "auto" and (
            isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
        ):
            raise FineTuneRequestError(f"hyperparameters.{name}", "must be 'auto' or positive")
    return merged


def with_metadata_privacy(hyperparameters: dict[str, Any], metadata: Any) -> dict[str, Any]:
    """``hyperparameters`` with ``differential_privacy`` taken from OpenAI's ``metadata``
    too: metadata values are strings, so ``{"differential_privacy": "{\"target_epsilon\":
    8}"}`` (JSON text). It is the only metadata key this server acts on; any other is refused
    naming it (nothing else would be kept), as is a second, different, DP setting."""
    if metadata is None:
        return hyperparameters
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise FineTuneRequestError("metadata", "must be an object of strings")
    unknown = sorted(set(metadata) - {DP_METADATA_KEY})
    if unknown:
        raise FineTuneRequestError(
            f"metadata.{unknown[0]}", f"not kept by this server; only {DP_METADATA_KEY} is read"
        )
    if DP_METADATA_KEY not in metadata:
        return hyperparameters
    try:
        value = json.loads(metadata[DP_METADATA_KEY])
    except ValueError as exc:
        raise FineTuneRequestError(f"metadata.{DP_METADATA_KEY}", "must be JSON text") from exc
    given = hyperparameters.get(DP_METADATA_KEY)
    if given is not None and given != value:
        raise FineTuneRequestError(
            f"metadata.{DP_METADATA_KEY}", "differs from hyperparameters.differential_privacy"
        )
    return {**hyperparameters, DP_METADATA_KEY: value}


def native_hyperparameters(
    requested: dict[str, Any], train_records: int | None, seed: int, objective: str
) -> dict[str, Any]:
    """Soberana hyperparameters: ``n_epochs`` becomes ``max_steps`` over the training split
    (records / batch size per epoch), the multiplier scales the default learning rate, and
    the objective comes from ``method.type`` (never from the hyperparameters)."""
    if "objective" in requested:
        raise FineTuneRequestError("hyperparameters.objective", "set by method.type")
    native = {k: v for k, v in requested.items() if k not in OPENAI_HYPERPARAMETERS}
    native["objective"] = objective
    native.setdefault("seed", seed)
    batch = requested.get("batch_size", "auto")
    if batch != "auto":
        native["batch_size"] = int(batch)
    multiplier = requested.get("learning_rate_multiplier", "auto")
    if multiplier != "auto":
        native["learning_rate"] = trainer.HYPERPARAMETER_DEFAULTS["learning_rate"] * multiplier
    epochs = requested.get("n_epochs", "auto")
    if epochs != "auto" and "max_steps" not in native:
        batch_size = native.get("batch_size", trainer.HYPERPARAMETER_DEFAULTS["batch_size"])
        native["max_steps"] = max(1, math.ceil(epochs * (train_records or 1) / batch_size))
    return native


def _param_of(field: str, native: dict[str, Any]) -> str:
    """The request parameter behind an engine config field: the objective comes from
    ``method.type``, so DP refusing a preference objective names ``method``."""
    if field == "objective" and native.get(DP_METADATA_KEY):
        return "method"
    return f"hyperparameters.{field}"


def check_request(request: FineTuneRequest) -> None:
    """Validate the training settings with the engine's own config now, not when the file is
    approved; raises FineTuneRequestError naming the parameter."""
    if request.validation_file and request.validation_file.project_id != (
        request.training_file.project_id
    ):
        raise FineTuneRequestError("validation_file", "must belong to the training file's project")
    if not valid_suffix(request.suffix):
        raise FineTuneRequestError("suffix", "letters, digits, '-' and '_', at most 40 characters")
    native = native_hyperparameters(request.hyperparameters, 1, request.seed, request.objective)
    try:
        trainer.build_engine_config(None, request.base_model, request.method, native)
    except trainer.JobRequestError as exc:
        raise FineTuneRequestError(_param_of(exc.field, native), exc.message) from exc
    for param, dataset in (
        ("training_file", request.training_file),
        ("validation_file", request.validation_file),
    ):
        kinds = _record_kinds(dataset) if dataset else None
        problem = kinds and record_kinds_error(request.objective, kinds)
        if problem:  # a file still processing is checked when it is approved
            raise FineTuneRequestError(param, f"method {request.method_type!r}: {problem}")


def _record_kinds(dataset: Dataset) -> dict[str, int] | None:
    """The record shapes of a file: its approved version's, else what ingestion counted;
    None while it is still processing."""
    version = dataset.latest_version
    if version is not None:
        return dict(version.record_kinds or {})
    kinds = (dataset.pii_summary or {}).get("kinds")
    return dict(kinds) if isinstance(kinds, dict) else None


# --- verbs --------------------------------------------------------------------------------


def create_fine_tune(actor: Actor, request: FineTuneRequest) -> FineTuneJob:
    """Create a fine-tuning job; it starts once its training file is approved. Needs
    LAUNCH_JOB in the file's project. Audited."""
    project_id = request.training_file.project_id
    require(actor, project_id, Action.LAUNCH_JOB, obj=request.training_file)
    try:
        check_request(request)
    except FineTuneRequestError as exc:
        details = {"param": exc.param, "reason": exc.message[:300], "method": request.method}
        refused = "fine_tune.refused"
        record_event(actor, refused, obj=request.training_file, outcome="denied", details=details)
        raise
    with transaction.atomic():
        job = FineTuneJob.objects.create(
            project_id=project_id,
            created_by=actor.user,
            training_file=request.training_file,
            validation_file=request.validation_file,
            base_model=request.base_model,
            method=request.method,
            method_type=request.method_type,
            requested_hyperparameters=request.hyperparameters,
            suffix=request.suffix,
            seed=request.seed,
        )
        record_event(
            actor,
            "fine_tune.create",
            obj=job,
            details={
                "training_file": request.training_file.pk,
                "method": request.method,
                "base_model": request.base_model.name,
            },
        )
        transaction.on_commit(lambda: advance_fine_tune(job.pk))
    return job


def advance_fine_tunes_for_dataset(dataset_id: int) -> None:
    """Move on every job waiting for this file (as its training or validation file)."""
    waiting = FineTuneJob.objects.filter(
        Q(training_file_id=dataset_id) | Q(validation_file_id=dataset_id),
        status=FineTuneStatus.VALIDATING_FILES,
    ).values_list("pk", flat=True)
    for pk in list(waiting):
        advance_fine_tune(pk)


def advance_fine_tune(fine_tune_id: int) -> None:
    """Submit a waiting job once its training file (and validation file, if any) is approved;
    fail it when one of them failed or was deleted; approve the files first when the project
    allows it. Idempotent."""
    job = FineTuneJob.objects.filter(pk=fine_tune_id).first()
    if job is None or job.status != FineTuneStatus.VALIDATING_FILES:
        return
    files = {"training_file": _ready(job.training_file_id)}
    if job.validation_file_id:
        files["validation_file"] = _ready(job.validation_file_id)
    for param, dataset in files.items():
        if dataset.status in (DatasetStatus.FAILED, DatasetStatus.DELETED):
            _fail(
                job,
                f"invalid_{param}",
                param,
                f"The {param.replace('_', ' ')} {file_id(dataset.pk)} cannot be used: "
                f"{dataset.error or dataset.status}",
            )
            return
    if all(d.status == DatasetStatus.APPROVED for d in files.values()):
        _submit(job, files["training_file"], files.get("validation_file"))


def _ready(dataset_id: int) -> Dataset:
    """The dataset, approved first when its project approves fine-tune files by itself."""
    dataset = Dataset.objects.select_related("project").get(pk=dataset_id)
    if auto_approvable(dataset):
        auto_approve(dataset_id)
        dataset.refresh_from_db()
    return dataset


def _submit(job: FineTuneJob, dataset: Dataset, validation: Dataset | None) -> None:
    version = dataset.latest_version
    counts = (version.split_counts or {}) if version else {}
    # With a separate validation file, the training file's validation split trains too.
    records = counts.get("train", 0) + (counts.get("validation", 0) if validation else 0) or None
    native = native_hyperparameters(
        job.requested_hyperparameters, records, job.seed, objective_of(job.method_type)
    )
    try:
        with transaction.atomic():
            claimed = (
                FineTuneJob.objects.select_for_update()
                .filter(pk=job.pk, status=FineTuneStatus.VALIDATING_FILES)
                .exists()
            )
            if not claimed:
                return
            training = trainer.create_job(
                Actor(user=job.created_by),
                version,
                base_model=job.base_model,
                method=job.method,
                hyperparameters=native,
                validation_version=validation.latest_version if validation else None,
            )
            FineTuneJob.objects.filter(pk=job.pk).update(
                status=FineTuneStatus.SUBMITTED, training_job=training
            )
            record_event(
                SYSTEM,
                "fine_tune.submit",
                obj=job,
                details={"training_job": training.pk, "dataset_version": version.pk},
            )
    except trainer.JobRequestError as exc:
        _fail(job, "invalid_hyperparameters", f"hyperparameters.{exc.field}", exc.message)
    except PermissionDenied:
        _fail(
            job,
            "permission_denied",
            None,
            "The job's creator may no longer launch jobs in this project.",
        )


def _fail(job: FineTuneJob, code: str, param: str | None, message: str) -> None:
    with transaction.atomic():
        updated = FineTuneJob.objects.filter(
            pk=job.pk, status=FineTuneStatus.VALIDATING_FILES
        ).update(
            status=FineTuneStatus.FAILED,
            error=f"{code}: {message}",
            error_param=param or "",
            finished_at=timezone.now(),
        )
        if updated:
            record_event(SYSTEM, "fine_tune.fail", obj=job, outcome="error", details={"code": code})


def cancel_fine_tune(actor: Actor, job: FineTuneJob) -> FineTuneJob:
    """Cancel: a job still validating files stops at once; a submitted one is cancelled like
    any training job. Needs CANCEL_JOB. Audited."""
    require(actor, job.project_id, Action.CANCEL_JOB, obj=job)
    with transaction.atomic():
        stopped = FineTuneJob.objects.filter(
            pk=job.pk, status=FineTuneStatus.VALIDATING_FILES
        ).update(status=FineTuneStatus.CANCELLED, finished_at=timezone.now())
        record_event(actor, "fine_tune.cancel", obj=job, details={"before_start": bool(stopped)})
    job.refresh_from_db()
    if job.training_job is not None:
        trainer.request_cancel(actor, job.training_job)
        job.training_job.refresh_from_db()
    return job


def deploy_finished(version: ModelVersion) -> None:
    """Serve the model version of a finished fine-tuning job under its ``fine_tuned_model``
    name. Falls back to the job-id name when the suffix is taken. Never raises for a refusal."""
    job = FineTuneJob.objects.filter(
        training_job_id=version.job_id, deployment__isnull=True
    ).first()
    if job is None:
        return
    actor = Actor(user=job.created_by)
    try:
        try:
            deployment = create_deployment(actor, version, suffix=job.suffix)
        except DeploymentError:
            deployment = create_deployment(actor, version, suffix="")
    except (DeploymentError, PermissionDenied) as exc:
        trainer.add_event(
            version.job_id, "deploy_skipped", f"The model was not deployed: {exc}", level="warning"
        )
        return
    FineTuneJob.objects.filter(pk=job.pk).update(deployment=deployment)
    trainer.add_event(
        version.job_id,
        "deployed",
        f"Deployed as {deployment.model_name}.",
        data={"model": deployment.model_name},
    )
