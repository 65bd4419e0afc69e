"""A preference dataset end to end through ingestion, review and approval (real Presidio and
spaCy): both answers are scanned and redacted alike, every answer to a prompt lands in one
split, token statistics count both answers, and a job whose objective does not fit the records
is refused naming `objective`."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets_app import ingestion
from datasets_app.models import Dataset, Finding
from datasets_app.services import run_ingestion
from datasets_app.versioning import iter_version_records

NAMED = "Please ask Laura Gómez about it; Laura Gómez signed the refund."
PAIRS: list[dict[str, Any]] = [
    {
        "prompt": "Who signed the refund for order 1182?",
        "chosen": "Laura Gómez signed it on Monday.",
        "rejected": "I think Laura Gómez did, or someone else.",
    },
    {
        "input": {"messages": [{"role": "user", "content": "Can Mark Scott call me back?"}]},
        "preferred_output": [{"role": "assistant", "content": "Yes, Mark Scott will call today."}],
        "non_preferred_output": [{"role": "assistant", "content": "No."}],
    },
    *(
        {
            "prompt": f"What is the status of ticket {n}?",
            "chosen": f"Ticket {n} is {answer}.",
            "rejected": f"Ticket {n}? Not sure, maybe {answer}.",
        }
        for n in range(100, 112)
        for answer in ("open", "closed")  # two pairs per prompt
    ),
]


def _upload(cast: Any, api_client_for: Any, monkeypatch: Any, records: list[dict]) -> int:
    monkeypatch.setattr("datasets_app.services._enqueue_ingestion", lambda _id: None)
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    response = api_client_for(cast.steward).post(
        "/api/v1/datasets/",
        {"file": SimpleUploadedFile("pairs.jsonl", body), "project": cast.project.pk},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    run_ingestion(response.json()["id"])
    return response.json()["id"]


@pytest.fixture
def approved_pairs(cast: Any, api_client_for: Any, monkeypatch: Any, tiny_base_model: Any) -> Any:
    dataset_id = _upload(cast, api_client_for, monkeypatch, PAIRS)
    response = api_client_for(cast.steward).post(f"/api/v1/datasets/{dataset_id}/approve/")
    assert response.status_code == 200, response.content
    return Dataset.objects.get(pk=dataset_id).versions.get()


def test_both_answers_are_scanned_and_a_name_gets_the_same_pseudonym_in_each(approved_pairs):
    fields = set(
        Finding.objects.filter(dataset=approved_pairs.dataset, record_index=0).values_list(
            "field", flat=True
        )
    )
    assert {"chosen", "rejected"} <= fields
    first = next(iter_version_records(approved_pairs))
    assert "Laura" not in first["chosen"] + first["rejected"]
    placeholders = [set(re.findall(r"<PERSON_\d+>", first[key])) for key in ("chosen", "rejected")]
    assert placeholders[0] and placeholders[0] == placeholders[1]
    openai = [r for r in iter_version_records(approved_pairs) if r.get("messages")][0]
    assert openai["kind"] == "preference" and "Mark" not in json.dumps(openai)
    assert set(re.findall(r"<PERSON_\d+>", openai["messages"][0]["content"])) == set(
        re.findall(r"<PERSON_\d+>", openai["chosen"])
    )


def test_every_answer_to_a_prompt_lands_in_the_same_split(approved_pairs):
    splits: dict[str, set[str]] = {}
    for record in iter_version_records(approved_pairs):
        splits.setdefault(ingestion.prompt_text(record), set()).add(record["split"])
    assert all(len(found) == 1 for found in splits.values())
    assert len({next(iter(s)) for s in splits.values()}) > 1  # the prompts spread over splits


def test_a_version_of_pairs_counts_both_answers_in_its_token_statistics(
    approved_pairs, tiny_base_model
):
    from trainer.engine.models import load_tokenizer

    assert approved_pairs.record_kinds == {"preference": len(PAIRS)}
    stats = approved_pairs.token_stats
    tokenizer = load_tokenizer(tiny_base_model.path)
    one_side = sum(
        len(tokenizer(r["chosen"])["input_ids"]) for r in iter_version_records(approved_pairs)
    )
    assert stats["records"] == len(PAIRS) and stats["total_tokens"] > 2 * one_side


def test_the_trained_text_of_a_pair_is_its_prompt_before_each_answer():
    record = {"kind": "preference", "prompt": "Q?", "chosen": "yes", "rejected": "no"}
    assert ingestion.trained_text(record) == "Q? yes Q? no"
    assert ingestion.split_text(record) == "Q?"
    assert [p for p, _ in ingestion.record_fields(record)] == ["prompt", "chosen", "rejected"]


def test_a_job_whose_objective_does_not_fit_the_records_is_refused_naming_objective(
    cast, api_client_for, approved_pairs, approved_version, tiny_hyperparameters
):
    client = api_client_for(cast.engineer)
    body = {"dataset": approved_pairs.dataset_id, "hyperparameters": tiny_hyperparameters}
    refused = client.post("/api/v1/jobs/", body, format="json")  # supervised by default
    assert refused.status_code == 400
    (message,) = refused.json()["error"]["detail"]["objective"]
    assert "preference records" in message and "dpo" in message
    accepted = client.post("/api/v1/jobs/", body | {"objective": "dpo"}, format="json")
    assert accepted.status_code == 201, accepted.content
    job = accepted.json()
    assert job["objective"] == "dpo" and job["hyperparameters"]["objective"] == "dpo"
    conflicting = body | {"objective": "dpo", "hyperparameters": {"objective": "kto"}}
    response = client.post("/api/v1/jobs/", conflicting, format="json")
    assert response.status_code == 400 and "objective" in response.json()["error"]["detail"]
    beta_alone = body | {"hyperparameters": tiny_hyperparameters | {"beta": 0.3}}
    response = client.post("/api/v1/jobs/", beta_alone, format="json")
    assert response.status_code == 400 and "beta" in response.json()["error"]["detail"]
    approved_version.record_kinds = {"text": approved_version.record_count}
    approved_version.save()
    examples = {"dataset": approved_version.dataset_id, "objective": "orpo"}
    response = client.post("/api/v1/jobs/", examples, format="json")
    assert response.status_code == 400
    assert '"chosen", "rejected"' in response.json()["error"]["detail"]["objective"][0]


def test_the_job_form_trains_the_objective_it_is_given_and_supervised_without_one(
    cast, approved_pairs, tiny_base_model
):
    from django.test import Client

    from trainer.models import TrainingJob

    page = Client()
    page.force_login(cast.engineer)
    url = f"/jobs/new/?dataset={approved_pairs.dataset_id}"
    form = {
        "dataset": approved_pairs.dataset_id,
        "method": "lora",
        "max_steps": 2,
        "learning_rate": 0.001,
        "batch_size": 1,
        "seq_len": 64,
        "checkpoint_every": 1,
        "base_model": tiny_base_model.pk,
    }
    assert "objective" in page.get(url).content.decode()
    refused = page.post(url, form)  # no objective: supervised, which these pairs do not fit
    assert refused.status_code == 400 and "preference records" in refused.content.decode()
    assert page.post(url, form | {"objective": "dpo"}).status_code == 302
    assert TrainingJob.objects.get().hyperparameters["objective"] == "dpo"


def test_the_job_form_takes_the_objectives_own_settings_and_refuses_ones_that_do_not_apply(
    cast, approved_pairs, tiny_base_model
):
    """beta reaches a DPO job from the page; orpo_lambda changed on a DPO job is refused naming
    it (never dropped); a hidden setting left at its default posts harmlessly."""
    from django.test import Client

    from trainer.forms import JobForm
    from trainer.models import TrainingJob

    page = Client()
    page.force_login(cast.engineer)
    url = f"/jobs/new/?dataset={approved_pairs.dataset_id}"
    html = page.get(url).content.decode()
    assert 'name="beta"' in html and 'data-objective="dpo kto"' in html
    assert 'name="lora_r"' in html and "data-method=" in html
    defaults = {name: field.initial for name, field in JobForm().fields.items() if field.initial}
    form = defaults | {
        "dataset": approved_pairs.dataset_id,
        "base_model": tiny_base_model.pk,
        "objective": "dpo",
        "max_steps": 2,
        "batch_size": 1,
        "seq_len": 64,
        "checkpoint_every": 1,
    }
    refused = page.post(url, form | {"orpo_lambda": 0.7, "beta": 0.3})
    assert (
        refused.status_code == 400 and "Applies only to objective orpo" in refused.content.decode()
    )
    assert not TrainingJob.objects.exists()
    assert page.post(url, form | {"beta": 0.3}).status_code == 302
    hyperparameters = TrainingJob.objects.get().hyperparameters
    assert hyperparameters["beta"] == 0.3
    assert hyperparameters.get("orpo_lambda", defaults["orpo_lambda"]) == defaults["orpo_lambda"]
    assert hyperparameters["lora_r"] == defaults["lora_r"]
