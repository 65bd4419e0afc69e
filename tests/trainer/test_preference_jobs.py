"""A DPO job as a worker runs it: the approved preference version decrypted into the engine,
trained, stored, then scored by the evaluation task with reward accuracy and margin."""

from __future__ import annotations

from typing import Any

import pytest

from audit.services import Actor
from trainer import services
from trainer.models import JobStatus, ModelVersion
from trainer.tasks import evaluate_model_version


def _pair_records() -> list[dict[str, Any]]:
    splits = ["train"] * 8 + ["validation", "test"]
    return [
        {
            "kind": "preference",
            "prompt": f"What is {i} plus {i}?",
            "chosen": f"It is {2 * i}.",
            "rejected": f"It is {2 * i + 1}, I think.",
            "split": splits[i % 10],
            "lang": "en",
            "source": f"pairs.jsonl:{i + 1}",
        }
        for i in range(40)
    ]


@pytest.mark.django_db(transaction=True)
def test_a_dpo_job_trains_on_an_approved_preference_version_and_is_scored_with_rewards(
    cast: Any,
    tiny_base_model: Any,
    version_from_records: Any,
    tiny_hyperparameters: dict,
    sent_evaluations: list[int],
    run_job: Any,
    monkeypatch: Any,
) -> None:
    version = version_from_records(_pair_records())
    version.record_kinds = {"preference": 40}
    version.save()
    monkeypatch.setattr(services, "enqueue_job", lambda _id: None)
    job = services.create_job(
        Actor(user=cast.engineer),
        version,
        base_model=tiny_base_model,
        method="lora",
        hyperparameters=tiny_hyperparameters
        | {"objective": "dpo", "beta": 0.5, "max_steps": 8, "learning_rate": 1e-2}
        | {"eval_generate_records": 2, "eval_max_new_tokens": 8},
    )
    job = run_job(job)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.progress["loss"] < 0.69  # below ln 2: the chosen answers gained
    model_version = ModelVersion.objects.get(job=job)
    evaluate_model_version(model_version.pk)
    job.refresh_from_db()
    tuned = job.evaluation["tuned"]
    assert job.evaluation_status == "done", job.evaluation_error
    assert tuned["test_pairs"] == 4 and tuned["reward_accuracy"] >= 0.5
    assert tuned["reward_margin"] > 0 and job.evaluation["base"]["perplexity"] > 0
