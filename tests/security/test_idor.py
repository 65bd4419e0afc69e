"""Ownership: the members of project A cannot reach project B's objects through any endpoint.

Every endpoint whose URL names an object (found by walking the URL configuration) is called
with B's object by each of A's members and must answer 404, as if the object did not exist;
endpoints that take B's objects in the body or the query string refuse them too, and listings
never show them.
"""

from __future__ import annotations

from typing import Any

import pytest
from security_endpoints import Endpoint, call, discover_endpoints, request_kwargs, url_for

from accounts.models import Membership
from audit.models import AuditEvent
from datasets_app.models import Dataset, DatasetStatus
from trainer.models import TrainingJob
from vault.models import DataKey

A_MEMBERS = ("viewer", "engineer", "steward", "owner")
# Objects that belong to no project: the platform's base models and its audit trail (admins).
NOT_PROJECT_OBJECTS = {"base-models", "audit-events"}
OBJECT_ENDPOINTS = [
    e for e in discover_endpoints() if e.has_object and e.resource not in NOT_PROJECT_OBJECTS
]


def _cells() -> list[Any]:
    return [
        pytest.param(endpoint, method, role, id=f"{endpoint.key}-{method}-{role}")
        for endpoint in OBJECT_ENDPOINTS
        for method in sorted(endpoint.methods)
        for role in A_MEMBERS
    ]


@pytest.mark.parametrize(("endpoint", "method", "role"), _cells())
def test_object_of_another_project_answers_404(
    endpoint: Endpoint, method: str, role: str, world: Any
) -> None:
    url = url_for(endpoint, method, world, world.b)
    client = world.api(role) if endpoint.is_api else world.page(role)
    response = call(client, method, url, **request_kwargs(endpoint.key, method, world, world.b))
    assert response.status_code == 404, f"{method} {url} as A's {role}: {response.status_code}"


def test_every_project_object_endpoint_is_covered() -> None:
    """Guards the walk itself: the object endpoints known today are all in the cells."""
    keys = {e.key for e in OBJECT_ENDPOINTS}
    assert {
        "api:dataset-detail",
        "api:dataset-records",
        "api:dataset-decide",
        "api:job-cancel",
        "api:model-version-detail",
        "api:project-members",
        "api:token-detail",
        "dataset-page",
        "dataset-delete",
        "job-page",
        "job-cancel",
        "api:deployment-detail",
        "api:deployment-keys",
        "api:deployment-revoke-key",
        "api:deployment-usage",
        "openai-model",
        "openai-file",
        "openai-ft-job",
        "openai-ft-job-cancel",
        "openai-ft-job-events",
        "openai-ft-job-checkpoints",
    } <= keys


@pytest.mark.parametrize("role", A_MEMBERS)
def test_a_finding_of_another_project_cannot_be_decided_through_an_own_dataset(
    role: str, world: Any
) -> None:
    url = f"/api/v1/datasets/{world.a.review_dataset.pk}/findings/{world.b.finding.pk}/decision/"
    response = world.api(role).post(url, {"decision": "accept"}, format="json")
    assert response.status_code in (403, 404)
    world.b.finding.refresh_from_db()
    assert world.b.finding.decision == "rejected"


@pytest.mark.parametrize("role", ("engineer", "owner"))
def test_jobs_cannot_be_launched_on_another_projects_data(role: str, world: Any) -> None:
    api = world.api(role)
    body = request_kwargs("api:job-list", "POST", world, world.b)
    assert api.post("/api/v1/jobs/", **body).status_code == 400  # "No such dataset"
    mixed = dict(
        body["data"], dataset=world.a.approved_dataset.pk, dataset_version=world.b.version.pk
    )
    assert api.post("/api/v1/jobs/", mixed, format="json").status_code == 400
    page = world.page(role)
    new_job = f"/jobs/new/?dataset={world.b.approved_dataset.pk}"
    assert page.get(new_job).status_code == 404
    assert (
        page.post(new_job, **request_kwargs("job-new", "POST", world, world.b)).status_code == 404
    )
    assert (
        not TrainingJob.objects.filter(created_by=world.users[role])
        .exclude(pk__in=[world.a.job.pk, world.a.finished_job.pk])
        .exists()
    )


