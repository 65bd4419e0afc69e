"""Verbs on evaluation sets and runs: each authorizes, changes state atomically and writes
the audit row; messages go to the broker once the transaction commits (ids only).

Refusals raise ``ops.errors`` kinds (the API maps them): ``InvalidField`` naming the field
(a bundle refused names the file at fault), ``StateConflict``, ``PermissionDenied``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Project
from accounts.roles import Action
from accounts.services import project_ids_allowing, require
from audit.services import Actor, record_event
from datasets_app.models import DatasetStatus, DatasetVersion
from datasets_app.versioning import iter_version_records
from evaluation.harness.bundle import BundleRefused, read_bundle
from evaluation.harness.run import MetricChange, compare
from evaluation.harness.tasks import RecordsUnusable, task_from_records
from evaluation.models import (
    BUNDLE_BLOB,
    EvaluationRun,
    EvaluationSet,
    RunStatus,
    SetSource,
    TaskMetric,
)
from evaluation.results import task_results
from ops.errors import InvalidField, StateConflict
from trainer.models import BaseModel, ModelVersion
from vault import services as vault
from vault.models import DataKey

logger = logging.getLogger(__name__)


def visible_sets(user: Any) -> QuerySet[EvaluationSet]:
    """Evaluation sets of the projects where the user may see results."""
    ids = project_ids_allowing(user, Action.VIEW_RESULTS)
    return EvaluationSet.objects.filter(project_id__in=ids)


def visible_runs(user: Any) -> QuerySet[EvaluationRun]:
    """Evaluation runs of the projects where the user may see results."""
    ids = project_ids_allowing(user, Action.VIEW_RESULTS)
    return EvaluationRun.objects.filter(project_id__in=ids).select_related(
        "base_model", "model_version", "evaluation_set"
    )


# --- sets ---------------------------------------------------------------------------------


def _check_name(project: Project, name: str) -> None:
    if EvaluationSet.objects.filter(project=project, name=name).exists():
        raise InvalidField("name", f"the project already has an evaluation set named {name!r}")


def create_set_from_bundle(
    actor: Actor, project: Project, name: str, bundle_key: DataKey
) -> EvaluationSet:
    """An evaluation set from an lm-eval task bundle (a zip) already stored encrypted under
    ``bundle_key`` (blob ``BUNDLE_BLOB``, as the upload handler stores it), checked: no
    Python, lm-eval's built-in filters and metrics only. Uploading is a data action
    (``UPLOAD_DATA``). A refused bundle raises InvalidField on ``bundle`` naming the file at
    fault, audited; the caller discards the key then."""
    require(actor, project.pk, Action.UPLOAD_DATA, obj=project)
    _check_name(project, name)
    try:
        tasks = read_bundle(vault.read_blob(bundle_key, BUNDLE_BLOB))
    except BundleRefused as exc:
        _audit_refusal(actor, project, "bundle", str(exc))
        raise InvalidField("bundle", str(exc)) from exc
    summary = [{"name": t.name, "kind": "bundle", "rows": t.rows()} for t in tasks]
    return _store_set(actor, project, name, SetSource.BUNDLE, summary, data_key=bundle_key)


def create_set_from_dataset(actor: Actor, version: DatasetVersion, name: str) -> EvaluationSet:
    """An evaluation set over the test split of an approved dataset version: multiple
    choice when records carry ``choices``, generation scored by exact match, or perplexity
    for plain text. The records stay in the version's encrypted store."""
    project = version.dataset.project
    require(actor, project.pk, Action.LAUNCH_JOB, obj=version.dataset)
    _check_name(project, name)
    if version.dataset.status != DatasetStatus.APPROVED:
        raise StateConflict("the dataset is not approved")
    try:
        built = task_from_records(task_name(name), test_records(version), _plain_prompt)
    except (RecordsUnusable, ValueError) as exc:
        _audit_refusal(actor, project, "dataset_version", str(exc))
        raise InvalidField("dataset_version", str(exc)) from exc
    summary = [
        {"name": built.task.name, "kind": built.kind, "rows": built.used, "skipped": built.skipped}
    ]
    return _store_set(actor, project, name, SetSource.DATASET, summary, dataset_version=version)


def task_name(set_name: str) -> str:
    """An lm-eval task name made from an evaluation set's name."""
    cleaned = re.sub(r"[^A-Za-z0-9_.\-]+", "_", set_name).strip("_.-")
    return (cleaned or "records")[:100]


def test_records(version: DatasetVersion) -> list[dict[str, Any]]:
    """The version's test split, decrypted in memory (validation when it has no test)."""
    records = list(iter_version_records(version))
    test = [r for r in records if r.get("split") == "test"]
    return test or [r for r in records if r.get("split") == "validation"]


