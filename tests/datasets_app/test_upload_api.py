"""Uploading over the API: project resolution, bad input, size limits, roles."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Membership, Project


def _post(client: Any, content: bytes, name: str = "data.jsonl", **extra: Any) -> Any:
    upload = SimpleUploadedFile(name, content)
    return client.post("/api/v1/datasets/", {"file": upload, **extra}, format="multipart")


def test_user_with_several_roles_in_one_project_needs_not_name_it(
    cast: Any, api_client_for: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr("datasets_app.services._enqueue_ingestion", lambda _id: None)
    Membership.objects.create(project=cast.project, user=cast.steward, role="engineer")
    response = _post(api_client_for(cast.steward), b'{"text": "hello there"}\n')
    assert response.status_code == 202, response.content
    assert response.json()["project"] == cast.project.pk
    assert response.json()["status"] == "processing"


def test_member_of_two_projects_must_name_one(cast: Any, api_client_for: Any) -> None:
    other = Project.objects.create(name="Other")
    Membership.objects.create(project=other, user=cast.steward, role="steward")
    response = _post(api_client_for(cast.steward), b'{"text": "hello"}\n')
    assert response.status_code == 400
    assert "project" in response.json()["error"]["detail"]


def test_engineer_and_viewer_cannot_upload(cast: Any, api_client_for: Any) -> None:
    for user in (cast.engineer, cast.viewer):
        response = _post(api_client_for(user), b'{"text": "x"}\n', project=cast.project.pk)
        assert response.status_code in (400, 403), response.content


def test_outsider_cannot_upload_into_a_project_they_do_not_belong_to(
    cast: Any, api_client_for: Any
) -> None:
    response = _post(api_client_for(cast.outsider), b'{"text": "x"}\n', project=cast.project.pk)
    assert response.status_code == 404


def test_empty_file_is_refused_with_a_clear_message(cast: Any, api_client_for: Any) -> None:
    response = _post(api_client_for(cast.steward), b"", project=cast.project.pk)
    assert response.status_code == 400
    assert "empty" in response.json()["error"]["message"]


def test_missing_file_is_refused(cast: Any, api_client_for: Any) -> None:
    response = api_client_for(cast.steward).post(
        "/api/v1/datasets/", {"name": "x"}, format="multipart"
    )
    assert response.status_code == 400


def test_oversized_upload_answers_413_and_keeps_nothing(
    cast: Any, api_client_for: Any, settings: Any
) -> None:
    from vault.models import DataKey

    settings.MAX_UPLOAD_BYTES = 1000
    before = DataKey.objects.count()
    response = _post(
        api_client_for(cast.steward), b'{"text": "' + b"a" * 5000 + b'"}\n', project=cast.project.pk
    )
    assert response.status_code == 413
    assert DataKey.objects.count() == before


def test_unknown_option_is_refused_naming_it(cast: Any, api_client_for: Any) -> None:
    response = _post(
        api_client_for(cast.steward),
        b'{"text": "x"}\n',
        project=cast.project.pk,
        options='{"colour": "blue"}',
    )
    assert response.status_code == 400
    assert "colour" in response.json()["error"]["message"]
