"""Judge runs: a project's own model grades answers (both orders for pairs); items encrypted."""

from __future__ import annotations

from typing import Any

import pytest

from audit.services import Actor
from evaluation import judging
from evaluation.models import JudgeRun, RunStatus
from ops.errors import InvalidField

pytestmark = pytest.mark.django_db
PAIRS = [
    {"request": "Capital of France?", "x": "Paris.", "y": "Berlin, the capital of Spain."},
    {"request": "2 + 2?", "x": "5", "y": "4"},
]


def _run(run: JudgeRun) -> JudgeRun:
    assert judging.claim_judge_run(run.pk) and not judging.claim_judge_run(run.pk)
    judging.run_claimed_judge(run.pk)
    run.refresh_from_db()
    return run


def test_pairs_are_judged_in_both_orders_by_the_tiny_model(cast: Any, tiny_base_model: Any) -> None:
    from vault.services import blob_path

    run = judging.create_judge_run(
        Actor(user=cast.engineer), cast.project.pk, "pairwise", PAIRS, base_model=tiny_base_model
    )
    assert b"Paris" not in blob_path(run.data_key, judging.ITEMS_BLOB).read_bytes()
    run = _run(run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert len(run.verdicts) == 2
    for verdict in run.verdicts:
        assert verdict["verdict"] in ("a", "b", "tie")
        assert verdict["p_x"] + verdict["p_y"] + verdict["p_tie"] == pytest.approx(1.0)
    assert run.summary["x"] + run.summary["y"] + run.summary["tie"] == 2
    assert 0.0 <= run.summary["consistent"] <= 1.0


def test_a_rubric_grades_from_one_to_five(cast: Any, tiny_base_model: Any) -> None:
    items = [{"request": "Greet the customer.", "answer": "Hello, how can I help?"}]
    run = judging.create_judge_run(
        Actor(user=cast.engineer),
        cast.project.pk,
        "rubric",
        items,
        criteria="Polite and short.",
        base_model=tiny_base_model,
    )
    run = _run(run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert 1 <= run.verdicts[0]["score"] <= 5 and 1 <= run.summary["mean_expected"] <= 5


def test_bad_items_and_missing_criteria_are_refused(cast: Any, tiny_base_model: Any) -> None:
    actor = Actor(user=cast.engineer)
    with pytest.raises(InvalidField, match="item 0 needs"):
        judging.create_judge_run(
            actor, cast.project.pk, "pairwise", [{"request": "x"}], base_model=tiny_base_model
        )
    with pytest.raises(InvalidField) as caught:
        judging.create_judge_run(
            actor,
            cast.project.pk,
            "rubric",
            [{"request": "a", "answer": "b"}],
            base_model=tiny_base_model,
        )
    assert caught.value.field == "criteria"


def test_the_api_queues_a_judge_run_and_hides_it_from_outsiders(
    cast: Any, api_client_for: Any, tiny_base_model: Any
) -> None:
    body = {"project": cast.project.pk, "mode": "pairwise", "items": PAIRS}
    body["base_model"] = tiny_base_model.pk
    created = api_client_for(cast.engineer).post("/api/v1/judge-runs/", body, format="json")
    assert created.status_code == 201 and created.json()["items"] == 2
    assert "Paris" not in created.content.decode()
    viewer = api_client_for(cast.viewer)
    assert viewer.post("/api/v1/judge-runs/", body, format="json").status_code == 403
    bad = api_client_for(cast.engineer).post(
        "/api/v1/judge-runs/", {**body, "items": "nope"}, format="json"
    )
    assert bad.status_code == 400 and "items" in bad.json()["error"]["detail"]
    assert (
        api_client_for(cast.outsider).get(f"/api/v1/judge-runs/{created.json()['id']}/").status_code
        == 404
    )
