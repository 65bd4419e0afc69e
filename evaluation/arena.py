"""The blind A/B arena: rounds, matches (a prompt, two answers in random order), votes, and
results once the round is closed.

Anonymity: nothing a reviewer can read (``match_view``) names a model until the round is
closed; the pairing lives in ``ArenaMatch`` and only ``results`` and ``match_view`` of a
closed round reveal it. Prompts, answers and comments may quote data: they are stored
encrypted in the round's blobs. Every vote is attributed and audited.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.roles import Action
from accounts.services import PermissionDenied, membership_for, require
from audit.services import Actor, record_event
from datasets_app.models import DatasetStatus, DatasetVersion
from evaluation import stats
from evaluation.models import ArenaContestant, ArenaMatch, ArenaRound, ArenaVote, VoteChoice
from ops.errors import InvalidField, StateConflict
from trainer.models import BaseModel, ModelVersion
from vault import services as vault

Answer = Callable[[ArenaContestant, str], str]
MAX_NEW_TOKENS = 128


def create_round(
    actor: Actor,
    project_id: int,
    name: str,
    *,
    model_versions: list[ModelVersion] = (),  # type: ignore[assignment]
    base_models: list[BaseModel] = (),  # type: ignore[assignment]
    voter_role: str = "",
    voters: list[Any] = (),  # type: ignore[assignment]
) -> ArenaRound:
    """A round between at least two models of the project; who may vote is a role and/or
    named members of the project."""
    require(actor, project_id, Action.LAUNCH_JOB)
    if len(model_versions) + len(base_models) < 2:
        raise InvalidField("model_versions", "a round needs at least two models")
    if any(v.project_id != project_id for v in model_versions):
        raise InvalidField("model_versions", "every model version must belong to the project")
    if any(membership_for(user, project_id) is None for user in voters):
        raise InvalidField("voters", "every voter must be a member of the project")
    key, _ = vault.create_data_key("arena-round")
    with transaction.atomic():
        row = ArenaRound.objects.create(
            project_id=project_id,
            name=name,
            voter_role=voter_role,
            data_key=key,
            created_by=actor.user,
        )
        row.voters.set(voters)
        for version in model_versions:
            ArenaContestant.objects.create(round=row, model_version=version)
        for base in base_models:
            ArenaContestant.objects.create(round=row, base_model=base)
        record_event(
            actor, "arena_round.create", obj=row, details={"models": row.contestants.count()}
        )
    return row


def may_vote(user: Any, row: ArenaRound) -> bool:
    """Named voters, and members holding the round's voter role."""
    if row.voters.filter(pk=getattr(user, "pk", None)).exists():
        return True
    access = membership_for(user, row.project_id)
    return bool(row.voter_role and access is not None and row.voter_role in access.roles)


def _require_voter(actor: Actor, row: ArenaRound) -> None:
    if not may_vote(actor.user, row):
        record_event(
            actor,
            "denied.arena_vote",
            obj=row,
            outcome="denied",
            details={"project": row.project_id},
        )
        raise PermissionDenied("arena_vote")
    if row.closed:
        raise StateConflict("the round is closed")


def prompt_from_test_split(row: ArenaRound, version: DatasetVersion, field: str) -> str:
    """A prompt drawn at random (the OS's randomness) from the test split of ``version``, an
    approved dataset version of the round's project: the last user turn of a completion or
    chat record. InvalidField naming ``field`` when the version is of another project, not
    approved, or its test split holds no prompt."""
    from evaluation.harness.tasks import last_user_turn
    from evaluation.services import test_records

    if version.dataset.project_id != row.project_id:
        raise InvalidField(field, "not a dataset version of this round's project")
    if version.dataset.status != DatasetStatus.APPROVED:
        raise InvalidField(field, "the dataset is not approved")
    prompts = [p for r in test_records(version) if (p := last_user_turn(r))]
    if not prompts:
        raise InvalidField(field, "its test split holds no prompt (completion or chat records)")
    return random.SystemRandom().choice(prompts)


def create_match(actor: Actor, row: ArenaRound, prompt: str, answer: Answer) -> ArenaMatch:
    """Draw two different models at random, in random order, answer ``prompt`` with each
    (``answer``: ``generated_answer`` in production), store the text encrypted."""
    _require_voter(actor, row)
    if not prompt.strip():
        raise InvalidField("prompt", "the prompt is empty")
    first, second = random.SystemRandom().sample(list(row.contestants.all()), 2)
    texts = {"prompt": prompt, "a": answer(first, prompt), "b": answer(second, prompt)}
    with transaction.atomic():
        match = ArenaMatch.objects.create(
            round=row, contestant_a=first, contestant_b=second, created_by=actor.user
        )
        vault.write_blob(row.data_key, f"match-{match.pk}.json", json.dumps(texts).encode())
        record_event(actor, "arena_match.create", obj=match)
    return match


