"""Issue 18 item 9: shredded deployments, unsupported /v1 parameters, fine-tuning
integrations, the re-identification role check and the mismatched-version wording."""

from __future__ import annotations

from typing import Any

import pytest

from audit.services import Actor


@pytest.fixture
def version(
    cast: Any,
    tiny_base_model: Any,
    approved_version: Any,
    tiny_hyperparameters: Any,
    monkeypatch: Any,
) -> Any:
    from trainer import services
    from trainer.models import ModelVersion

    monkeypatch.setattr(services, "enqueue_job", lambda _id: None)
    job = services.create_job(
        Actor(user=cast.engineer),
        approved_version,
        base_model=tiny_base_model,
        method="lora",
        hyperparameters=tiny_hyperparameters,
    )
    return ModelVersion.objects.create(
        project=job.project, job=job, name="tiny-lora", data_key=job.data_key, artifact_dir="-"
    )


def test_a_deployment_whose_data_was_shredded_shows_shredded(
    cast: Any, api_client_for: Any, version: Any
) -> None:
    from serving.models import Deployment
    from vault import services as vault

    deployment = Deployment.objects.create(
        project=cast.project, model_version=version, model_name="ft:tiny:x", created_by=cast.owner
    )
    client = api_client_for(cast.engineer)
    assert client.get(f"/api/v1/deployments/{deployment.pk}/").json()["status"] == "active"
    vault.destroy_data_key(Actor(user=cast.owner), version.data_key, reason="test")
    assert client.get(f"/api/v1/deployments/{deployment.pk}/").json()["status"] == "shredded"


@pytest.mark.parametrize(
    ("path", "extra", "param"),
    [
        ("/v1/chat/completions", {"logit_bias": {"42": 5}}, "logit_bias"),
        ("/v1/chat/completions", {"frequency_penalty": 0.5}, "frequency_penalty"),
        ("/v1/chat/completions", {"presence_penalty": 1}, "presence_penalty"),
        ("/v1/completions", {"best_of": 3}, "best_of"),
        ("/v1/completions", {"suffix": "end"}, "suffix"),
        ("/v1/completions", {"bogus_knob": 1}, "bogus_knob"),
    ],
)
def test_unsupported_parameters_answer_400_naming_them(
    cast: Any, api_client_for: Any, tiny_base_model: Any, path: str, extra: dict, param: str
) -> None:
    body: dict[str, Any] = {"model": tiny_base_model.name, **extra}
    if "chat" in path:
        body["messages"] = [{"role": "user", "content": "hi"}]
    else:
        body["prompt"] = "hi"
    response = api_client_for(cast.engineer, ["inference"]).post(path, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["param"] == param


def test_neutral_values_of_unsupported_parameters_are_accepted() -> None:
    from openai_api.requests import parse_chat

    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "frequency_penalty": 0,
        "presence_penalty": 0.0,
        "logit_bias": {},
        "seed": 3,
    }
    assert parse_chat(body).params.seed == 3


def test_fine_tuning_integrations_are_refused(
    cast: Any, api_client_for: Any, tiny_base_model: Any
) -> None:
    body = {
        "model": tiny_base_model.name,
        "training_file": "file-1",
        "integrations": [{"type": "wandb", "wandb": {"project": "x"}}],
    }
    client = api_client_for(cast.engineer, ["read", "write"])
    response = client.post("/v1/fine_tuning/jobs", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["param"] == "integrations"


def test_reidentification_checks_the_role_before_the_version(
    cast: Any, api_client_for: Any, approved_version: Any
) -> None:
    dataset = approved_version.dataset
    url = f"/api/v1/datasets/{dataset.pk}/reidentification/"
    body = {"reason": "Checking which versions exist", "version": 999}
    assert api_client_for(cast.steward).post(url, body, format="json").status_code == 403
    assert api_client_for(cast.owner).post(url, body, format="json").status_code == 404


def test_a_version_of_another_dataset_is_named_as_such(
    cast: Any, api_client_for: Any, approved_version: Any, tiny_base_model: Any
) -> None:
    body = {
        "dataset": approved_version.dataset.pk,
        "dataset_version": approved_version.pk + 1000,
        "base_model": tiny_base_model.pk,
        "method": "lora",
    }
    response = api_client_for(cast.engineer).post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 400, response.content
    message = response.json()["error"]["message"]
    assert "not a version of dataset" in message and "approved, not approved" not in message
