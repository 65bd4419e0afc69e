"""The blind arena: no model identity before the round closes (API), answers encrypted,
votes attributed and audited, who may vote, results with intervals once closed."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from audit.services import Actor
from evaluation import arena
from evaluation.models import ArenaMatch

pytestmark = pytest.mark.django_db
NAMES = ("tiny-alpha", "tiny-beta")


@pytest.fixture
def arena_round(cast: Any, tiny_model_dir: Any) -> Any:
    from trainer.base_models import register_base_model

    bases = [register_base_model(name, tiny_model_dir) for name in NAMES]
    return arena.create_round(
        Actor(user=cast.engineer),
        cast.project.pk,
        "blind",
        base_models=bases,
        voter_role="viewer",
        voters=[cast.steward],
    )


def _leaks(body: str, bases: Any) -> list[str]:
    found = [name for name in NAMES if name in body]
    return found + [f"base:{b}" for b in ("alpha", "beta") if f"base:tiny-{b}" in body]


def test_the_api_names_no_model_before_the_round_is_closed(
    cast: Any, api_client_for: Any, arena_round: Any
) -> None:
    viewer = api_client_for(cast.viewer)
    created = viewer.post(
        "/api/v1/arena-matches/", {"round": arena_round.pk, "prompt": "Say hello"}, format="json"
    )
    assert created.status_code == 201, created.content
    match_id = created.json()["id"]
    assert set(created.json()) == {"id", "round", "prompt", "a", "b"}
    bodies = [
        created.content,
        viewer.get(f"/api/v1/arena-matches/{match_id}/").content,
        viewer.get(f"/api/v1/arena-rounds/{arena_round.pk}/").content,
        viewer.get("/api/v1/arena-rounds/").content,
    ]
    assert all(not _leaks(body.decode(), NAMES) for body in bodies)
    assert viewer.get(f"/api/v1/arena-rounds/{arena_round.pk}/results/").status_code == 409
    from vault.services import blob_path

    stored = blob_path(arena_round.data_key, f"match-{match_id}.json").read_bytes()
    assert b"Say hello" not in stored
    vote = viewer.post(
        f"/api/v1/arena-matches/{match_id}/vote/",
        {"choice": "a", "comment": "clearer"},
        format="json",
    )
    assert vote.status_code == 201
    assert AuditEvent.objects.get(action="arena.vote").actor == cast.viewer
    steward = api_client_for(cast.steward)  # a named voter
    assert (
        steward.post(
            f"/api/v1/arena-matches/{match_id}/vote/", {"choice": "a"}, format="json"
        ).status_code
        == 201
    )
    engineer = api_client_for(cast.engineer)  # neither the role nor named
    refused = engineer.post(
        f"/api/v1/arena-matches/{match_id}/vote/", {"choice": "b"}, format="json"
    )
    assert refused.status_code == 403
    assert AuditEvent.objects.filter(action="denied.arena_vote", actor=cast.engineer).exists()
    assert engineer.post(f"/api/v1/arena-rounds/{arena_round.pk}/close/").status_code == 200
    revealed = viewer.get(f"/api/v1/arena-matches/{match_id}/").json()
    assert {revealed["model_a"], revealed["model_b"]} == {f"base:{n}" for n in NAMES}
    results = viewer.get(f"/api/v1/arena-rounds/{arena_round.pk}/results/").json()
    [pair] = results["pairs"]
    assert pair["wins"] + pair["losses"] == 2 and pair["low"] <= pair["win_rate"] <= pair["high"]
    assert results["fleiss_kappa"] is not None


def test_answers_come_in_random_order(cast: Any, arena_round: Any) -> None:
    actor = Actor(user=cast.viewer)
    for _ in range(12):
        arena.create_match(actor, arena_round, "Hi", lambda c, p: c.label)
    firsts = {m.contestant_a.label for m in ArenaMatch.objects.filter(round=arena_round)}
    assert firsts == {f"base:{n}" for n in NAMES}  # P(one side always first) = 2 * 2**-12


def test_the_voting_page_names_no_model_before_the_round_is_closed(
    cast: Any, client: Any, arena_round: Any
) -> None:
    arena.create_match(Actor(user=cast.viewer), arena_round, "Hi", lambda c, p: "hello")
    client.force_login(cast.viewer)
    page = client.get(f"/evaluation/arena/{arena_round.pk}/")
    assert page.status_code == 200 and 'id="prompt"' in page.content.decode()
    assert not _leaks(page.content.decode(), NAMES)
