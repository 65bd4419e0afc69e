"""The judge over an arena round: it judges the matches people voted on (both orders), and its
agreement with their votes (Cohen's kappa, n) is reported next to its verdicts, in the API and
the report; below the minimum number of votes it says so instead of giving a kappa."""

from __future__ import annotations

from typing import Any

import pytest
from evaluation_versions import make_model_version

from audit.services import Actor
from evaluation import arena, judging, report
from evaluation.models import ArenaMatch, ArenaRound, JudgeRun, RunStatus
from ops.errors import StateConflict

pytestmark = pytest.mark.django_db

# The worked example: six matches, the judge's verdict on each, and two people's votes.
JUDGE = ["a", "a", "b", "b", "tie", "a"]
VIEWER = ["a", "a", "b", "b", "tie", "a"]
STEWARD = ["a", "b", "b", "both_bad", "a", "a"]
# Pairs (judge, person): 12, of which 9 agree (both_bad counts as tie): p_o = 9/12.
# Judge's labels a 6, b 4, tie 2; people's a 6, b 4, tie 2: p_e = (36 + 16 + 4) / 144.
# kappa = (108/144 - 56/144) / (1 - 56/144) = 52/88.
KAPPA = 52 / 88


@pytest.fixture
def voted_round(cast: Any, tiny_model_dir: Any) -> ArenaRound:
    """A closed round of six matches, each voted on by the viewer (by role) and the steward
    (named)."""
    from trainer.base_models import register_base_model

    bases = [register_base_model(name, tiny_model_dir) for name in ("tiny-alpha", "tiny-beta")]
    row = arena.create_round(
        Actor(user=cast.engineer),
        cast.project.pk,
        "judged",
        base_models=bases,
        voter_role="viewer",
        voters=[cast.steward],
    )
    for index in range(len(JUDGE)):
        match = arena.create_match(
            Actor(user=cast.viewer), row, f"Question {index}?", lambda c, p: f"{c.label} says"
        )
        arena.vote(Actor(user=cast.viewer), match, VIEWER[index])
        arena.vote(Actor(user=cast.steward), match, STEWARD[index])
    return arena.close_round(Actor(user=cast.engineer), row)


def _judged(cast: Any, row: ArenaRound, judge_model: Any) -> JudgeRun:
    run = judging.create_judge_run(
        Actor(user=cast.engineer),
        cast.project.pk,
        "pairwise",
        None,
        base_model=judge_model,
        arena_round=row,
    )
    assert judging.claim_judge_run(run.pk)
    judging.run_claimed_judge(run.pk)
    run.refresh_from_db()
    return run


def _set_verdicts(run: JudgeRun, verdicts: list[str]) -> None:
    """The worked example's verdicts in place of the tiny model's (same matches, same order)."""
    run.verdicts = [
        {**v, "verdict": verdict} for v, verdict in zip(run.verdicts, verdicts, strict=True)
    ]
    run.save(update_fields=["verdicts"])


def test_the_judge_judges_the_rounds_matches_in_both_orders(
    cast: Any, voted_round: ArenaRound, tiny_base_model: Any
) -> None:
    from vault.services import blob_path

    run = _judged(cast, voted_round, tiny_base_model)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.items == 6 and run.arena_round_id == voted_round.pk
    assert b"Question" not in blob_path(run.data_key, judging.ITEMS_BLOB).read_bytes()
    matches = list(ArenaMatch.objects.filter(round=voted_round).order_by("pk"))
    assert [v["match"] for v in run.verdicts] == [m.pk for m in matches]
    assert all(v["p_x"] + v["p_y"] + v["p_tie"] == pytest.approx(1.0) for v in run.verdicts)
    assert set(run.verdicts[0]) == {"match", "verdict", "p_x", "p_y", "p_tie", "consistent"}