def _plain_prompt(messages: list[dict[str, str]]) -> str:
    """A model-free rendering, only to check records at creation (runs use the model's)."""
    return "\n".join(m["content"] for m in messages)


def _store_set(
    actor: Actor, project: Project, name: str, source: str, summary: list[Any], **fields: Any
) -> EvaluationSet:
    with transaction.atomic():
        row = EvaluationSet.objects.create(
            project=project,
            name=name,
            source=source,
            tasks=summary,
            created_by=actor.user,
            **fields,
        )
        record_event(
            actor,
            "evaluation_set.create",
            obj=row,
            details={"source": source, "tasks": len(summary)},
        )
    return row


def _audit_refusal(actor: Actor, project: Project, field: str, reason: str) -> None:
    record_event(
        actor,
        "evaluation_set.refused",
        obj=project,
        outcome="denied",
        details={"field": field, "reason": reason[:300]},
    )


# --- runs ---------------------------------------------------------------------------------


def create_run(
    actor: Actor,
    evaluation_set: EvaluationSet,
    *,
    base_model: BaseModel | None = None,
    model_version: ModelVersion | None = None,
    limit: int | None = None,
) -> EvaluationRun:
    """Queue the set on one model (a base model, or a model version of the same project)
    and send the message on commit."""
    require(actor, evaluation_set.project_id, Action.LAUNCH_JOB, obj=evaluation_set)
    if (base_model is None) == (model_version is None):
        raise InvalidField("model_version", "give exactly one of base_model or model_version")
    if model_version is not None and model_version.project_id != evaluation_set.project_id:
        raise InvalidField("model_version", "the model version belongs to another project")
    with transaction.atomic():
        run = EvaluationRun.objects.create(
            project_id=evaluation_set.project_id,
            evaluation_set=evaluation_set,
            base_model=base_model,
            model_version=model_version,
            limit=limit,
            created_by=actor.user,
        )
        record_event(actor, "evaluation_run.create", obj=run, details={"model": run.model_label})
        transaction.on_commit(lambda: enqueue_run(run.pk))
    return run


def enqueue_run(run_id: int) -> None:
    """Send the run's message (its id). A broker error is logged: the sweeper does not send
    queued runs again, so the run stays queued until sent by ``requeue`` or cancelled."""
    from evaluation.tasks import run_evaluation

    try:
        run_evaluation.delay(run_id)
    except Exception:  # kombu's connection errors have no common base worth naming
        logger.warning("could not send evaluation run %s", run_id, exc_info=True)


def cancel_run(actor: Actor, run: EvaluationRun) -> EvaluationRun:
    """Cancel a queued run at once; ask a running one to stop (its worker ends it)."""
    require(actor, run.project_id, Action.CANCEL_JOB, obj=run)
    with transaction.atomic():
        if run.is_terminal:
            raise StateConflict(f"the run is already {run.status}")
        queued = EvaluationRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED)
        if not queued.update(status=RunStatus.CANCELLED, finished_at=timezone.now()):
            EvaluationRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
                cancel_requested=True
            )
        record_event(actor, "evaluation_run.cancel", obj=run)
    run.refresh_from_db()
    return run


def store_metrics(run_id: int, results: list[Any]) -> None:
    """Write a run's per-task metrics (``harness.run.TaskResult``); replaces earlier ones."""
    TaskMetric.objects.filter(run_id=run_id).delete()
    TaskMetric.objects.bulk_create(
        TaskMetric(
            run_id=run_id,
            task=result.task,
            metric=metric.name,
            value=metric.value,
            stderr=metric.stderr,
            higher_is_better=metric.higher_is_better,
            samples=result.samples,
        )
        for result in results
        for metric in result.metrics
    )


# --- comparison ---------------------------------------------------------------------------


def comparison(base: EvaluationRun, tuned: EvaluationRun) -> list[dict[str, Any]]:
    """Every metric both succeeded runs measured, base against tuned, with ``forgot`` set
    when the tuned model is worse by more than the 95% band of the difference."""
    if base.evaluation_set_id != tuned.evaluation_set_id:
        raise InvalidField("base", "the two runs evaluated different sets")
    for field, run in (("base", base), ("run", tuned)):
        if run.status != RunStatus.SUCCEEDED:
            raise InvalidField(field, f"run {run.pk} has not succeeded (it is {run.status})")
    changes: list[MetricChange] = compare(task_results(base), task_results(tuned))
    return [asdict(change) for change in changes]
