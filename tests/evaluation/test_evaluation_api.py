"""The evaluation API: upload (a Python file refused by name), from a dataset, runs (create,
list, get, cancel), comparison; who may do what, refusals audited."""

from __future__ import annotations

import io
from typing import Any

import pytest
from evaluation_bundles import make_zip, standard_files

from audit.models import AuditEvent
from evaluation.models import EvaluationRun, RunStatus, TaskMetric

pytestmark = pytest.mark.django_db


def _upload(client: Any, project: Any, files: dict[str, Any], name: str = "std") -> Any:
    bundle = io.BytesIO(make_zip(files))
    bundle.name = "bundle.zip"
    return client.post(
        "/api/v1/evaluation-sets/",
        {"project": project.pk, "name": name, "bundle": bundle},
        format="multipart",
    )


def test_upload_list_and_a_python_file_refused_by_name(cast: Any, api_client_for: Any) -> None:
    steward = api_client_for(cast.steward)
    created = _upload(steward, cast.project, standard_files())
    assert created.status_code == 201, created.json()
    assert {t["name"] for t in created.json()["tasks"]} == {"capitals_mc", "arithmetic_gen"}
    refused = _upload(steward, cast.project, {**standard_files(), "tasks/hook.py": "x = 1\n"}, "b")
    assert refused.status_code == 400
    assert "tasks/hook.py" in refused.json()["error"]["message"]
    listed = api_client_for(cast.viewer).get("/api/v1/evaluation-sets/").json()
    assert [row["name"] for row in listed["results"]] == ["std"]
    assert api_client_for(cast.outsider).get("/api/v1/evaluation-sets/").json()["results"] == []


def test_a_viewer_is_refused_and_the_refusal_audited(
    cast: Any, api_client_for: Any, version_from_records: Any
) -> None:
    response = _upload(api_client_for(cast.viewer), cast.project, standard_files())
    assert response.status_code == 403
    denied = AuditEvent.objects.get(action="denied.upload_data")
    assert denied.actor == cast.viewer and denied.outcome == "denied"
    version = version_from_records(version_from_records.default_records())
    refused = api_client_for(cast.viewer).post(
        "/api/v1/evaluation-sets/from-dataset/",
        {"dataset": version.dataset_id, "name": "x"},
        format="json",
    )
    assert refused.status_code == 403
    assert AuditEvent.objects.get(action="denied.launch_job").actor == cast.viewer


def test_runs_are_created_listed_cancelled_and_compared(
    cast: Any, api_client_for: Any, tiny_base_model: Any
) -> None:
    engineer = api_client_for(cast.engineer)
    set_id = _upload(api_client_for(cast.steward), cast.project, standard_files()).json()["id"]
    body = {"evaluation_set": set_id, "base_model": tiny_base_model.pk, "limit": 2}
    runs = [engineer.post("/api/v1/evaluation-runs/", body, format="json") for _ in range(3)]
    assert [r.status_code for r in runs] == [201, 201, 201]
    both = engineer.post("/api/v1/evaluation-runs/", {**body, "model_version": 1}, format="json")
    assert both.status_code == 400 and "model_version" in both.json()["error"]["detail"]
    base_id, tuned_id, other_id = (r.json()["id"] for r in runs)
    viewer = api_client_for(cast.viewer)
    assert viewer.post(f"/api/v1/evaluation-runs/{other_id}/cancel/").status_code == 403
    cancelled = engineer.post(f"/api/v1/evaluation-runs/{other_id}/cancel/")
    assert cancelled.json()["status"] == "cancelled"
    assert engineer.post(f"/api/v1/evaluation-runs/{other_id}/cancel/").status_code == 409
    for run_id, value in ((base_id, 0.9), (tuned_id, 0.5)):
        EvaluationRun.objects.filter(pk=run_id).update(status=RunStatus.SUCCEEDED)
        TaskMetric.objects.create(
            run_id=run_id,
            task="general",
            metric="acc,none",
            value=value,
            stderr=0.02,
            higher_is_better=True,
            samples=100,
        )
    got = viewer.get(f"/api/v1/evaluation-runs/{tuned_id}/").json()
    assert got["metrics"][0]["stderr"] == 0.02
    compared = viewer.get(f"/api/v1/evaluation-runs/{tuned_id}/comparison/?base={base_id}")
    assert compared.status_code == 200 and compared.json()["forgetting"] is True
    missing = viewer.get(f"/api/v1/evaluation-runs/{tuned_id}/comparison/?base=x")
    assert missing.status_code == 400
    unfinished = viewer.get(f"/api/v1/evaluation-runs/{tuned_id}/comparison/?base={other_id}")
    assert unfinished.status_code == 400
    assert (
        api_client_for(cast.outsider).get(f"/api/v1/evaluation-runs/{tuned_id}/").status_code == 404
    )


def test_a_set_from_a_dataset_without_usable_records_is_a_400(
    cast: Any, api_client_for: Any, version_from_records: Any
) -> None:
    version = version_from_records([{"prompt": "no answer", "split": "test"}])
    response = api_client_for(cast.engineer).post(
        "/api/v1/evaluation-sets/from-dataset/",
        {"dataset": version.dataset_id, "name": "bad"},
        format="json",
    )
    assert response.status_code == 400 and "dataset_version" in response.json()["error"]["detail"]