@pytest.mark.parametrize("role", ("steward", "owner"))
def test_uploads_into_another_project_are_refused(role: str, world: Any) -> None:
    before = Dataset.objects.filter(project=world.b.project).count()
    api_body = request_kwargs("api:dataset-list", "POST", world, world.b)
    assert world.api(role).post("/api/v1/datasets/", **api_body).status_code == 404
    page_body = request_kwargs("dataset-upload", "POST", world, world.b)
    response = world.page(role).post("/datasets/new/", **page_body)
    assert response.status_code == 400 and b"not one of the available choices" in response.content
    assert Dataset.objects.filter(project=world.b.project).count() == before


def _ids(response: Any) -> set[int]:
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return {row["id"] for row in rows}


@pytest.mark.parametrize("role", (*A_MEMBERS, "outsider"))
def test_listings_never_show_another_projects_objects(role: str, world: Any) -> None:
    api, b = world.api(role), world.b
    hidden = {
        "/api/v1/datasets/": {b.review_dataset.pk, b.approved_dataset.pk},
        f"/api/v1/datasets/?project={b.project.pk}": {b.review_dataset.pk, b.approved_dataset.pk},
        "/api/v1/jobs/": {b.job.pk, b.finished_job.pk},
        "/api/v1/model-versions/": {b.model_version.pk},
        "/api/v1/projects/": {b.project.pk},
        "/api/v1/tokens/": {b.spare_token.pk},
    }
    for url, ids in hidden.items():
        response = api.get(url)
        assert response.status_code == 200, url
        assert not _ids(response) & ids, f"{url} shows project B's objects to A's {role}"
    assert api.get(f"/api/v1/datasets/?project={b.project.pk}").json()["results"] == []


@pytest.mark.parametrize("role", (*A_MEMBERS, "outsider", "admin"))
def test_dashboard_never_shows_another_projects_datasets(role: str, world: Any) -> None:
    page = world.page(role).get("/").content.decode()
    assert "b-tickets" not in page and "b-approved" not in page
    if role != "admin":  # platform admins see every project's name, not its data
        assert "Beta legal" not in page


def test_roles_do_not_carry_across_projects(world: Any) -> None:
    """A steward of B who is only a viewer of A sees no raw text and no findings in A."""
    user = world.b.users["steward"]
    Membership.objects.create(project=world.a.project, user=user, role="viewer")
    from rest_framework.test import APIClient

    from accounts.services import issue_api_token
    from audit.services import Actor

    client = APIClient()
    raw = issue_api_token(Actor(user=user), user).raw
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    a_set, b_set = world.a.review_dataset.pk, world.b.review_dataset.pk
    assert client.get(f"/api/v1/datasets/{a_set}/").status_code == 200
    assert client.get(f"/api/v1/datasets/{a_set}/records/?raw=1").status_code == 403
    assert client.get(f"/api/v1/datasets/{a_set}/findings/").status_code == 403
    assert client.post(f"/api/v1/datasets/{a_set}/approve/").status_code == 403
    assert client.get(f"/api/v1/datasets/{b_set}/records/?raw=1").status_code == 200


def test_deleting_another_projects_dataset_destroys_nothing(world: Any) -> None:
    target = world.b.approved_dataset
    for role in ("steward", "owner"):
        assert world.api(role).delete(f"/api/v1/datasets/{target.pk}/").status_code == 404
    target.refresh_from_db()
    assert target.status == DatasetStatus.APPROVED
    assert not DataKey.objects.filter(pk=target.raw_key_id, destroyed_at__isnull=False).exists()


# --- serving: deployments, keys, models, files, fine-tuning jobs, usage -------------------


