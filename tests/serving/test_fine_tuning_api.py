"""Files and fine-tuning jobs through the official ``openai`` client: the file goes through
ingestion and review, the job waits in ``validating_files`` until a steward approves, then
trains, is deployed as ``ft:…`` and answers chat requests, plain and streamed."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from serving_helpers import chat_jsonl, run_training_job

from audit.models import AuditEvent
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


@pytest.fixture
def clients(
    cast: Any, tiny_base_model: Any, raw_token: Any, openai_for: Any, inline_ingestion: None
) -> dict[str, Any]:
    return {
        role: openai_for(raw_token(getattr(cast, role)))
        for role in ("steward", "engineer", "viewer", "outsider")
    }


def _upload(client: Any) -> Any:
    return client.files.create(file=("orders.jsonl", chat_jsonl()), purpose="fine-tune")


def test_uploaded_file_is_ingested_and_listed(clients: Any) -> None:
    uploaded = _upload(clients["steward"])
    assert uploaded.id.startswith("file-") and uploaded.purpose == "fine-tune"
    assert uploaded.status == "processed" and uploaded.filename == "orders.jsonl"
    assert uploaded.model_extra["soberana_status"] == "needs_review"
    assert [f.id for f in clients["engineer"].files.list().data] == [uploaded.id]
    assert clients["viewer"].files.retrieve(uploaded.id).bytes == len(chat_jsonl())
    with pytest.raises(openai.NotFoundError):
        clients["outsider"].files.retrieve(uploaded.id)


def test_wrong_purpose_and_engineer_upload_are_refused(clients: Any) -> None:
    from vault.models import DataKey

    before = DataKey.objects.count()
    with pytest.raises(openai.BadRequestError) as caught:
        clients["steward"].files.create(file=("a.jsonl", chat_jsonl(2)), purpose="assistants")
    assert caught.value.body["param"] == "purpose"
    with pytest.raises(openai.PermissionDeniedError):
        _upload(clients["engineer"])
    assert DataKey.objects.count() == before  # refused uploads leave no key behind


def test_deleting_a_file_shreds_it(clients: Any) -> None:
    uploaded = _upload(clients["steward"])
    deleted = clients["steward"].files.delete(uploaded.id)
    assert deleted.deleted is True
    with pytest.raises(openai.NotFoundError):
        clients["steward"].files.retrieve(uploaded.id)
    from datasets_app.models import Dataset

    assert Dataset.objects.get(pk=int(uploaded.id[5:])).raw_key.is_destroyed


def test_job_waits_for_review_then_trains_deploys_and_answers(clients: Any, cast: Any) -> None:
    from audit.services import Actor
    from datasets_app.models import Dataset
    from datasets_app.services import approve_dataset

    uploaded = _upload(clients["steward"])
    engineer = clients["engineer"]
    job = engineer.fine_tuning.jobs.create(
        training_file=uploaded.id,
        model="tiny",
        suffix="orders",
        hyperparameters={"n_epochs": 1, **TINY},
    )
    assert job.status == "validating_files" and job.fine_tuned_model is None
    messages = [e.message for e in engineer.fine_tuning.jobs.list_events(job.id).data]
    assert any("data steward" in m for m in messages)

    approve_dataset(Actor(user=cast.steward), Dataset.objects.get(pk=int(uploaded.id[5:])))
    job = engineer.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "queued"
    training = FineTuneJob.objects.get().training_job
    assert run_training_job(training.pk).status == "succeeded"

    job = engineer.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "succeeded"
    assert job.fine_tuned_model == "ft:tiny:acme-support:orders"
    assert job.hyperparameters.batch_size == 2
    assert job.fine_tuned_model in [m.id for m in engineer.models.list().data]
    events = engineer.fine_tuning.jobs.list_events(job.id, limit=100).data
    assert events[0].message.startswith("Training finished") or any(
        e.message.startswith("Deployed as") for e in events
    )
    assert any(e.type == "metrics" for e in events)
    checkpoints = engineer.fine_tuning.jobs.checkpoints.list(job.id).data
    assert checkpoints and checkpoints[0].step_number == 4

    reply = clients["viewer"].chat.completions.create(
        model=job.fine_tuned_model,
        messages=[{"role": "user", "content": "Where is order 3?"}],
        max_tokens=6,
        temperature=0,
    )
    assert reply.model == job.fine_tuned_model and reply.usage.completion_tokens <= 6
    streamed = clients["viewer"].chat.completions.create(
        model=job.fine_tuned_model,
        messages=[{"role": "user", "content": "Where is order 3?"}],
        max_tokens=6,
        temperature=0,
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert text == reply.choices[0].message.content
    with pytest.raises(openai.NotFoundError):
        clients["outsider"].chat.completions.create(
            model=job.fine_tuned_model, messages=[{"role": "user", "content": "hi"}]
        )


def test_project_that_auto_approves_starts_the_job_without_review(clients: Any, cast: Any) -> None:
    cast.project.auto_approve_redaction = True
    cast.project.save()
    uploaded = _upload(clients["steward"])
    assert uploaded.model_extra["soberana_status"] == "approved"
    job = clients["engineer"].fine_tuning.jobs.create(
        training_file=uploaded.id, model="tiny", hyperparameters=TINY
    )
    assert job.status == "queued"
    approval = AuditEvent.objects.get(action="dataset.approve")
    assert approval.details["automatic"] is True and approval.details["pending_redacted"] == 30
    from datasets_app.models import DatasetVersion

    records = DatasetVersion.objects.get().record_count
    assert records == 30


def test_a_job_waiting_for_ingestion_is_approved_trained_and_deployed_through_the_signals(
    clients: Any, cast: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """file -> ingestion_finished -> auto-approval -> dataset_approved -> training job ->
    model_version_stored -> deployment, with the job created while the file still processes."""
    from datasets_app.tasks import ingest_dataset

    cast.project.auto_approve_redaction = True
    cast.project.save()
    monkeypatch.setattr("datasets_app.services._enqueue_ingestion", lambda _id: None)
    uploaded = _upload(clients["steward"])
    assert uploaded.model_extra["soberana_status"] == "processing"
    engineer = clients["engineer"]
    job = engineer.fine_tuning.jobs.create(
        training_file=uploaded.id, model="tiny", suffix="waiting", hyperparameters=TINY
    )
    assert job.status == "validating_files"

    ingest_dataset.apply(args=[int(uploaded.id[5:])])  # what the ingestion worker runs
    assert engineer.fine_tuning.jobs.retrieve(job.id).status == "queued"
    assert run_training_job(FineTuneJob.objects.get().training_job_id).status == "succeeded"
    job = engineer.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "succeeded" and job.fine_tuned_model == "ft:tiny:acme-support:waiting"
    assert job.fine_tuned_model in [m.id for m in engineer.models.list().data]


def test_cancelling_a_waiting_job_stops_it(clients: Any) -> None:
    uploaded = _upload(clients["steward"])
    job = clients["engineer"].fine_tuning.jobs.create(training_file=uploaded.id, model="tiny")
    cancelled = clients["engineer"].fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled"
    with pytest.raises(openai.PermissionDeniedError):
        clients["viewer"].fine_tuning.jobs.cancel(job.id)


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"training_file": "file-999"}, "training_file"),
        ({"training_file": "nonsense"}, "training_file"),
        ({"hyperparameters": {"n_epochs": -1}}, "hyperparameters.n_epochs"),
        ({"hyperparameters": {"seq_len": 999999}}, "hyperparameters.seq_len"),
        ({"suffix": "no spaces please"}, "suffix"),
        ({"method": {"type": "reinforcement"}}, "method"),
        ({"method": {"type": "ppo"}}, "method"),
        ({"method": "dpo"}, "method"),
        ({"method": {"type": "dpo", "supervised": {}}}, "method.supervised"),
        ({"method": {"type": "dpo", "dpo": {"beta": 0.1}}}, "method.dpo"),
        (
            {"method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": -1}}}},
            "hyperparameters.beta",
        ),
        (
            {"method": {"type": "supervised", "supervised": {"hyperparameters": {"beta": 0.5}}}},
            "hyperparameters.beta",
        ),
        ({"hyperparameters": {"objective": "dpo"}}, "hyperparameters.objective"),
        # A chat file cannot train a preference objective: refused now, not after approval.
        ({"method": {"type": "dpo"}}, "training_file"),
    ],
)
def test_bad_job_requests_are_400_naming_the_parameter(
    clients: Any, overrides: dict, param: str
) -> None:
    uploaded = _upload(clients["steward"])
    request = {"training_file": uploaded.id, "model": "tiny", **overrides}
    with pytest.raises(openai.BadRequestError) as caught:
        clients["engineer"].fine_tuning.jobs.create(**request)
    assert caught.value.body["param"] == param


def test_unknown_base_model_is_404_and_viewer_may_not_launch(clients: Any) -> None:
    uploaded = _upload(clients["steward"])
    with pytest.raises(openai.NotFoundError):
        clients["engineer"].fine_tuning.jobs.create(training_file=uploaded.id, model="gpt-9")
    with pytest.raises(openai.PermissionDeniedError):
        clients["viewer"].fine_tuning.jobs.create(training_file=uploaded.id, model="tiny")
    assert clients["viewer"].fine_tuning.jobs.list().data == []


def _validation_jsonl(n: int = 8) -> bytes:
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": f"Can I get a refund for invoice {i}?"},
                    {"role": "assistant", "content": f"Invoice {i} is refunded."},
                ]
            }
        )
        for i in range(n)
    ]
    return ("\n".join(lines) + "\n").encode()


def test_validation_file_waits_for_its_own_review_and_is_what_validates(
    clients: Any, cast: Any
) -> None:
    from audit.services import Actor
    from datasets_app.models import Dataset
    from datasets_app.services import approve_dataset
    from trainer.engine_io import iter_engine_records

    steward, engineer = clients["steward"], clients["engineer"]
    training_file = _upload(steward)
    validation_file = steward.files.create(
        file=("refunds.jsonl", _validation_jsonl()), purpose="fine-tune"
    )
    job = engineer.fine_tuning.jobs.create(
        training_file=training_file.id,
        validation_file=validation_file.id,
        model="tiny",
        hyperparameters=TINY,
    )
    assert job.validation_file == validation_file.id
    approve_dataset(Actor(user=cast.steward), Dataset.objects.get(pk=int(training_file.id[5:])))
    assert engineer.fine_tuning.jobs.retrieve(job.id).status == "validating_files"
    messages = [e.message for e in engineer.fine_tuning.jobs.list_events(job.id).data]
    assert any("approve the validation file" in m for m in messages)

    approve_dataset(Actor(user=cast.steward), Dataset.objects.get(pk=int(validation_file.id[5:])))
    assert engineer.fine_tuning.jobs.retrieve(job.id).status == "queued"
    training = FineTuneJob.objects.get().training_job
    assert training.validation_version.dataset_id == int(validation_file.id[5:])
    records = list(iter_engine_records(training))
    validating = [r for r in records if r["split"] == "validation"]
    assert len(validating) == 8
    assert all("invoice" in r["messages"][0]["content"] for r in validating)
    counts = training.dataset_version.split_counts
    trained = [r for r in records if r["split"] == "train"]
    assert len(trained) == counts.get("train", 0) + counts.get("validation", 0)
    finished = run_training_job(training.pk)
    assert finished.status == "succeeded" and finished.progress.get("val_loss") is not None


def test_a_deleted_validation_file_fails_the_job_naming_it(clients: Any, cast: Any) -> None:
    from audit.services import Actor
    from datasets_app.models import Dataset
    from datasets_app.services import approve_dataset

    steward, engineer = clients["steward"], clients["engineer"]
    training_file = _upload(steward)
    validation_file = steward.files.create(
        file=("refunds.jsonl", _validation_jsonl()), purpose="fine-tune"
    )
    job = engineer.fine_tuning.jobs.create(
        training_file=training_file.id, validation_file=validation_file.id, model="tiny"
    )
    steward.files.delete(validation_file.id)
    approve_dataset(Actor(user=cast.steward), Dataset.objects.get(pk=int(training_file.id[5:])))
    failed = engineer.fine_tuning.jobs.retrieve(job.id)
    assert failed.status == "failed" and failed.error.param == "validation_file"
    assert FineTuneJob.objects.get().training_job is None


def _preference_jsonl(n: int = 24) -> bytes:
    """Pairs in OpenAI's DPO format: the polite answer preferred over the curt one."""
    lines = []
    for i in range(n):
        record = {
            "input": {"messages": [{"role": "user", "content": f"Where is order {i}?"}]},
            "preferred_output": [{"role": "assistant", "content": f"Order {i} ships Monday."}],
            "non_preferred_output": [{"role": "assistant", "content": "No idea."}],
        }
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode()


