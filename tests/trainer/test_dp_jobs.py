"""Differential-privacy jobs on the platform: a DP job trained as a worker runs it records its
achieved epsilon and delta on the model version (API, schema, pages); combinations that cannot
be private are a 400 naming the field over the native API and the job form."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from trainer.models import JobStatus, ModelVersion

DP = {"target_epsilon": 8.0, "delta": 1e-3}
pytestmark = pytest.mark.django_db(transaction=True)


def test_a_dp_job_records_its_guarantee_on_the_model_version(
    cast: Any, make_job: Any, run_job: Any, api_client_for: Any
) -> None:
    job = make_job(differential_privacy=DP)
    assert job.hyperparameters["differential_privacy"]["target_epsilon"] == 8.0
    assert job.progress["estimate"]["peak_mem_bytes"] > 0
    job = run_job(job)
    assert job.status == JobStatus.SUCCEEDED, job.error
    version = ModelVersion.objects.get(job=job)
    assert 0 < version.dp_epsilon <= DP["target_epsilon"] and version.dp_delta == DP["delta"]
    assert version.dp_accounting["noise_multiplier"] > 0
    assert version.dp_accounting["accountant"] == "rdp"
    assert 0 < job.progress["epsilon"] <= DP["target_epsilon"]

    body = api_client_for(cast.engineer).get(f"/api/v1/model-versions/{version.pk}/").json()
    assert body["dp_epsilon"] == pytest.approx(version.dp_epsilon)
    assert body["dp_delta"] == DP["delta"] and body["dp_accounting"]["steps"] == 6

    page = Client()
    page.force_login(cast.viewer)
    html = page.get(f"/jobs/model-versions/{version.pk}/").content.decode()
    assert 'id="dp-epsilon"' in html and f"{version.dp_epsilon:.3f}" in html
    assert 'id="dp-epsilon"' in page.get(f"/jobs/{job.pk}/").content.decode()
    outsider = Client()
    outsider.force_login(cast.outsider)
    assert outsider.get(f"/jobs/model-versions/{version.pk}/").status_code == 404


def test_a_model_without_dp_says_so(cast: Any, make_job: Any, run_job: Any) -> None:
    job = run_job(make_job(max_steps=2))
    version = ModelVersion.objects.get(job=job)
    assert version.dp_epsilon is None and version.dp_accounting == {}
    page = Client()
    page.force_login(cast.viewer)
    assert 'id="dp-none"' in page.get(f"/jobs/model-versions/{version.pk}/").content.decode()


def test_the_memory_estimate_counts_dp(tiny_base_model: Any) -> None:
    from trainer.engine import TrainConfig
    from trainer.services import estimate_job

    plain = TrainConfig(method="full", base_model_dir=tiny_base_model.path)
    private = TrainConfig(
        method="full", base_model_dir=tiny_base_model.path, differential_privacy=DP
    )
    extra = (
        estimate_job(private, tiny_base_model)["peak_mem_bytes"]
        - estimate_job(plain, tiny_base_model)["peak_mem_bytes"]
    )
    assert extra == 8 * estimate_job(plain, tiny_base_model)["trainable_params"]


@pytest.mark.parametrize(
    ("hyperparameters", "field"),
    [
        ({"objective": "dpo"}, "objective"),
        ({"max_processes": 2}, "max_processes"),
        ({"parallelism": "fsdp"}, "parallelism"),
        ({"differential_privacy": {"target_epsilon": 8, "delta": 2}}, "differential_privacy.delta"),
        ({"differential_privacy": {"target_epsilon": -1}}, "differential_privacy.target_epsilon"),
        ({"differential_privacy": {"epsilon": 1}}, "differential_privacy.epsilon"),
        ({"differential_privacy": [8]}, "differential_privacy"),
    ],
)
def test_over_the_api_refusals_are_400_naming_the_field(
    cast: Any,
    api_client_for: Any,
    approved_version: Any,
    tiny_base_model: Any,
    hyperparameters: dict,
    field: str,
) -> None:
    private = {"differential_privacy": DP, **hyperparameters}
    body = {
        "dataset": approved_version.dataset_id,
        "method": "full" if "parallelism" in hyperparameters else "lora",
        "hyperparameters": private,
    }
    response = api_client_for(cast.engineer).post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["detail"]
    refusal = _refusal()
    assert refusal.details["field"] == field and refusal.actor == cast.engineer
    assert refusal.details["differential_privacy"] is True


def _refusal() -> Any:
    """The one audited refusal of a job request."""
    from audit.models import AuditEvent

    (event,) = AuditEvent.objects.filter(action="job.refused")
    assert event.outcome == "denied" and event.object_type == "datasets_app.dataset"
    return event


def test_qlora_with_dp_is_refused_naming_method(
    cast: Any, api_client_for: Any, approved_version: Any, tiny_base_model: Any
) -> None:
    body = {
        "dataset": approved_version.dataset_id,
        "method": "qlora",
        "hyperparameters": {"differential_privacy": DP},
    }
    response = api_client_for(cast.engineer).post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 400 and "method" in response.json()["error"]["detail"]
    assert _refusal().details["field"] == "method"


def test_other_refused_job_settings_are_audited_too(
    cast: Any, api_client_for: Any, approved_version: Any, tiny_base_model: Any
) -> None:
    body = {
        "dataset": approved_version.dataset_id,
        "method": "lora",
        "hyperparameters": {"seq_len": 64, "warmup_steps": 500, "max_steps": 4},
    }
    response = api_client_for(cast.engineer).post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 400, response.content
    refusal = _refusal()
    assert refusal.details["field"] in response.json()["error"]["detail"]
    assert refusal.details["differential_privacy"] is False


def test_a_refusal_for_lack_of_permission_is_audited_as_a_denial_not_a_refusal(
    cast: Any, api_client_for: Any, approved_version: Any, tiny_base_model: Any
) -> None:
    from audit.models import AuditEvent

    body = {
        "dataset": approved_version.dataset_id,
        "method": "qlora",
        "hyperparameters": {"differential_privacy": DP},
    }
    response = api_client_for(cast.viewer).post("/api/v1/jobs/", body, format="json")
    assert response.status_code in (403, 404)
    assert not AuditEvent.objects.filter(action="job.refused").exists()


def test_the_job_form_takes_dp_and_shows_refusals_on_the_field(
    cast: Any, approved_version: Any, tiny_base_model: Any
) -> None:
    from audit.models import AuditEvent
    from trainer.forms import JobForm
    from trainer.models import TrainingJob

    page = Client()
    page.force_login(cast.engineer)
    url = f"/jobs/new/?dataset={approved_version.dataset_id}"
    assert 'name="dp_target_epsilon"' in page.get(url).content.decode()
    defaults = {name: field.initial for name, field in JobForm().fields.items() if field.initial}
    form = defaults | {
        "dataset": approved_version.dataset_id,
        "base_model": tiny_base_model.pk,
        "max_steps": 2,
        "batch_size": 1,
        "seq_len": 64,
        "checkpoint_every": 1,
    }
    refused = page.post(url, form | {"dp_target_epsilon": 8, "dp_delta": 3})
    assert refused.status_code == 400
    assert refused.context["form"].errors["dp_delta"] == ["must be in (0, 1)"]
    refused = page.post(url, form | {"dp_target_epsilon": 8, "objective": "dpo"})
    assert refused.status_code == 400 and "objective" in refused.context["form"].errors
    audited = AuditEvent.objects.filter(action="job.refused").order_by("pk")
    assert [e.details["field"] for e in audited] == ["differential_privacy.delta", "objective"]
    assert not TrainingJob.objects.exists()
    assert page.post(url, form | {"dp_target_epsilon": 4}).status_code == 302
    privacy = TrainingJob.objects.get().hyperparameters["differential_privacy"]
    assert privacy == {"target_epsilon": 4.0, "delta": None, "max_grad_norm": 1.0}


def test_the_schema_documents_the_guarantee() -> None:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schema = response.json()["components"]["schemas"]["ModelVersion"]["properties"]
    assert {"dp_epsilon", "dp_delta", "dp_accounting"} <= set(schema)
    assert "epsilon" in schema["dp_epsilon"]["description"]
