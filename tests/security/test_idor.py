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
