"""Deployments over the native API: who may deploy, keys scoped to one deployment with their
own rate limit, stopping, usage per key per day, the optional PII output filter, and models
whose data was destroyed."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from audit.models import AuditEvent
from serving.models import Deployment

pytestmark = pytest.mark.django_db(transaction=True)
ASK = [{"role": "user", "content": "Where is my order?"}]


def _deploy(api_client_for: Any, user: Any, version: Any, **extra: Any) -> Any:
    return api_client_for(user).post(
        "/api/v1/deployments/", {"model_version": version.pk, **extra}, format="json"
    )


def _key(api_client_for: Any, user: Any, deployment_id: int, **extra: Any) -> Any:
    return api_client_for(user).post(
        f"/api/v1/deployments/{deployment_id}/keys/", extra, format="json"
    )


def test_engineer_deploys_and_the_model_is_named_after_base_project_and_job(
    cast: Any, api_client_for: Any, fine_tuned_version: Any
) -> None:
    response = _deploy(api_client_for, cast.engineer, fine_tuned_version)
    assert response.status_code == 201, response.content
    assert response.json()["model_name"] == f"ft:tiny:acme-support:job{fine_tuned_version.job_id}"
    assert AuditEvent.objects.filter(action="deployment.create", outcome="allowed").count() == 1
    again = _deploy(api_client_for, cast.owner, fine_tuned_version)
    assert again.status_code == 409  # the same name is already served


def test_viewer_and_steward_may_not_deploy_and_outsiders_do_not_see_the_version(
    cast: Any, api_client_for: Any, fine_tuned_version: Any
) -> None:
    for role in ("viewer", "steward"):
        assert _deploy(api_client_for, getattr(cast, role), fine_tuned_version).status_code == 403
    assert AuditEvent.objects.filter(action="denied.deploy_model").count() == 2
    assert _deploy(api_client_for, cast.outsider, fine_tuned_version).status_code == 400
    assert not Deployment.objects.exists()


def test_deployment_key_queries_only_its_model_within_its_rate_limit(
    cast: Any,
    api_client_for: Any,
    fine_tuned_version: Any,
    openai_for: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.utils import timezone

    now = timezone.now().replace(second=30)
    monkeypatch.setattr("serving.services.clock", lambda: now)
    deployment = _deploy(api_client_for, cast.engineer, fine_tuned_version, suffix="support").json()
    issued = _key(api_client_for, cast.engineer, deployment["id"], rate_limit_rpm=2, name="web")
    assert issued.status_code == 201 and issued.json()["key"].startswith("sobk_")
    client = openai_for(issued.json()["key"])
    assert [m.id for m in client.models.list().data] == ["ft:tiny:acme-support:support"]
    reply = client.chat.completions.create(
        model="ft:tiny:acme-support:support", messages=ASK, max_tokens=3
    )
    assert reply.usage.completion_tokens <= 3
    with pytest.raises(openai.NotFoundError):  # a key never reaches base models
        client.chat.completions.create(model="tiny", messages=ASK)
    client.chat.completions.create(model="ft:tiny:acme-support:support", messages=ASK, max_tokens=1)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="ft:tiny:acme-support:support", messages=ASK)
    with pytest.raises(openai.PermissionDeniedError):  # keys do not manage files
        client.files.list()

    usage = api_client_for(cast.viewer).get(f"/api/v1/deployments/{deployment['id']}/usage/")
    rows = usage.json()["results"]
    assert [(r["key_prefix"], r["requests"]) for r in rows] == [(issued.json()["prefix"], 2)]
    assert usage.json()["totals"]["completion_tokens"] == rows[0]["completion_tokens"]


def test_stopping_a_deployment_turns_its_keys_and_name_off(
    cast: Any, api_client_for: Any, fine_tuned_version: Any, openai_for: Any, raw_token: Any
) -> None:
    deployment = _deploy(api_client_for, cast.engineer, fine_tuned_version).json()
    raw = _key(api_client_for, cast.engineer, deployment["id"]).json()["key"]
    assert (
        api_client_for(cast.viewer)
        .post(f"/api/v1/deployments/{deployment['id']}/stop/")
        .status_code
        == 403
    )
    stopped = api_client_for(cast.owner).post(f"/api/v1/deployments/{deployment['id']}/stop/")
    assert stopped.json()["status"] == "stopped"
    with pytest.raises(openai.AuthenticationError):
        openai_for(raw).models.list()
    member = openai_for(raw_token(cast.viewer))
    with pytest.raises(openai.NotFoundError):
        member.chat.completions.create(model=deployment["model_name"], messages=ASK)
    assert deployment["model_name"] not in [m.id for m in member.models.list().data]


def test_revoked_key_is_401(
    cast: Any, api_client_for: Any, fine_tuned_version: Any, openai_for: Any
) -> None:
    deployment = _deploy(api_client_for, cast.engineer, fine_tuned_version).json()
    issued = _key(api_client_for, cast.engineer, deployment["id"]).json()
    revoked = api_client_for(cast.engineer).post(
        f"/api/v1/deployments/{deployment['id']}/keys/{issued['id']}/revoke/"
    )
    assert revoked.json()["revoked_at"] is not None
    with pytest.raises(openai.AuthenticationError):
        openai_for(issued["key"]).models.list()
    listed = api_client_for(cast.viewer).get(f"/api/v1/deployments/{deployment['id']}/keys/")
    assert "key" not in listed.json()[0] and listed.json()[0]["prefix"] == issued["prefix"]


def test_pii_filter_redacts_personal_data_in_completions(
    cast: Any,
    api_client_for: Any,
    fine_tuned_version: Any,
    openai_for: Any,
    raw_token: Any,
    fake_detector: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from serving import generation

    leaked = generation.Completion("Write to jane.doe@example.org today", 5, 7, "stop")
    monkeypatch.setattr(generation, "generate", lambda *args, **kwargs: leaked)
    deployment = _deploy(api_client_for, cast.engineer, fine_tuned_version, pii_filter=True).json()
    client = openai_for(raw_token(cast.viewer))
    reply = client.chat.completions.create(model=deployment["model_name"], messages=ASK)
    assert reply.choices[0].message.content == "Write to <EMAIL_ADDRESS> today"
    with pytest.raises(openai.BadRequestError) as caught:  # tokens would spell the address out
        client.chat.completions.create(model=deployment["model_name"], messages=ASK, logprobs=True)
    assert caught.value.body["param"] == "logprobs"
    patch = api_client_for(cast.engineer).patch(
        f"/api/v1/deployments/{deployment['id']}/", {"pii_filter": False}, format="json"
    )
    assert patch.json()["pii_filter"] is False
    reply = client.chat.completions.create(model=deployment["model_name"], messages=ASK)
    assert "jane.doe@example.org" in reply.choices[0].message.content


def test_deployment_of_a_shredded_dataset_no_longer_answers(
    cast: Any, api_client_for: Any, fine_tuned_version: Any, openai_for: Any, raw_token: Any
) -> None:
    from audit.services import Actor
    from datasets_app.services import delete_dataset

    deployment = _deploy(api_client_for, cast.engineer, fine_tuned_version).json()
    client = openai_for(raw_token(cast.viewer))
    assert client.chat.completions.create(
        model=deployment["model_name"], messages=ASK, max_tokens=1
    )
    delete_dataset(Actor(user=cast.steward), fine_tuned_version.job.dataset_version.dataset)
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model=deployment["model_name"], messages=ASK)
    assert caught.value.code == "model_not_found"


def _read_content(api_client_for: Any, user: Any, deployment_id: int, **body: Any) -> Any:
    return api_client_for(user).post(
        f"/api/v1/deployments/{deployment_id}/query-content/",
        {"reason": "Investigating a customer complaint", **body},
        format="json",
    )


def test_query_content_is_kept_only_when_the_setting_is_on_and_encrypted(
    cast: Any,
    api_client_for: Any,
    fine_tuned_version: Any,
    openai_for: Any,
    raw_token: Any,
    settings: Any,
) -> None:
    from pathlib import Path

    from tests.at_rest import files_containing

    deployment = _deploy(api_client_for, cast.engineer, fine_tuned_version).json()
    client = openai_for(raw_token(cast.viewer))
    secret_question = [{"role": "user", "content": "Is parcel ZX-48213-QQ delayed?"}]
    client.chat.completions.create(
        model=deployment["model_name"], messages=secret_question, max_tokens=3
    )
    assert _read_content(api_client_for, cast.owner, deployment["id"]).json()["results"] == []

    settings.SERVING_LOG_CONTENT = True
    whole = client.chat.completions.create(
        model=deployment["model_name"], messages=secret_question, max_tokens=3, temperature=0
    )
    streamed = client.chat.completions.create(
        model=deployment["model_name"],
        messages=secret_question,
        max_tokens=3,
        temperature=0,
        stream=True,
    )
    list(streamed)
    read = _read_content(api_client_for, cast.owner, deployment["id"], limit=10).json()
    assert read["logging"] is True and len(read["results"]) == 2
    for entry in read["results"]:
        assert entry["messages"] == secret_question and entry["caller"].startswith("token:")
        assert entry["answers"] == [whole.choices[0].message.content]
    event = AuditEvent.objects.get(action="inference.content_read", details__entries=2)
    assert event.details["reason"] == "Investigating a customer complaint"
    assert files_containing(Path(settings.DATA_DIR), "ZX-48213-QQ") == []


def test_only_owners_read_query_content_and_only_with_a_reason(
    cast: Any, api_client_for: Any, fine_tuned_version: Any
) -> None:
    deployment = _deploy(api_client_for, cast.engineer, fine_tuned_version).json()
    for role in ("engineer", "steward", "viewer"):
        response = _read_content(api_client_for, getattr(cast, role), deployment["id"])
        assert response.status_code == 403
    short = _read_content(api_client_for, cast.owner, deployment["id"], reason="why")
    assert short.status_code == 400 and "reason" in str(short.json())
    assert not AuditEvent.objects.filter(action="inference.content_read").exists()
