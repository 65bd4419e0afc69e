"""The job form page: advanced settings reach the engine config, the estimate endpoint answers
as a submission would be judged (without creating anything), errors name their fields."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

BASIC = {
    "method": "lora",
    "objective": "supervised",
    "max_steps": "6",
    "learning_rate": "0.001",
    "batch_size": "2",
    "seq_len": "64",
    "checkpoint_every": "3",
}


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client: Client, url: str, version: Any, **fields: Any) -> Any:
    return client.post(url, {"dataset": version.dataset_id, **BASIC, **fields})


def test_engineer_gets_an_estimate_that_fits_and_nothing_is_created(
    cast: Any, approved_version: Any, tiny_base_model: Any
) -> None:
    from trainer.models import TrainingJob

    response = _post(_client(cast.engineer), "/jobs/new/estimate/", approved_version)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["errors"] == {}
    assert body["estimate"]["fits"] is True
    assert body["estimate"]["max_steps"] == 6
    assert body["estimate"]["peak_mem_bytes"] > 0 and "GiB" in body["estimate"]["reason"]
    assert not TrainingJob.objects.exists()


def test_estimate_names_the_field_of_an_invalid_setting(
    cast: Any, approved_version: Any, tiny_base_model: Any
) -> None:
    client = _client(cast.engineer)
    response = _post(client, "/jobs/new/estimate/", approved_version, batch_size="0")
    assert response.status_code == 400
    assert "batch_size" in response.json()["errors"]
    # The engine config's own checks are reported on their field too.
    response = _post(client, "/jobs/new/estimate/", approved_version, warmup_steps="6")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["warmup_steps"]


def test_viewer_is_refused_the_estimate_and_outsider_does_not_see_the_dataset(
    cast: Any, approved_version: Any, tiny_base_model: Any
) -> None:
    viewer = _post(_client(cast.viewer), "/jobs/new/estimate/", approved_version)
    assert viewer.status_code == 403
    assert "does not allow" in viewer.json()["errors"]["__all__"][0]
    outsider = _post(_client(cast.outsider), "/jobs/new/estimate/", approved_version)
    assert outsider.status_code == 404


def test_epochs_set_max_steps_from_the_training_split_tokens(
    cast: Any, approved_version: Any, tiny_base_model: Any
) -> None:
    client = _client(cast.engineer)
    missing = _post(client, "/jobs/new/estimate/", approved_version, epochs="2")
    assert "token count" in missing.json()["errors"]["epochs"][0]
    approved_version.token_stats = {"total_tokens": 12_800}
    approved_version.save()
    response = _post(client, "/jobs/new/estimate/", approved_version, epochs="2")
    # 80% of the records train (fixture splits): 2 x 12,800 x 0.8 / (2 x 64) = 160 steps.
    assert response.json()["estimate"]["max_steps"] == 160


def test_advanced_settings_reach_the_job_config(
    cast: Any,
    approved_version: Any,
    tiny_base_model: Any,
    version_from_records: Any,
    monkeypatch: Any,
) -> None:
    from trainer import services
    from trainer.models import TrainingJob

    monkeypatch.setattr(services, "enqueue_job", lambda job_id: None)
    other = version_from_records(version_from_records.default_records())
    response = _post(
        _client(cast.engineer),
        "/jobs/new/",
        approved_version,
        warmup_steps="2",
        lr_schedule="linear",
        min_lr_ratio="0.1",
        eval_every="3",
        precision="fp32",
        seed="7",
        grad_accum="2",
        gradient_checkpointing="on",
        lora_r="4",
        lora_target_modules="q_proj, v_proj",
        validation_dataset=str(other.dataset_id),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    job = TrainingJob.objects.get()
    settings = job.hyperparameters
    assert (settings["warmup_steps"], settings["lr_schedule"], settings["seed"]) == (2, "linear", 7)
    assert (settings["min_lr_ratio"], settings["eval_every"], settings["precision"]) == (
        0.1,
        3,
        "fp32",
    )
    assert settings["lora_target_modules"] == ["q_proj", "v_proj"]
    assert settings["grad_accum"] == 2 and settings["gradient_checkpointing"] is True
    assert job.validation_version == other


def test_target_modules_for_a_method_without_adapters_are_refused(
    cast: Any, approved_version: Any, tiny_base_model: Any
) -> None:
    response = _post(
        _client(cast.engineer),
        "/jobs/new/estimate/",
        approved_version,
        method="full",
        lora_target_modules="q_proj",
    )
    assert "lora_target_modules" in response.json()["errors"]


def test_form_page_groups_settings_with_labels_and_help_from_the_engine(
    cast: Any, approved_version: Any, tiny_base_model: Any
) -> None:
    from trainer.engine import TrainConfig

    page = _client(cast.engineer).get(f"/jobs/new/?dataset={approved_version.dataset_id}")
    html = page.content.decode()
    groups = ("lora", "length", "validation", "memory", "reproducibility", "privacy")
    for group in (f"group-{name}" for name in groups):
        assert f'id="{group}"' in html
    assert TrainConfig.help_texts()["lora_dropout"] in html
    assert 'for="id_warmup_steps"' in html and 'aria-describedby="help-seed"' in html
    assert 'data-enabled="1"' in html
    viewer_page = _client(cast.viewer).get(f"/jobs/new/?dataset={approved_version.dataset_id}")
    assert 'data-enabled="0"' in viewer_page.content.decode()
