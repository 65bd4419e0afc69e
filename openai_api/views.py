"""The OpenAI-compatible inference endpoints: models, chat completions, completions.

Views authenticate (deployment keys, user tokens, browser sessions with CSRF), parse the body
and call ``openai_api.inference.answer``; every error is an OpenAI error object.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from openai_api import errors, inference, shapes
from openai_api.requests import parse_chat, parse_completion
from openai_api.schema import OpenAIAutoSchema, openai_error_responses
from serving import registry
from serving.auth import InferenceAuthentication, MayInfer, caller_of
from serving.models import DeploymentKey

TAGS = ["OpenAI-compatible"]


class OpenAIView(APIView):
    """Base of every ``/v1/`` view: our authentication and OpenAI-shaped errors."""

    authentication_classes = [InferenceAuthentication, SessionAuthentication]
    permission_classes = [MayInfer]
    schema = OpenAIAutoSchema()

    def get_exception_handler(self) -> Any:
        return errors.exception_handler


def json_body(request: Request) -> Any:
    """The decoded JSON body, whatever the content type says; 400 when it is not JSON."""
    try:
        return json.loads(request._request.body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise errors.bad_request(
            f"We could not parse the JSON body of your request: {exc}"
        ) from exc


def _owner(target: registry.ModelTarget) -> str:
    return f"project-{target.project_id}" if target.deployment else "soberana"


def _created(target: registry.ModelTarget) -> int:
    row = target.deployment or target.base_model
    return int(row.created_at.timestamp()) if row is not None else 0


class ModelListView(OpenAIView):
    """``GET /v1/models``: base models and the deployments the caller may query."""

    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT, operation_id="v1_models_list")
    def get(self, request: Request) -> Response:
        key = request.auth if isinstance(request.auth, DeploymentKey) else None
        targets = registry.models_for(request.user, key)
        items = [shapes.model_object(t.name, _created(t), _owner(t)) for t in targets]
        return Response({"object": "list", "data": items})


class ModelDetailView(OpenAIView):
    """``GET /v1/models/{model}``; 404 ``model_not_found`` for anything the caller cannot use."""

    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, model: str) -> Response:
        key = request.auth if isinstance(request.auth, DeploymentKey) else None
        try:
            target = registry.resolve(request.user, key, model)
        except registry.ModelUnavailable as exc:
            raise errors.model_not_found(model) from exc
        return Response(shapes.model_object(target.name, _created(target), _owner(target)))


def _respond(result: Any) -> Response | StreamingHttpResponse:
    if isinstance(result, dict):
        return Response(result)
    response = StreamingHttpResponse(result, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events on as they come
    return response


# An answer is one JSON object, or server-sent events with ``"stream": true``; a model the caller
# may not use is 404 and a caller over its requests-per-minute limit gets 429.
ANSWERS = {
    (200, "application/json"): OpenApiTypes.OBJECT,
    (200, "text/event-stream"): OpenApiTypes.STR,
    **openai_error_responses(404, 429),
}


class ChatCompletionsView(OpenAIView):
    """``POST /v1/chat/completions``, whole or streamed as server-sent events."""

    @extend_schema(tags=TAGS, request=OpenApiTypes.OBJECT, responses=ANSWERS)
    def post(self, request: Request) -> Any:
        parsed = parse_chat(json_body(request))
        return _respond(inference.answer(caller_of(request), parsed))


class CompletionsView(OpenAIView):
    """``POST /v1/completions`` (legacy text completions), whole or streamed."""

    @extend_schema(tags=TAGS, request=OpenApiTypes.OBJECT, responses=ANSWERS)
    def post(self, request: Request) -> Any:
        parsed = parse_completion(json_body(request))
        return _respond(inference.answer(caller_of(request), parsed))
