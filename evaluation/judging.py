"""Judge runs: create (items stored encrypted), claim, grade with ``evaluation.judge``, record.

Pairwise items are judged in both orders (``judge.judge_pair``), which cancels the judge's
preference for a position; the summary counts verdicts and how many pairs the two orders
agreed on. Rubric items get the most likely grade and the probability-weighted grade.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.roles import Action
from accounts.services import require
from audit.services import SYSTEM, Actor, record_event
from evaluation import judge
from evaluation.models import JudgeMode, JudgeRun, RunStatus
from ops.errors import InvalidField
from trainer.engine_io import explain_failure
from trainer.models import BaseModel, ModelVersion
from vault import services as vault

logger = logging.getLogger(__name__)
ITEMS_BLOB = "items.json"
MAX_ITEMS = 2000
PAIR_FIELDS = ("request", "x", "y")
RUBRIC_FIELDS = ("request", "answer")


def check_items(mode: str, items: Any) -> list[dict[str, str]]:
    """The items as plain dicts of strings; InvalidField on ``items`` naming what is wrong."""
    fields = PAIR_FIELDS if mode == JudgeMode.PAIRWISE else RUBRIC_FIELDS
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise InvalidField("items", f"give a list of 1 to {MAX_ITEMS} items")
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not all(isinstance(item.get(f), str) for f in fields):
            raise InvalidField("items", f"item {index} needs the text fields {', '.join(fields)}")
    return [{f: item[f] for f in fields} for item in items]


def create_judge_run(
    actor: Actor,
    project_id: int,
    mode: str,
    items: Any,
    *,
    criteria: str = "",
    base_model: BaseModel | None = None,
    model_version: ModelVersion | None = None,
) -> JudgeRun:
    """Queue a judge run; the items are encrypted at once. The judge is one of the project's
    own models (a base model or a model version of the project)."""
    require(actor, project_id, Action.LAUNCH_JOB)
    if (base_model is None) == (model_version is None):
        raise InvalidField("model_version", "give exactly one of base_model or model_version")
    if model_version is not None and model_version.project_id != project_id:
        raise InvalidField("model_version", "the model version belongs to another project")
    if mode == JudgeMode.RUBRIC and not criteria.strip():
        raise InvalidField("criteria", "a rubric run needs criteria")
    checked = check_items(mode, items)
    key, _ = vault.create_data_key("judge-items")
    vault.write_blob(key, ITEMS_BLOB, json.dumps(checked).encode())
    with transaction.atomic():
        run = JudgeRun.objects.create(
            project_id=project_id,
            mode=mode,
            criteria=criteria,
            base_model=base_model,
            model_version=model_version,
            data_key=key,
            items=len(checked),
            created_by=actor.user,
        )
        record_event(
            actor, "judge_run.create", obj=run, details={"mode": mode, "items": len(checked)}
        )
        transaction.on_commit(lambda: enqueue_judge_run(run.pk))
    return run


def enqueue_judge_run(run_id: int) -> None:
    from evaluation.tasks import run_judge

    try:
        run_judge.delay(run_id)
    except Exception:  # kombu's connection errors have no common base worth naming
        logger.warning("could not send judge run %s", run_id, exc_info=True)


def claim_judge_run(run_id: int) -> bool:
    """``UPDATE ... WHERE status='queued'``: True for the one worker that won."""
    return (
        JudgeRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(status=RunStatus.RUNNING)
        == 1
    )


def run_claimed_judge(run_id: int) -> None:
    """Grade every item with the judge model and record verdicts; errors end it ``failed``."""
    # Imported here: loading models brings PyTorch, which the web process (this module serves
    # the judge-runs API) and ingestion workers must not load.
    from evaluation.runner import chat_renderer, load_base, load_version

    run = JudgeRun.objects.select_related("base_model", "model_version__data_key").get(pk=run_id)
    try:
        loaded = load_base(run.base_model) if run.base_model else load_version(run.model_version)
        items = json.loads(vault.read_blob(run.data_key, ITEMS_BLOB))
        render, scorer = chat_renderer(loaded.tokenizer), judge.model_scorer(loaded)
        verdicts = [_grade(run, item, render, scorer) for item in items]
        _finish(run, RunStatus.SUCCEEDED, verdicts=verdicts, summary=summarize(run.mode, verdicts))
    except Exception as exc:
        logger.exception("judge run %s failed", run_id)
        _finish(run, RunStatus.FAILED, error=explain_failure(exc, "Judging"))


def _grade(run: JudgeRun, item: dict[str, str], render: Any, scorer: Any) -> dict[str, Any]:
    if run.mode == JudgeMode.PAIRWISE:
        return asdict(judge.judge_pair(item["request"], item["x"], item["y"], render, scorer))
    graded = judge.judge_rubric(item["request"], item["answer"], run.criteria, render, scorer)
    return asdict(graded)


def summarize(mode: str, verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    """Pairwise: counts of x, y and tie verdicts and the share judged alike in both orders.
    Rubric: the mean grade and the mean probability-weighted grade."""
    n = len(verdicts)
    if mode == JudgeMode.PAIRWISE:
        counts = {v: sum(d["verdict"] == v for d in verdicts) for v in ("a", "b", "tie")}
        consistent = sum(bool(d["consistent"]) for d in verdicts) / n
        return {"x": counts["a"], "y": counts["b"], "tie": counts["tie"], "consistent": consistent}
    return {
        "mean_score": sum(d["score"] for d in verdicts) / n,
        "mean_expected": sum(d["expected"] for d in verdicts) / n,
    }


def _finish(run: JudgeRun, status: str, **fields: Any) -> None:
    with transaction.atomic():
        JudgeRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
            status=status, finished_at=timezone.now(), **fields
        )
        record_event(
            SYSTEM,
            f"judge_run.{status}",
            obj=run,
            outcome="error" if fields.get("error") else "allowed",
            details={"reason": fields["error"][:300]} if fields.get("error") else {},
        )