def test_agreement_with_the_rounds_votes_is_cohens_kappa_of_the_worked_example(
    cast: Any, voted_round: ArenaRound, tiny_base_model: Any
) -> None:
    run = _judged(cast, voted_round, tiny_base_model)
    _set_verdicts(run, JUDGE)
    figures = judging.human_agreement(run)
    assert figures is not None
    assert figures["votes"] == 12 and figures["minimum_votes"] == judging.MIN_HUMAN_VOTES
    assert figures["agreement"] == pytest.approx(9 / 12)
    assert figures["kappa"] == pytest.approx(KAPPA)
    assert figures["note"] == ""
    assert judging.agreement_text(figures) == "kappa 0.59, 75% equal, n=12"


def test_below_the_minimum_votes_it_says_not_enough_votes(
    cast: Any, voted_round: ArenaRound, tiny_base_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _judged(cast, voted_round, tiny_base_model)
    monkeypatch.setattr(judging, "MIN_HUMAN_VOTES", 13)
    figures = judging.human_agreement(run)
    assert figures is not None and figures["votes"] == 12
    assert (figures["kappa"], figures["agreement"]) == (None, None)
    assert figures["note"] == "not enough votes"
    assert judging.agreement_text(figures) == "not enough votes (n=12 < 13)"


def test_a_run_over_given_items_reports_no_agreement(cast: Any, tiny_base_model: Any) -> None:
    items = [{"request": "2 + 2?", "x": "4", "y": "5"}]
    run = judging.create_judge_run(
        Actor(user=cast.engineer), cast.project.pk, "pairwise", items, base_model=tiny_base_model
    )
    assert judging.human_agreement(run) is None


def test_an_open_round_cannot_be_judged(
    cast: Any, tiny_model_dir: Any, tiny_base_model: Any
) -> None:
    from trainer.base_models import register_base_model

    bases = [register_base_model(name, tiny_model_dir) for name in ("tiny-alpha", "tiny-beta")]
    row = arena.create_round(
        Actor(user=cast.engineer), cast.project.pk, "open", base_models=bases, voter_role="viewer"
    )
    arena.create_match(Actor(user=cast.viewer), row, "Hi", lambda c, p: "hello")
    with pytest.raises(StateConflict, match="once it is closed"):
        judging.create_judge_run(
            Actor(user=cast.engineer),
            cast.project.pk,
            "pairwise",
            None,
            base_model=tiny_base_model,
            arena_round=row,
        )


def test_the_api_and_the_report_show_the_agreement_beside_the_verdicts(
    cast: Any,
    voted_round: ArenaRound,
    tiny_base_model: Any,
    api_client_for: Any,
    approved_version: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(judging, "enqueue_judge_run", lambda _id: None)
    engineer = api_client_for(cast.engineer)
    body = {"project": cast.project.pk, "mode": "pairwise", "base_model": tiny_base_model.pk}
    both = engineer.post(
        "/api/v1/judge-runs/", {**body, "items": [], "arena_round": voted_round.pk}, format="json"
    )
    assert both.status_code == 400
    rubric = engineer.post(
        "/api/v1/judge-runs/",
        {**body, "mode": "rubric", "criteria": "c", "arena_round": voted_round.pk},
        format="json",
    )
    assert rubric.status_code == 400 and "mode" in rubric.json()["error"]["detail"]
    created = engineer.post(
        "/api/v1/judge-runs/", {**body, "arena_round": voted_round.pk}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["arena_round"] == voted_round.pk and created.json()["items"] == 6
    assert created.json()["human_agreement"] is None  # not judged yet
    judging.claim_judge_run(created.json()["id"])
    judging.run_claimed_judge(created.json()["id"])
    _set_verdicts(JudgeRun.objects.get(pk=created.json()["id"]), JUDGE)

    shown = api_client_for(cast.viewer).get(f"/api/v1/judge-runs/{created.json()['id']}/")
    agreement = shown.json()["human_agreement"]
    assert agreement["votes"] == 12 and agreement["kappa"] == pytest.approx(KAPPA)
    assert "Question" not in shown.content.decode()

    version = make_model_version(approved_version, tiny_base_model)
    [row] = report.build_report(version)["sections"]["judge"]["runs"]
    assert row["arena_round"] == voted_round.pk and row["human_votes"] == 12
    assert row["kappa_vs_humans"] == pytest.approx(KAPPA)
    card = report.to_markdown(report.build_report(version))
    assert "kappa 0.59, 75% equal, n=12" in card
