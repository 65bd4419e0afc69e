"""Differential privacy through the official ``openai`` client: requested in ``metadata`` (or
``hyperparameters``), the achieved epsilon and delta come back in the job's ``metadata``;
combinations that cannot be private are a 400 naming the parameter."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from serving_helpers import chat_jsonl, run_training_job

from openai_api.models import FineTuneJob

pytestmark = pytest.mark.django_db(transaction=True)
TINY = {
    "max_steps": 4,
    "batch_size": 2,
    "seq_len": 64,
    "checkpoint_every": 2,
    "eval_every": 2,
    "warmup_steps": 1,
    "learning_rate": 5e-3,
    "lora_r": 4,
    "lora_alpha": 8,
    "device": "cpu",
    "eval_generate_records": 0,
}
DP = {"target_epsilon": 8, "delta": 1e-3}


@pytest.fixture
def clients(
    cast: Any, tiny_base_model: Any, raw_token: Any, openai_for: Any, inline_ingestion: None
) -> dict[str, Any]:
    cast.project.auto_approve_redaction = True
    cast.project.save()
    return {role: openai_for(raw_token(getattr(cast, role))) for role in ("steward", "engineer")}


def _upload(client: Any) -> Any:
    return client.files.create(file=("orders.jsonl", chat_jsonl()), purpose="fine-tune")


def test_the_achieved_epsilon_is_in_the_job_metadata(clients: Any) -> None:
    uploaded = _upload(clients["steward"])
    engineer = clients["engineer"]
    job = engineer.fine_tuning.jobs.create(
        training_file=uploaded.id,
        model="tiny",
        hyperparameters=TINY,
        metadata={"differential_privacy": json.dumps(DP)},
    )
    assert json.loads(job.metadata["differential_privacy"])["target_epsilon"] == 8
    training = FineTuneJob.objects.get().training_job
    assert training.hyperparameters["differential_privacy"]["delta"] == 1e-3
    assert run_training_job(training.pk).status == "succeeded"
    job = engineer.fine_tuning.jobs.retrieve(job.id)
    assert 0 < float(job.metadata["differential_privacy_epsilon"]) <= 8
    assert float(job.metadata["differential_privacy_delta"]) == 1e-3


def test_dp_in_hyperparameters_is_taken_too(clients: Any) -> None:
    uploaded = _upload(clients["steward"])
    job = clients["engineer"].fine_tuning.jobs.create(
        training_file=uploaded.id,
        model="tiny",
        hyperparameters={**TINY, "differential_privacy": DP},
    )
    assert "differential_privacy" in job.metadata
    assert "differential_privacy_epsilon" not in job.metadata  # not trained yet


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"method": {"type": "dpo"}}, "method"),
        ({"hyperparameters": {"max_processes": 2}}, "hyperparameters.max_processes"),
        ({"metadata": {"differential_privacy": "{not json"}}, "metadata.differential_privacy"),
        ({"metadata": {"team": "support"}}, "metadata.team"),
        (
            {"metadata": {"differential_privacy": json.dumps({"target_epsilon": 8, "delta": 5})}},
            "hyperparameters.differential_privacy.delta",
        ),
        (
            {
                "metadata": {"differential_privacy": json.dumps({"target_epsilon": 2})},
                "hyperparameters": {"differential_privacy": DP},
            },
            "metadata.differential_privacy",
        ),
    ],
)
def test_refusals_are_400_naming_the_parameter(clients: Any, overrides: dict, param: str) -> None:
    uploaded = _upload(clients["steward"])
    request: dict[str, Any] = {
        "training_file": uploaded.id,
        "model": "tiny",
        "metadata": {"differential_privacy": json.dumps(DP)},
        **overrides,
    }
    with pytest.raises(openai.BadRequestError) as caught:
        clients["engineer"].fine_tuning.jobs.create(**request)
    assert caught.value.body["param"] == param
    assert not FineTuneJob.objects.exists()


def test_a_refused_private_fine_tune_is_audited_naming_the_parameter(clients: Any) -> None:
    from audit.models import AuditEvent

    uploaded = _upload(clients["steward"])
    with pytest.raises(openai.BadRequestError):
        clients["engineer"].fine_tuning.jobs.create(
            training_file=uploaded.id,
            model="tiny",
            hyperparameters={"differential_privacy": {"target_epsilon": 8, "delta": 5}},
        )
    (event,) = AuditEvent.objects.filter(action="fine_tune.refused")
    assert event.outcome == "denied" and event.actor.username == "engineer"
    assert event.details["param"] == "hyperparameters.differential_privacy.delta"