@pytest.mark.parametrize("role", A_MEMBERS)
def test_another_projects_model_cannot_be_queried_by_name(role: str, world: Any) -> None:
    """B's deployed model does not exist for A's members: 404 ``model_not_found``, audited."""
    api, name = world.api(role), world.b.deployment.model_name
    question = [{"role": "user", "content": "What did B's data say?"}]
    answers = [
        api.get(f"/v1/models/{name}"),
        api.post("/v1/chat/completions", {"model": name, "messages": question}, format="json"),
        api.post("/v1/completions", {"model": name, "prompt": "B says"}, format="json"),
    ]
    for response in answers:
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "model_not_found"
    denied = AuditEvent.objects.filter(action="inference.query", outcome="denied")
    assert denied.filter(object_id=name[:64]).count() == 2
    assert name not in {m["id"] for m in api.get("/v1/models").json()["data"]}


def test_a_deployment_key_reaches_its_own_deployment_only(world: Any) -> None:
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.a.deployment_key_raw}")
    for name in (world.b.deployment.model_name, world.base_model.name):
        assert client.get(f"/v1/models/{name}").status_code == 404, name
        body = {"model": name, "messages": [{"role": "user", "content": "hi"}]}
        assert client.post("/v1/chat/completions", body, format="json").status_code == 404, name


@pytest.mark.parametrize("role", ("engineer", "owner"))
def test_another_projects_key_cannot_be_revoked_through_an_own_deployment(
    role: str, world: Any
) -> None:
    own, theirs = world.a.deployment.pk, world.b.deployment_key
    url = f"/api/v1/deployments/{own}/keys/{theirs.pk}/revoke/"
    assert world.api(role).post(url).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


@pytest.mark.parametrize("role", ("engineer", "owner"))
def test_another_projects_model_version_cannot_be_deployed_or_exported(
    role: str, world: Any
) -> None:
    from serving.models import Deployment

    api, before = world.api(role), Deployment.objects.count()
    deploy = request_kwargs("api:deployment-list", "POST", world, world.b)
    assert api.post("/api/v1/deployments/", **deploy).status_code == 400
    assert Deployment.objects.count() == before
    export = request_kwargs("api:model-export-list", "POST", world, world.b)
    response = api.post("/api/v1/model-exports/", **export)
    assert response.status_code == 400 and "model_version" in response.json()["error"]["detail"]


@pytest.mark.parametrize("role", A_MEMBERS)
def test_another_projects_files_cannot_be_uploaded_to_or_trained_on(role: str, world: Any) -> None:
    from openai_api.models import FineTuneJob

    api = world.api(role)
    datasets, jobs = Dataset.objects.count(), FineTuneJob.objects.count()
    upload = request_kwargs("openai-files", "POST", world, world.b)
    assert api.post("/v1/files", **upload).status_code == 404
    train = request_kwargs("openai-ft-jobs", "POST", world, world.b)
    response = api.post("/v1/fine_tuning/jobs", **train)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "training_file"
    assert (Dataset.objects.count(), FineTuneJob.objects.count()) == (datasets, jobs)


@pytest.mark.parametrize("role", (*A_MEMBERS, "outsider"))
def test_serving_listings_never_show_another_projects_objects(role: str, world: Any) -> None:
    api, b = world.api(role), world.b
    deployments = api.get("/api/v1/deployments/")
    assert deployments.status_code == 200 and b.deployment.pk not in _ids(deployments)
    listed = {
        "/v1/models": b.deployment.model_name,
        "/v1/files": f"file-{b.approved_dataset.pk}",
        "/v1/fine_tuning/jobs": f"ftjob-{b.fine_tune.pk}",
    }
    for url, hidden in listed.items():
        response = api.get(url)
        assert response.status_code == 200, url
        assert hidden not in {item["id"] for item in response.json()["data"]}, url


@pytest.mark.parametrize("role", (*A_MEMBERS, "outsider", "admin"))
def test_usage_page_never_shows_another_projects_usage(role: str, world: Any) -> None:
    page = world.page(role).get("/usage/")
    assert page.status_code == 200
    text = page.content.decode()
    if role in A_MEMBERS:  # the page does list usage: A's own deployment is there
        assert world.a.deployment.model_name in text
    assert world.b.deployment.model_name not in text
    assert world.b.deployment_key.prefix not in text
