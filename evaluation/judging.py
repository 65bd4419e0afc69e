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
from evaluation import arena, judge
from evaluation.models import ArenaRound, ArenaVote, JudgeMode, JudgeRun, RunStatus, VoteChoice
from ops.errors import InvalidField, StateConflict
from trainer.engine_io import explain_failure
from trainer.models import BaseModel, ModelVersion
from vault import services as vault

logger = logging.getLogger(__name__)
ITEMS_BLOB = "items.json"
MAX_ITEMS = 2000
PAIR_FIELDS = ("request", "x", "y")
RUBRIC_FIELDS = ("request", "answer")
# Below this many compared votes, kappa is too noisy to report (its standard error is
# around 0.25 at ten votes): the agreement says "not enough votes" and gives n only.
MIN_HUMAN_VOTES = 10
HUMAN_VERDICTS: dict[str, judge.Verdict] = {
    VoteChoice.A: "a",
    VoteChoice.B: "b",
    VoteChoice.TIE: "tie",
    VoteChoice.BOTH_BAD: "tie",  # neither answer won, as the arena's results count it
}
NOT_ENOUGH_VOTES = "not enough votes"


def check_items(mode: str, items: Any) -> list[dict[str, str]]:
    """The items as plain dicts of strings; InvalidField on ``items`` naming what is wrong."""
    fields = PAIR_FIELDS if mode == JudgeMode.PAIRWISE else RUBRIC_FIELDS
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise InvalidField("items", f"give a list of 1 to {MAX_ITEMS} items")
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not all(isinstance(item.get(f), str) for f in fields):
            raise InvalidField("items", f"item {index} needs the text fields {', '.join(fields)}")
    return [{f: item[f] for f in fields} for item in items]


def round_items(row: ArenaRound) -> list[dict[str, Any]]:
    """The matches of a closed round as pair items (prompt, answer A as x, answer B as y, the
    match id); InvalidField on ``arena_round`` for a round of no matches or too many."""
    matches = list(row.matches.select_related("round__data_key").order_by("pk"))
    if not 1 <= len(matches) <= MAX_ITEMS:
        raise InvalidField("arena_round", f"the round needs 1 to {MAX_ITEMS} matches")
    items: list[dict[str, Any]] = []
    for match in matches:
        texts = arena.match_texts(match)
        items.append(
            {"request": texts["prompt"], "x": texts["a"], "y": texts["b"], "match": match.pk}
        )
    return items


def _items_of(mode: str, items: Any, project_id: int, row: ArenaRound | None) -> list[Any]:
    if row is None:
        return check_items(mode, items)
    if items:
        raise InvalidField("items", "give items or an arena round, not both")
    if mode != JudgeMode.PAIRWISE:
        raise InvalidField("mode", "an arena round is judged pairwise")
    if row.project_id != project_id:
        raise InvalidField("arena_round", "the round belongs to another project")
    if not row.closed:
        raise StateConflict("judge a round once it is closed: its voters would see the verdicts")
    return round_items(row)


def create_judge_run(
    actor: Actor,
    project_id: int,
    mode: str,
    items: Any,
    *,
    criteria: str = "",
    base_model: BaseModel | None = None,
    model_version: ModelVersion | None = None,
    arena_round: ArenaRound | None = None,
) -> JudgeRun:
    """Queue a judge run; the items are encrypted at once. The judge is one of the project's
    own models (a base model or a model version of the project). With ``arena_round`` (a
    closed round of the project; ``items`` empty) the round's matches are the items."""
    require(actor, project_id, Action.LAUNCH_JOB)
    if (base_model is None) == (model_version is None):
        raise InvalidField("model_version", "give exactly one of base_model or model_version")
    if model_version is not None and model_version.project_id != project_id:
        raise InvalidField("model_version", "the model version belongs to another project")
    if mode == JudgeMode.RUBRIC and not criteria.strip():
        raise InvalidField("criteria", "a rubric run needs criteria")
    checked = _items_of(mode, items, project_id, arena_round)
    key, _ = vault.create_data_key("judge-items")
    vault.write_blob(key, ITEMS_BLOB, json.dumps(checked).encode())
    with transaction.atomic():
        run = JudgeRun.objects.create(
            project_id=project_id,
            mode=mode,
            criteria=criteria,
            base_model=base_model,
            model_version=model_version,
            arena_round=arena_round,
            data_key=key,
            items=len(checked),
            created_by=actor.user,
        )
        details = {"mode": mode, "items": len(checked), "arena_round": run.arena_round_id}
        record_event(actor, "judge_run.create", obj=run, details=details)
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


def _grade(run: JudgeRun, item: dict[str, Any], render: Any, scorer: Any) -> dict[str, Any]:
    if run.mode == JudgeMode.PAIRWISE:
        pair = asdict(judge.judge_pair(item["request"], item["x"], item["y"], render, scorer))
        return {"match": item["match"], **pair} if "match" in item else pair
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


def human_agreement(run: JudgeRun) -> dict[str, Any] | None:
    """The judge against the people who voted on the matches it judged: one (judge verdict,
    human vote) pair per vote, "both bad" counted as a tie. ``votes`` is n; ``kappa`` (Cohen's)
    and ``agreement`` (the share of equal verdicts) are None, with ``note`` "not enough votes",
    below ``MIN_HUMAN_VOTES``. None for a run that judged no arena round or has not succeeded.
    """
    if run.arena_round_id is None or run.status != RunStatus.SUCCEEDED:
        return None
    judged = {v["match"]: v["verdict"] for v in run.verdicts if "match" in v}
    votes = ArenaVote.objects.filter(match_id__in=judged).values_list("match_id", "choice")
    pairs = [(judged[match], HUMAN_VERDICTS[choice]) for match, choice in votes]
    figures: dict[str, Any] = {
        "arena_round": run.arena_round_id,
        "votes": len(pairs),
        "minimum_votes": MIN_HUMAN_VOTES,
    }
    result = judge.agreement_with_humans(pairs) if len(pairs) >= MIN_HUMAN_VOTES else None
    if result is None:
        return {**figures, "kappa": None, "agreement": None, "note": NOT_ENOUGH_VOTES}
    return {**figures, "kappa": result.kappa, "agreement": result.agreement, "note": ""}


def agreement_text(figures: dict[str, Any] | None) -> str:
    """One line for a table: "kappa 0.62, 75% equal, n=12" or "not enough votes (n=3 < 10)"."""
    if figures is None:
        return ""
    if figures["kappa"] is None:
        return f"{NOT_ENOUGH_VOTES} (n={figures['votes']} < {figures['minimum_votes']})"
    return f"kappa {figures['kappa']:.2f}, {figures['agreement']:.0%} equal, n={figures['votes']}"
