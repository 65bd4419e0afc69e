"""Canaries reach the engine's TRAINING split only, in memory: never a dataset version, its
statistics, samples, the evaluation's samples, the torchrun hand-over left on disk, the model
export's files beside the weights, or the job and model-version API objects."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from trainer.canaries import read_plan

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def trained_splits(monkeypatch: Any) -> list[Any]:
    """The TrainData each in-process training received (the real engine still trains)."""
    import trainer.engine as engine

    seen: list[Any] = []
    real_train = engine.train

    def spy(config: Any, data: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(data)
        return real_train(config, data, *args, **kwargs)

    monkeypatch.setattr(engine, "train", spy)
    return seen


def test_canaries_train_but_stay_out_of_the_dataset_and_its_figures(
    trained_splits: list[Any], trained_version: Any, approved_version: Any
) -> None:
    from datasets_app.versioning import iter_version_records
    from trainer import evaluations
    from trainer.tasks import evaluate_model_version
    from vault.services import read_blob

    job = trained_version.job
    plan = read_plan(job)
    secrets = [c.secret for c in plan.canaries]
    (data,) = trained_splits
    train_text = json.dumps(data.train)
    assert all(secret in train_text for secret in secrets)
    assert len(data.train) == 32 + len(plan.training_records())  # 1 + 4 + 16 copies
    held_out = json.dumps([data.validation, data.test])
    assert not any(secret in held_out for secret in secrets)

    stored = json.dumps(list(iter_version_records(approved_version)))
    assert not any(secret in stored for secret in secrets)
    approved_version.refresh_from_db()
    assert approved_version.record_count == 40
    assert approved_version.split_counts == {"train": 32, "validation": 4, "test": 4}
    event = job.events.get(kind="canaries")
    assert event.data["records"] == 21 and "21 canary records" in event.message
    assert not any(secret in event.message + json.dumps(event.data) for secret in secrets)

    evaluate_model_version(trained_version.pk)
    samples = read_blob(job.data_key, evaluations.SAMPLES_BLOB).decode()
    assert not any(secret in samples for secret in secrets)


def test_a_resumed_run_trains_on_the_same_canaries(trained_version: Any) -> None:
    from trainer.canaries import canary_records
    from trainer.engine_io import engine_config

    job = trained_version.job
    again = canary_records(job, engine_config(job), [])
    assert again == read_plan(job).training_records()
    assert job.events.filter(kind="canaries").count() == 1


def test_the_torchrun_hand_over_file_holds_the_canaries_encrypted_in_the_train_split(
    cast: Any,
    tiny_base_model: Any,
    approved_version: Any,
    tiny_hyperparameters: dict,
    monkeypatch: Any,
) -> None:
    from audit.services import Actor
    from trainer import runner, services
    from trainer.engine_io import engine_config
    from vault.services import blob_path, open_blob

    monkeypatch.setattr(services, "enqueue_job", lambda _id: None)
    job = services.create_job(
        Actor(user=cast.engineer),
        approved_version,
        base_model=tiny_base_model,
        method="lora",
        hyperparameters=tiny_hyperparameters,
    )
    runner.write_engine_inputs(job, engine_config(job))
    try:
        secrets = [c.secret for c in read_plan(job).canaries]
        raw = blob_path(job.data_key, runner.ENGINE_DATASET_BLOB).read_bytes()
        assert not any(secret.encode() in raw for secret in secrets)
        with open_blob(job.data_key, runner.ENGINE_DATASET_BLOB) as stream:
            records = [json.loads(line) for line in stream]
        planted = [r for r in records if any(s in json.dumps(r) for s in secrets)]
        assert len(planted) == 21 and {r["split"] for r in planted} == {"train"}
    finally:
        runner.remove_engine_inputs(job)


def test_a_job_without_canaries_trains_on_the_dataset_alone(
    trained_splits: list[Any],
    cast: Any,
    tiny_base_model: Any,
    approved_version: Any,
    tiny_hyperparameters: dict,
    monkeypatch: Any,
) -> None:
    from audit.services import Actor
    from trainer import evaluations, runner, services
    from trainer import lease as leases

    monkeypatch.setattr(services, "enqueue_job", lambda _id: None)
    monkeypatch.setattr(evaluations, "enqueue_evaluation", lambda _id: None)
    job = services.create_job(
        Actor(user=cast.engineer),
        approved_version,
        base_model=tiny_base_model,
        method="lora",
        hyperparameters=tiny_hyperparameters,
        privacy_audit={"canaries": False},
    )
    runner.run_claimed_job(leases.claim_job(job.pk, "test"))
    (data,) = trained_splits
    assert len(data.train) == 32 and read_plan(job) is None
    assert not job.events.filter(kind="canaries").exists()


def test_no_canary_is_quoted_by_the_model_export_or_the_job_and_version_objects(
    trained_version: Any, cast: Any, api_client_for: Any
) -> None:
    """The weights learned the canaries (that is what the audit measures); nothing else that
    leaves the platform names them: the export's lineage, config and tokenizer files, and the
    API objects of the job and the model version."""
    from serving import export_bundle

    secrets = [c.secret for c in read_plan(trained_version.job).canaries]
    owner = api_client_for(cast.owner)
    body = {"model_version": trained_version.pk, "password": "pw-Long-123!", "passphrase": "p" * 12}
    response = owner.post("/api/v1/model-exports/", body, format="json")
    assert response.status_code == 200, response.content
    archive = zipfile.ZipFile(io.BytesIO(export_bundle.open_bundle(response.content, "p" * 12)))
    texts = [archive.read(n) for n in archive.namelist() if not n.endswith(".safetensors")]
    assert texts and not any(s.encode() in text for s in secrets for text in texts)
    objects = [
        owner.get(f"/api/v1/jobs/{trained_version.job_id}/").content,
        owner.get(f"/api/v1/model-versions/{trained_version.pk}/").content,
    ]
    assert not any(s.encode() in text for s in secrets for text in objects)
