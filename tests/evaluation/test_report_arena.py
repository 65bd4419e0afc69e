"""The arena in the evaluation report: closed rounds only (win rates with Wilson 95% intervals,
the Bradley-Terry ranking with more than two models, Fleiss' kappa); an open round is never
named, in the report, the model card or the page."""

from __future__ import annotations

import json
from typing import Any

import pytest
from evaluation_versions import make_model_version

from audit.services import Actor
from evaluation import arena, report, stats
from evaluation.models import ArenaContestant, ArenaMatch, ArenaRound
from trainer.models import ModelVersion

pytestmark = pytest.mark.django_db
Z95 = 1.959963984540054


def _match(row: ArenaRound, a: ModelVersion, b: ModelVersion) -> ArenaMatch:
    first = ArenaContestant.objects.get(round=row, model_version=a)
    second = ArenaContestant.objects.get(round=row, model_version=b)
    return ArenaMatch.objects.create(round=row, contestant_a=first, contestant_b=second)


def _round(cast: Any, name: str, versions: list[ModelVersion]) -> ArenaRound:
    return arena.create_round(
        Actor(user=cast.engineer),
        cast.project.pk,
        name,
        model_versions=versions,
        voter_role="viewer",
        voters=[cast.steward],
    )


@pytest.fixture
def versions(approved_version: Any, tiny_base_model: Any) -> dict[str, ModelVersion]:
    names = ("xavier", "yvonne", "zora", "walter")
    return {n: make_model_version(approved_version, tiny_base_model, name=n) for n in names}


@pytest.fixture
def closed_round(cast: Any, versions: dict[str, ModelVersion]) -> ArenaRound:
    """Three models, four matches, two votes each (viewer, steward)."""
    x, y, z = versions["xavier"], versions["yvonne"], versions["zora"]
    row = _round(cast, "first round", [x, y, z])
    plan = [((x, y), "a", "a"), ((y, x), "b", "b"), ((x, z), "a", "tie"), ((y, z), "a", "a")]
    for (a, b), viewer, steward in plan:
        match = _match(row, a, b)
        arena.vote(Actor(user=cast.viewer), match, viewer)
        arena.vote(Actor(user=cast.steward), match, steward)
    return arena.close_round(Actor(user=cast.engineer), row)


@pytest.fixture
def open_round(cast: Any, versions: dict[str, ModelVersion]) -> ArenaRound:
    """Xavier against Walter, voted on but still open."""
    row = _round(cast, "secret round", [versions["xavier"], versions["walter"]])
    match = _match(row, versions["walter"], versions["xavier"])
    arena.vote(Actor(user=cast.viewer), match, "a")
    return row


def test_the_report_shows_a_closed_rounds_win_rates_ranking_and_kappa(
    versions: dict[str, ModelVersion], closed_round: ArenaRound
) -> None:
    section = report.build_report(versions["xavier"])["sections"]["arena"]
    [summary] = section["rounds"]
    assert (summary["round"], summary["models"], summary["votes"]) == (closed_round.pk, 3, 8)
    # Fleiss: rows a/b/tie/both_bad = [2,0,0,0] [0,2,0,0] [1,0,1,0] [2,0,0,0]: P = 3/4,
    # shares a 5/8, b 2/8, tie 1/8: P_e = 30/64, kappa = (48 - 30) / (64 - 30) = 9/17.
    assert summary["fleiss_kappa"] == pytest.approx(9 / 17)
    by_opponent = {row["opponent"].split(":")[-1]: row for row in section["win_rates"]}
    against_y, against_z = by_opponent["yvonne"], by_opponent["zora"]
    # 4 wins of 4 against Yvonne (two as A, two as B): Wilson's lower bound is 4 / (4 + z^2).
    assert (against_y["wins"], against_y["losses"], against_y["ties"]) == (4, 0, 0)
    assert against_y["win_rate"] == 1.0 and against_y["high"] == pytest.approx(1.0)
    assert against_y["low"] == pytest.approx(4 / (4 + Z95**2))
    # One win, one tie against Zora: 1.5 of 2.
    assert against_z["win_rate"] == pytest.approx(0.75)
    assert (against_z["low"], against_z["high"]) == pytest.approx(stats.wilson_interval(1.5, 2))
    ranking = [row["model"].split(":")[-1] for row in section["ranking"]]
    assert ranking == ["xavier", "yvonne", "zora"]


def test_the_loser_sees_its_side_of_the_pair(
    versions: dict[str, ModelVersion], closed_round: ArenaRound
) -> None:
    section = report.build_report(versions["yvonne"])["sections"]["arena"]
    by_opponent = {row["opponent"].split(":")[-1]: row for row in section["win_rates"]}
    assert (by_opponent["xavier"]["wins"], by_opponent["xavier"]["losses"]) == (0, 4)
    assert by_opponent["xavier"]["win_rate"] == 0.0
    assert by_opponent["xavier"]["high"] == pytest.approx(1 - 4 / (4 + Z95**2))
    assert by_opponent["zora"]["win_rate"] == 1.0


def test_an_open_round_is_never_named_in_the_report_card_or_page(
    cast: Any,
    client: Any,
    api_client_for: Any,
    versions: dict[str, ModelVersion],
    closed_round: ArenaRound,
    open_round: ArenaRound,
) -> None:
    xavier, walter = versions["xavier"], versions["walter"]
    assert "arena" not in report.build_report(walter)["sections"]  # in an open round only
    [summary] = report.build_report(xavier)["sections"]["arena"]["rounds"]
    assert summary["round"] == closed_round.pk
    viewer = api_client_for(cast.viewer)
    client.force_login(cast.viewer)
    for version in (xavier, walter):
        bodies = [
            viewer.get(f"/api/v1/evaluation-reports/{version.pk}/").content.decode(),
            viewer.get(f"/api/v1/evaluation-reports/{version.pk}/model-card.md/").content.decode(),
            client.get(f"/evaluation/reports/{version.pk}/").content.decode(),
        ]
        for body in bodies:
            assert "Model card" in body or "model_version" in body
            assert "secret round" not in body
        arena_rows = json.loads(bodies[0])["sections"].get("arena", {"win_rates": []})
        assert all("walter" not in row["opponent"] for row in arena_rows["win_rates"])
    card = report.to_markdown(report.build_report(xavier))
    assert "## Blind arena (closed rounds)" in card and "first round" in card
    arena.close_round(Actor(user=cast.engineer), open_round)  # once closed, it shows
    rounds = report.build_report(walter)["sections"]["arena"]["rounds"]
    assert [r["name"] for r in rounds] == ["secret round"]