def test_dpo_through_the_openai_client_trains_a_preference_objective(
    clients: Any, cast: Any
) -> None:
    """``method={"type": "dpo", ...}`` as the openai package sends it: the job trains DPO on the
    pairs with the requested beta and shows ``method`` the way OpenAI does."""
    cast.project.auto_approve_redaction = True
    cast.project.save()
    uploaded = clients["steward"].files.create(
        file=("pairs.jsonl", _preference_jsonl()), purpose="fine-tune"
    )
    assert uploaded.model_extra["soberana_status"] == "approved"
    job = clients["engineer"].fine_tuning.jobs.create(
        training_file=uploaded.id,
        model="tiny",
        method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2, **TINY}}},
    )
    assert job.method.type == "dpo"
    assert job.method.dpo.hyperparameters.beta == 0.2
    training = FineTuneJob.objects.get().training_job
    assert training.hyperparameters["objective"] == "dpo"
    assert training.hyperparameters["beta"] == 0.2
    assert run_training_job(training.pk).status == "succeeded"
    done = clients["engineer"].fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded" and done.method.type == "dpo"
    # A supervised job on the same pairs is refused before it is created: wrong records.
    with pytest.raises(openai.BadRequestError) as caught:
        clients["engineer"].fine_tuning.jobs.create(training_file=uploaded.id, model="tiny")
    assert caught.value.body["param"] == "training_file"
