"""One plain test per bug the Schemathesis run (test_schemathesis.py) found: each checks what
the API answers and that the schema at /api/schema/ says so."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from trainer.models import BaseModel

pytestmark = pytest.mark.django_db


@pytest.fixture
def openapi() -> dict[str, Any]:
    """The schema the running app serves."""
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    return json.loads(response.content)


def responses_of(openapi: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return openapi["paths"][path][method.lower()]["responses"]


def body_schema(openapi: dict[str, Any], method: str, path: str, status: str) -> dict[str, Any]:
    return responses_of(openapi, method, path)[status]["content"]["application/json"]["schema"]


def test_a_dataset_awaiting_review_has_no_latest_version_and_the_schema_allows_it(
    cast: Any, api_client_for: Any, review_dataset: Any, openapi: dict[str, Any]
) -> None:
    body = api_client_for(cast.steward).get(f"/api/v1/datasets/{review_dataset.pk}/").json()
    assert body["latest_version"] is None
    assert openapi["components"]["schemas"]["Dataset"]["properties"]["latest_version"]["nullable"]


@pytest.mark.parametrize("scopes", [None, "read", {"read": True}, 3, ["read", "root"]])
def test_a_token_request_whose_scopes_are_not_a_list_of_scopes_is_a_400(
    cast: Any, api_client_for: Any, scopes: Any
) -> None:
    response = api_client_for(cast.owner).post(
        "/api/v1/tokens/", {"name": "ci", "scopes": scopes}, format="json"
    )
    assert response.status_code == 400
    assert "scopes" in response.json()["error"]["detail"]


def test_a_token_request_with_a_list_of_scopes_still_issues_the_token(
    cast: Any, api_client_for: Any, openapi: dict[str, Any]
) -> None:
    response = api_client_for(cast.owner).post(
        "/api/v1/tokens/", {"name": "ci", "scopes": ["read"]}, format="json"
    )
    assert response.status_code == 201 and response.json()["scopes"] == ["read"]
    scopes = openapi["components"]["schemas"]["TokenRequest"]["properties"]["scopes"]
    assert scopes["type"] == "array"


def test_approval_works_when_the_default_base_models_files_are_missing(
    cast: Any, api_client_for: Any, review_dataset: Any
) -> None:
    BaseModel.objects.create(name="moved-away", path="/nonexistent/model", is_default=True)
    response = api_client_for(cast.steward).post(f"/api/v1/datasets/{review_dataset.pk}/approve/")
    assert response.status_code == 200
    assert response.json()["token_stats"] == {}  # informative only: absent, not fatal


def test_a_job_trained_from_scratch_has_no_base_model_and_the_schema_allows_it(
    cast: Any, api_client_for: Any, approved_version: Any, openapi: dict[str, Any]
) -> None:
    response = api_client_for(cast.engineer).post(
        "/api/v1/jobs/",
        {"dataset": approved_version.dataset_id, "method": "from_scratch"},
        format="json",
    )
    assert response.status_code == 201 and response.json()["base_model"] is None
    assert openapi["components"]["schemas"]["Job"]["properties"]["base_model"]["nullable"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/datasets/{id}/versions/"),
        ("GET", "/api/v1/deployments/{id}/keys/"),
        ("GET", "/api/v1/projects/{id}/members/"),
        ("POST", "/api/v1/projects/{id}/members/"),
    ],
)
def test_lists_answered_whole_are_documented_as_arrays_without_paging(
    openapi: dict[str, Any], method: str, path: str
) -> None:
    operation = openapi["paths"][path][method.lower()]
    success = next(code for code in operation["responses"] if code.startswith("2"))
    assert body_schema(openapi, method, path, success)["type"] == "array"
    assert not {"limit", "offset"} & {p["name"] for p in operation.get("parameters", [])}


def test_members_answer_one_plain_list_and_adding_one_is_a_documented_201(
    cast: Any, api_client_for: Any, openapi: dict[str, Any]
) -> None:
    owner = api_client_for(cast.owner)
    members = owner.get(f"/api/v1/projects/{cast.project.pk}/members/").json()
    assert isinstance(members, list) and {m["username"] for m in members} >= {"owner", "viewer"}
    added = owner.post(
        f"/api/v1/projects/{cast.project.pk}/members/",
        {"username": "viewer", "role": "engineer", "add": True},
        format="json",
    )
    assert added.status_code == 201 and isinstance(added.json(), list)
    assert "201" in responses_of(openapi, "POST", "/api/v1/projects/{id}/members/")


def test_reopening_a_dataset_that_needs_review_is_a_documented_409(
    cast: Any, api_client_for: Any, review_dataset: Any, openapi: dict[str, Any]
) -> None:
    response = api_client_for(cast.steward).post(f"/api/v1/datasets/{review_dataset.pk}/reopen/")
    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"
    documented = responses_of(openapi, "POST", "/api/v1/datasets/{id}/reopen/")["409"]
    assert documented["content"]["application/json"]["schema"]["$ref"].endswith("/ApiError")


def test_uploading_into_a_project_that_is_not_yours_is_a_documented_404(
    cast: Any, api_client_for: Any, openapi: dict[str, Any]
) -> None:
    response = api_client_for(cast.steward).post(
        "/api/v1/uploads/", {"filename": "a.jsonl", "total_size": 10, "project": 0}, format="json"
    )
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert "404" in responses_of(openapi, "POST", "/api/v1/uploads/")
    assert "404" in responses_of(openapi, "POST", "/api/v1/datasets/")


def test_every_operation_documents_the_errors_of_its_api(openapi: dict[str, Any]) -> None:
    for path, operations in openapi["paths"].items():
        shape = "ApiError" if path.startswith("/api/") else "OpenAIError"
        for method, operation in operations.items():
            expected = {"401", "403"} | ({"404"} if "{" in path else set())
            assert expected <= operation["responses"].keys(), (method, path)
            for code in expected:
                ref = operation["responses"][code]["content"]["application/json"]["schema"]
                assert ref["$ref"].endswith(f"/{shape}"), (method, path, code)


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/api/v1/datasets/0.5/findings/", {"code", "message", "detail"}),
        ("/v1/nothing", {"message", "type", "param", "code"}),
    ],
)
def test_unknown_api_urls_answer_a_json_404_in_the_shape_of_their_api(
    path: str, shape: set[str]
) -> None:
    response = Client().get(path)
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert shape <= response.json()["error"].keys()


def test_unknown_page_urls_still_answer_the_html_404() -> None:
    response = Client().get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("method", ["get", "delete"])
def test_a_malformed_file_id_is_not_found_like_an_unknown_one(
    cast: Any, api_client_for: Any, method: str
) -> None:
    response = getattr(api_client_for(cast.steward), method)("/v1/files/not-a-file")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_deleting_a_file_answers_200_with_a_body_as_documented(
    cast: Any, api_client_for: Any, review_dataset: Any, openapi: dict[str, Any]
) -> None:
    file_id = f"file-{review_dataset.pk}"
    response = api_client_for(cast.steward).delete(f"/v1/files/{file_id}")
    assert response.status_code == 200
    assert response.json() == {"id": file_id, "object": "file", "deleted": True}
    assert "200" in responses_of(openapi, "DELETE", "/v1/files/{file_id}")
    assert "204" not in responses_of(openapi, "DELETE", "/v1/files/{file_id}")


def test_the_audit_export_and_its_date_filters_are_documented(
    cast: Any, api_client_for: Any, openapi: dict[str, Any]
) -> None:
    admin = api_client_for(cast.admin)
    exported = admin.get("/api/v1/audit-events/?format=csv")
    assert exported.status_code == 200 and exported["Content-Type"] == "text/csv"
    malformed = admin.get("/api/v1/audit-events/?since=yesterday")
    assert malformed.status_code == 400
    responses = responses_of(openapi, "GET", "/api/v1/audit-events/")
    assert {"application/json", "text/csv"} == responses["200"]["content"].keys()
    assert "400" in responses


HUGE = "9" * 30  # far beyond the 64-bit integers SQLite and PostgreSQL take


@pytest.mark.parametrize(
    "query", ["limit=22236268411736364209405952&offset=-179777", f"limit={HUGE}", f"offset={HUGE}"]
)
def test_paging_with_huge_numbers_answers_a_page_not_a_server_error(
    cast: Any, api_client_for: Any, review_dataset: Any, query: str
) -> None:
    response = api_client_for(cast.steward).get(f"/api/v1/datasets/?{query}")
    assert response.status_code == 200
    ids = [d["id"] for d in response.json()["results"]]
    assert ids == ([review_dataset.pk] if query.startswith("limit") else [])


def test_filtering_datasets_by_a_huge_project_id_finds_none(
    cast: Any, api_client_for: Any, review_dataset: Any, openapi: dict[str, Any]
) -> None:
    response = api_client_for(cast.steward).get(f"/api/v1/datasets/?project={HUGE}")
    assert response.status_code == 200 and response.json()["results"] == []
    mine = api_client_for(cast.steward).get(f"/api/v1/datasets/?project={cast.project.pk}")
    assert [d["id"] for d in mine.json()["results"]] == [review_dataset.pk]
    parameters = openapi["paths"]["/api/v1/datasets/"]["get"]["parameters"]
    assert "project" in {p["name"] for p in parameters}


@pytest.mark.parametrize("route", ["decision", "add"])
def test_a_span_past_what_the_database_stores_is_a_400(
    cast: Any, api_client_for: Any, review_dataset: Any, openapi: dict[str, Any], route: str
) -> None:
    finding = review_dataset.findings.get()
    base = f"/api/v1/datasets/{review_dataset.pk}/findings"
    path, body = {
        "decision": (f"{base}/{finding.pk}/decision/", {"decision": "accept"}),
        "add": (f"{base}/add/", {"record_index": 0, "entity_type": "PERSON"}),
    }[route]
    response = api_client_for(cast.steward).post(
        path, {**body, "start": 0, "end": 2**40}, format="json"
    )
    assert response.status_code == 400 and "end" in response.json()["error"]["detail"]
    finding.refresh_from_db()
    assert finding.end == 11
    request = openapi["components"]["schemas"]["DecisionRequest"]["properties"]["end"]
    assert request["maximum"] == 2**31 - 1


def test_a_body_of_a_media_type_the_operation_does_not_read_is_a_documented_415(
    cast: Any, api_client_for: Any, review_dataset: Any, openapi: dict[str, Any]
) -> None:
    finding = review_dataset.findings.get()
    path = f"/api/v1/datasets/{review_dataset.pk}/findings/{finding.pk}/decision/"
    response = api_client_for(cast.steward).generic(
        "POST", path, "decision=accept", content_type="text/plain"
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    documented = "/api/v1/datasets/{id}/findings/{finding_id}/decision/"
    assert "415" in responses_of(openapi, "POST", documented)


@pytest.mark.parametrize(("first", "second"), [("ana2", "ana²"), ("fiona", "ﬁona")])
def test_a_username_equal_to_an_existing_one_once_normalized_is_a_400(
    cast: Any, api_client_for: Any, first: str, second: str
) -> None:
    admin = api_client_for(cast.admin)
    created = admin.post(
        "/api/v1/users/", {"username": first, "password": "pw-Long-123!x"}, format="json"
    )
    assert created.status_code == 201
    again = admin.post(
        "/api/v1/users/", {"username": second, "password": "pw-Long-123!x"}, format="json"
    )
    assert again.status_code == 400 and "username" in again.json()["error"]["detail"]


def test_a_username_with_control_characters_is_a_400(cast: Any, api_client_for: Any) -> None:
    response = api_client_for(cast.admin).post(
        "/api/v1/users/", {"username": "an\x1fa", "password": "pw-Long-123!x"}, format="json"
    )
    assert response.status_code == 400 and "username" in response.json()["error"]["detail"]


@pytest.mark.parametrize(
    ("url", "shape"),
    [
        ("/api/v1/audit-events/?action=%00", "native"),
        ("/api/v1/audit-events/?actor=a%00b", "native"),
        ("/api/v1/datasets/?name=%00", "native"),
        ("/v1/files?purpose=%00", "openai"),
        ("/v1/models/x%00y", "openai"),
    ],
)
def test_a_nul_byte_in_the_url_is_a_400_in_the_apis_shape_not_a_server_error(
    cast: Any, api_client_for: Any, url: str, shape: str
) -> None:
    # PostgreSQL text cannot hold NUL: the audit filter raised a DataError (500) there.
    response = api_client_for(cast.admin).get(url)
    assert response.status_code == 400
    error = response.json()["error"]
    assert "NUL" in error["message"]
    assert ("type" in error) if shape == "openai" else (error["code"] == "invalid")


def test_a_nul_byte_in_a_page_url_is_a_plain_400(client: Client) -> None:
    assert client.get("/datasets/?q=%00").status_code == 400