def generated_answer(contestant: ArenaContestant, prompt: str) -> str:
    """The contestant's greedy answer to ``prompt`` as a chat turn (the model loaded as the
    evaluation runner loads it)."""
    from evaluation.runner import load_base, load_version
    from serving.generation import chat_prompt_ids, generate
    from serving.sampling import SamplingParams

    loaded = (
        load_version(contestant.model_version)
        if contestant.model_version_id
        else load_base(contestant.base_model)
    )
    ids = chat_prompt_ids(loaded.tokenizer, [{"role": "user", "content": prompt}])
    return generate(loaded, ids, SamplingParams(temperature=0.0), MAX_NEW_TOKENS).text


def match_texts(match: ArenaMatch) -> dict[str, str]:
    """The match's ``prompt`` and answers ``a`` and ``b``, decrypted from the round's blob."""
    texts: dict[str, str] = json.loads(
        vault.read_blob(match.round.data_key, f"match-{match.pk}.json")
    )
    return texts


def match_view(match: ArenaMatch) -> dict[str, Any]:
    """What a reviewer sees: the prompt and answers A and B; the models only once closed."""
    view = {"id": match.pk, "round": match.round_id, **match_texts(match)}
    if match.round.closed:
        view["model_a"] = match.contestant_a.label
        view["model_b"] = match.contestant_b.label
    return view


def vote(actor: Actor, match: ArenaMatch, choice: str, comment: str = "") -> ArenaVote:
    """Record the actor's one vote on ``match`` (attributed, audited, comment encrypted)."""
    _require_voter(actor, match.round)
    if choice not in VoteChoice.values:
        raise InvalidField("choice", f"one of {', '.join(VoteChoice.values)}")
    if ArenaVote.objects.filter(match=match, voter=actor.user).exists():
        raise StateConflict("you already voted on this match")
    with transaction.atomic():
        row = ArenaVote.objects.create(
            match=match, voter=actor.user, choice=choice, has_comment=bool(comment.strip())
        )
        if row.has_comment:
            blob = f"vote-{row.pk}.json"
            vault.write_blob(match.round.data_key, blob, json.dumps(comment).encode())
        record_event(actor, "arena.vote", obj=row, details={"match": match.pk, "choice": choice})
    return row


def close_round(actor: Actor, row: ArenaRound) -> ArenaRound:
    require(actor, row.project_id, Action.LAUNCH_JOB, obj=row)
    with transaction.atomic():
        if not ArenaRound.objects.filter(pk=row.pk, closed=False).update(
            closed=True, closed_at=timezone.now()
        ):
            raise StateConflict("the round is already closed")
        record_event(actor, "arena_round.close", obj=row)
    row.refresh_from_db()
    return row


def results(row: ArenaRound) -> dict[str, Any]:
    """Win rates with 95% intervals for each pair that met ("both bad" counts as a tie),
    Bradley-Terry ratings when more than two models compete, and Fleiss' kappa over matches
    with two or more votes. Raises StateConflict while the round is open."""
    if not row.closed:
        raise StateConflict("results are shown once the round is closed")
    votes = list(
        ArenaVote.objects.filter(match__round=row).select_related(
            "match__contestant_a__model_version",
            "match__contestant_a__base_model",
            "match__contestant_b__model_version",
            "match__contestant_b__base_model",
        )
    )
    comparisons = [
        stats.Comparison(
            v.match.contestant_a.label,
            v.match.contestant_b.label,
            v.choice if v.choice in ("a", "b") else "tie",
        )
        for v in votes
    ]
    return {
        "votes": len(votes),
        "pairs": _pairs(comparisons),
        "ratings": _ratings(row, comparisons),
        "fleiss_kappa": _kappa(votes),
    }


def _pairs(comparisons: list[stats.Comparison]) -> list[dict[str, Any]]:
    tally: dict[tuple[str, str], list[int]] = {}
    for c in comparisons:
        x, y = sorted((str(c.a), str(c.b)))
        won = {"a": c.a, "b": c.b}.get(c.winner)
        counts = tally.setdefault((x, y), [0, 0, 0])
        counts[0 if won == x else 1 if won == y else 2] += 1
    rows = []
    for (x, y), (wins, losses, ties) in sorted(tally.items()):
        rate = stats.win_rate(wins, losses, ties)
        rows.append(
            {
                "model": x,
                "opponent": y,
                "wins": wins,
                "losses": losses,
                "ties": ties,
                "win_rate": rate.rate,
                "low": rate.low,
                "high": rate.high,
            }
        )
    return rows


def _ratings(row: ArenaRound, comparisons: list[stats.Comparison]) -> dict[str, float] | None:
    if row.contestants.count() <= 2 or not comparisons:
        return None
    strengths = stats.bradley_terry(comparisons, prior=1.0)
    return {str(k): v for k, v in stats.bradley_terry_ratings(strengths).items()}


def _kappa(votes: list[ArenaVote]) -> float | None:
    by_match: dict[int, list[str]] = {}
    for v in votes:
        by_match.setdefault(v.match_id, []).append(v.choice)
    rated = [labels for labels in by_match.values() if len(labels) >= 2]
    sizes = {len(labels) for labels in rated}
    if not rated or len(sizes) != 1:
        return None  # Fleiss' kappa needs the same number of ratings per item
    table = stats.fleiss_table(rated, VoteChoice.values)
    try:
        return stats.fleiss_kappa(table)
    except (ValueError, ZeroDivisionError):
        return None
