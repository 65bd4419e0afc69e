"""Issue 18 item 4: hostile input never causes a server error.

JSON nested 1,000 levels deep on JSON endpoints, upload options of the wrong types (at upload
and at ``/uploads/{id}/complete/``), and lone surrogates in the OpenAI-compatible endpoints all
answer 400."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets_app.chunked import MIN_CHUNK_BYTES

DEEP = "[" * 1000 + "]" * 1000
JSON_ENDPOINTS = [
    "/api/v1/projects/",
    "/api/v1/uploads/",
    "/api/v1/tokens/",
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/fine_tuning/jobs",
]
BAD_OPTIONS = [
    {"score_threshold": "abc"},
    {"split_ratios": ["a", "b", "c"]},
    {"operators_by_type": [1]},
    {"split_seed": float("inf")},
    {"split_seed": True},
    {"cleaning": {"min_chars": "abc"}},
    {"cleaning": {"bogus": 1}},
    {"cleaning": []},
    {"text_columns": "text"},
    {"allow_list": "x"},
    {"skip_bad_lines": "yes"},
]


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
def test_deeply_nested_json_answers_400(cast: Any, api_client_for: Any, path: str) -> None:
    client = api_client_for(cast.owner)
    response = client.post(path, DEEP, content_type="application/json")
    assert response.status_code == 400, (path, response.status_code, response.content[:200])


def _options_body(options: dict[str, Any]) -> str:
    # json.dumps writes inf as Infinity; the attack sent 1e400, which parses to inf as well.
    return json.dumps(options).replace("Infinity", "1e400")


@pytest.mark.parametrize("options", BAD_OPTIONS, ids=lambda o: json.dumps(o)[:40])
def test_upload_options_of_the_wrong_type_answer_400_naming_the_option(
    cast: Any, api_client_for: Any, monkeypatch: Any, options: dict[str, Any]
) -> None:
    monkeypatch.setattr("datasets_app.services._enqueue_ingestion", lambda _id: None)
    response = api_client_for(cast.steward).post(
        "/api/v1/datasets/",
        {
            "file": SimpleUploadedFile("t.jsonl", b'{"text": "hello"}\n'),
            "project": cast.project.pk,
            "options": _options_body(options),
        },
        format="multipart",
    )
    assert response.status_code == 400, response.content
    assert next(iter(options)) in response.content.decode()


@pytest.mark.parametrize("options", BAD_OPTIONS, ids=lambda o: json.dumps(o)[:40])
def test_options_of_the_wrong_type_at_upload_complete_answer_400(
    cast: Any, api_client_for: Any, monkeypatch: Any, options: dict[str, Any]
) -> None:
    monkeypatch.setattr("datasets_app.services._enqueue_ingestion", lambda _id: None)
    client = api_client_for(cast.steward)
    body = b'{"text": "hello"}\n'
    start = client.post(
        "/api/v1/uploads/",
        {
            "filename": "t.jsonl",
            "total_size": len(body),
            "project": cast.project.pk,
            "chunk_size": MIN_CHUNK_BYTES,
        },
        format="json",
    )
    upload = start.json()["id"]
    put = client.put(
        f"/api/v1/uploads/{upload}/chunks/0/", data=body, content_type="application/octet-stream"
    )
    assert put.status_code == 200, put.content
    response = client.post(
        f"/api/v1/uploads/{upload}/complete/",
        '{"options": ' + _options_body(options) + "}",
        content_type="application/json",
    )
    assert response.status_code == 400, response.content


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/v1/chat/completions",
            '{"model": "tiny", "messages": [{"role": "user", "content": "\\ud800"}]}',
        ),
        ("/v1/completions", '{"model": "tiny", "prompt": "a\\ud800b"}'),
        ("/v1/completions", '{"model": "tiny", "prompt": ["\\udc00"]}'),
    ],
)
def test_lone_surrogates_answer_400_in_the_openai_shape(
    cast: Any, api_client_for: Any, tiny_base_model: Any, path: str, body: str
) -> None:
    client = api_client_for(cast.engineer, ["inference"])
    response = client.post(path, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_a_valid_surrogate_pair_is_accepted_by_the_json_check() -> None:
    from ops.middleware import has_lone_surrogate

    assert not has_lone_surrogate(json.loads('{"a": ["\\ud83d\\ude00"]}'))
    assert has_lone_surrogate(json.loads('{"\\ud800": 1}'))


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/projects/{project}/", "/api/v1/tokens/"])
def test_a_form_body_with_too_many_fields_answers_400_in_the_api_envelope(
    cast: Any, api_client_for: Any, settings: Any, path: str
) -> None:
    """Django refuses the body while DRF parses it (TooManyFieldsSent): the API's JSON 400,
    not Django's HTML page (schemathesis found it on a bulk-decision endpoint)."""
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    body = "&".join(f"ids={n}" for n in range(50))
    response = api_client_for(cast.owner).generic(
        "PATCH" if "projects" in path else "POST",
        path.format(project=cast.project.pk),
        body,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "parse_error"
