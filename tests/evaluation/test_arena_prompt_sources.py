"""Arena prompts come typed, from an approved dataset version's test split, or from the test
split an evaluation set was built from; exactly one source, refused with a 400 naming it."""

from __future__ import annotations

from typing import Any

import pytest

from evaluation import arena
from tests.evaluation.test_arena import arena_round  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

QUESTIONS = [f"How do I reset router model R{i}?" for i in range(5)]


def _chat_version(cast: Any, make_approved_version: Any) -> Any:
    records = [
        {
            "kind": "messages",
            "messages": [
                {"role": "user", "content": question},
                {"role": "assistant", "content": "Hold the button for ten seconds."},
            ],
            "split": "test",
        }
        for question in QUESTIONS
    ]
    records.append({"kind": "text", "text": "A plain note, no prompt.", "split": "test"})
    records.append(
        {
            "kind": "prompt_completion",
            "prompt": "TRAINING ONLY",
            "completion": "x",
            "split": "train",
        }
    )
    return make_approved_version(cast.project, records, uploader=cast.steward)


def _post(client: Any, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/arena-matches/", body, format="json")


def test_a_prompt_drawn_from_a_test_split_is_one_of_its_questions(
    cast: Any,
    api_client_for: Any,
    arena_round: Any,  # noqa: F811
    approved_version_of: Any,
) -> None:
    version = _chat_version(cast, approved_version_of)
    created = _post(
        api_client_for(cast.viewer),
        {"round": arena_round.pk, "from_dataset_version": version.pk},
    )
    assert created.status_code == 201, created.content
    assert created.json()["prompt"] in QUESTIONS  # never a train record, never plain text


def test_the_last_user_turn_is_the_prompt() -> None:
    from evaluation.harness.tasks import last_user_turn

    chat = {
        "messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "a"},
            {"role": "user", "content": "second"},
            {"role": "assistant", "content": "b"},
        ]
    }
    assert last_user_turn(chat) == "second"
    assert last_user_turn({"prompt": "p", "completion": "c"}) == "p"
    assert last_user_turn({"text": "plain"}) is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"prompt": "typed", "from_dataset_version": 1},
    ],
)
def test_exactly_one_source_is_required(
    cast: Any,
    api_client_for: Any,
    arena_round: Any,  # noqa: F811
    body: dict[str, Any],
) -> None:
    response = _post(api_client_for(cast.viewer), {"round": arena_round.pk, **body})
    assert response.status_code == 400
    assert "prompt" in response.json()["error"]["detail"]


def test_a_version_without_prompts_or_of_another_project_is_refused_naming_the_field(
    cast: Any,
    api_client_for: Any,
    arena_round: Any,  # noqa: F811
    approved_version: Any,
) -> None:
    client = api_client_for(cast.viewer)
    plain = _post(client, {"round": arena_round.pk, "from_dataset_version": approved_version.pk})
    assert plain.status_code == 400
    assert "from_dataset_version" in plain.json()["error"]["detail"]
    missing = _post(client, {"round": arena_round.pk, "from_dataset_version": 999_999})
    assert missing.status_code == 400
    assert "from_dataset_version" in missing.json()["error"]["detail"]


def test_an_outsiders_version_is_no_source(
    cast: Any,
    api_client_for: Any,
    arena_round: Any,  # noqa: F811
    approved_version_of: Any,
) -> None:
    from accounts.models import Project

    other = Project.objects.create(name="elsewhere")
    foreign = approved_version_of(
        other,
        [{"kind": "prompt_completion", "prompt": "secret q", "completion": "a", "split": "test"}],
    )
    response = _post(
        api_client_for(cast.viewer), {"round": arena_round.pk, "from_dataset_version": foreign.pk}
    )
    assert response.status_code == 400
    assert "secret q" not in response.content.decode()


def test_an_evaluation_set_built_from_a_split_is_a_source(
    cast: Any,
    api_client_for: Any,
    arena_round: Any,  # noqa: F811
    approved_version_of: Any,
) -> None:
    from audit.services import Actor
    from evaluation import services

    version = _chat_version(cast, approved_version_of)
    built = services.create_set_from_dataset(Actor(user=cast.engineer), version, "router faq")
    created = _post(
        api_client_for(cast.viewer), {"round": arena_round.pk, "from_evaluation_set": built.pk}
    )
    assert created.status_code == 201, created.content
    assert created.json()["prompt"] in QUESTIONS


def test_prompt_from_test_split_refuses_another_projects_version(
    cast: Any,
    arena_round: Any,  # noqa: F811
    approved_version_of: Any,
) -> None:
    from accounts.models import Project
    from ops.errors import InvalidField

    other = Project.objects.create(name="elsewhere")
    foreign = approved_version_of(other, [{"kind": "text", "text": "x", "split": "test"}])
    with pytest.raises(InvalidField):
        arena.prompt_from_test_split(arena_round, foreign, "from_dataset_version")


def test_the_arena_page_offers_the_projects_approved_test_splits(
    cast: Any,
    arena_round: Any,  # noqa: F811
    approved_version_of: Any,
) -> None:
    from django.test import Client

    version = _chat_version(cast, approved_version_of)
    client = Client()
    client.force_login(cast.viewer)
    page = client.get(f"/evaluation/arena/{arena_round.pk}/").content.decode()
    assert 'id="prompt-source"' in page
    assert f'<option value="{version.pk}">Drawn from the test split of' in page
