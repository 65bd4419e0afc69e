"""Files and fine-tuning jobs of the OpenAI-compatible API (users only, not deployment keys).

A user in several projects names one with the ``OpenAI-Project`` header (the ``project=``
argument of the OpenAI clients: a project id, ``proj-<id>`` or its name) or a ``project`` field.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Project
from audit.services import actor_from_request
from datasets_app.api.views import resolve_upload_project, uploaded_file
from datasets_app.models import Dataset
from datasets_app.services import visible_datasets
from datasets_app.uploads import discard_request_uploads
from openai_api import errors, files, objects, shapes
from openai_api import fine_tuning as ft
from openai_api.models import FineTuneJob
from openai_api.naming import BadId, parse_id
from openai_api.schema import openai_error_responses
from openai_api.views import TAGS, OpenAIView, json_body
from serving.auth import UserWithScopes
from trainer.models import BaseModel


class UserView(OpenAIView):
    permission_classes = [UserWithScopes]


def _limit(request: Request, default: int = 20) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise errors.bad_request("'limit' must be an integer between 1 and 100.", param="limit")
    return int(raw)


def _project_hint(request: Request) -> int | None:
    """The project named by the ``OpenAI-Project`` header or a ``project`` field, if any."""
    raw = request.META.get("HTTP_OPENAI_PROJECT") or request.data.get("project") or ""
    raw = str(raw).strip()
    if not raw:
        return None
    digits = raw.removeprefix("proj-").removeprefix("proj_")
    if digits.isdigit():
        return int(digits)
    project = Project.objects.filter(name=raw, memberships__user=request.user).first()
    if project is None:
        raise errors.not_found(f"No project named {raw!r}.", param="project")
    return project.pk


def _dataset(request: Request, raw: Any, param: str, *, missing: int = 404) -> Dataset:
    """A file the caller can see; an unknown or malformed one is 404 (or 400 where it is a
    body parameter, ``missing=400``)."""
    try:
        pk: int | None = parse_id(raw, "file")
    except BadId as exc:
        if missing == 400:
            raise errors.bad_request(f"Invalid file id: {raw!r}.", param=param) from exc
        pk = None  # a malformed id in the URL names no file, as fine-tuning job ids do
    dataset = visible_datasets(request.user).filter(pk=pk).first()
    if dataset is None:
        raise errors.OpenAIError(
            f"No such file: {raw!r}.",
            status_code=missing,
            param=param,
            code="invalid_file" if missing == 400 else "not_found",
        )
    return dataset


class FileListView(UserView):
    """``GET /v1/files`` and ``POST /v1/files`` (multipart: ``file``, ``purpose=fine-tune``)."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT, operation_id="v1_files_list")
    def get(self, request: Request) -> Response:
        datasets = visible_datasets(request.user).select_related("project")[: _limit(request, 100)]
        return Response(shapes.list_of([files.file_object(d) for d in datasets]))

    @extend_schema(
        tags=TAGS,
        request=OpenApiTypes.OBJECT,
        # 404: the project named (OpenAI-Project header or field) is not one of the caller's;
        # 415: a body that is not multipart or a form.
        responses={200: OpenApiTypes.OBJECT, **openai_error_responses(404, 415)},
    )
    def post(self, request: Request) -> Response:
        try:
            return self._create(request)
        except Exception:
            discard_request_uploads(request)  # whatever refused it, nothing references them
            raise

    def _create(self, request: Request) -> Response:
        purpose = request.data.get("purpose")
        project = resolve_upload_project(request, _project_hint(request))
        upload = uploaded_file(request)
        if purpose not in files.PURPOSES:
            raise errors.bad_request("'purpose' must be 'fine-tune'.", param="purpose")
        dataset = files.create_file(actor_from_request(request), project, upload)
        dataset.refresh_from_db()
        return Response(files.file_object(dataset))


class FileDetailView(UserView):
    """``GET`` and ``DELETE /v1/files/{file_id}`` (deleting crypto-shreds the file)."""

    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, file_id: str) -> Response:
        return Response(files.file_object(_dataset(request, file_id, "file_id")))

    # OpenAI answers a deletion with a body ({"id", "object", "deleted"}), hence 200, not 204.
    @extend_schema(tags=TAGS, responses={200: OpenApiTypes.OBJECT})
    def delete(self, request: Request, file_id: str) -> Response:
        dataset = _dataset(request, file_id, "file_id")
        files.delete_file(actor_from_request(request), dataset)
        return Response({"id": file_id, "object": "file", "deleted": True})


def _fine_tune_request(request: Request, body: Any) -> ft.FineTuneRequest:
    if not isinstance(body, dict):
        raise errors.bad_request("The request body must be a JSON object.")
    if body.get("integrations") not in (None, []):
        # Weights & Biases and the like would send training metrics off this machine: refused,
        # never silently dropped (the platform runs without network).
        raise errors.bad_request(
            "'integrations' is not supported by this server: metrics stay on this platform.",
            param="integrations",
        )
    training = _dataset(request, body.get("training_file"), "training_file", missing=400)
    validation = (
        _dataset(request, body["validation_file"], "validation_file", missing=400)
        if body.get("validation_file")
        else None
    )
    base = BaseModel.objects.filter(name=str(body.get("model") or "")).first()
    if base is None:
        raise errors.model_not_found(str(body.get("model")))
    seed = body.get("seed", 1234)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise errors.bad_request("'seed' must be an integer.", param="seed")
    method, method_type, from_method = ft.method_of(body.get("method"))
    return ft.FineTuneRequest(
        training_file=training,
        validation_file=validation,
        base_model=base,
        method=method,
        method_type=method_type,
        hyperparameters=ft.with_metadata_privacy(
            ft.merge_hyperparameters(body.get("hyperparameters"), from_method),
            body.get("metadata"),
        ),
        suffix=str(body.get("suffix") or ""),
        seed=seed,
    )


def _jobs(request: Request) -> QuerySet[FineTuneJob]:
    return ft.visible_fine_tunes(request.user)


def _job(request: Request, fine_tuning_job_id: str) -> FineTuneJob:
    try:
        pk = parse_id(fine_tuning_job_id, "ftjob")
    except BadId as exc:
        raise errors.not_found(f"No such fine-tuning job: {fine_tuning_job_id!r}.") from exc
    job = _jobs(request).filter(pk=pk).first()
    if job is None:
        raise errors.not_found(f"No such fine-tuning job: {fine_tuning_job_id!r}.")
    return job


class FineTuningJobListView(UserView):
    """``GET`` and ``POST /v1/fine_tuning/jobs``."""

    @extend_schema(
        tags=TAGS, responses=OpenApiTypes.OBJECT, operation_id="v1_fine_tuning_jobs_list"
    )
    def get(self, request: Request) -> Response:
        items = [objects.fine_tuning_job(job) for job in _jobs(request)]
        chosen, more = objects.page(items, request.query_params.get("after"), _limit(request))
        return Response(shapes.list_of(chosen, has_more=more))

    @extend_schema(tags=TAGS, request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        try:
            job = ft.create_fine_tune(
                actor_from_request(request), _fine_tune_request(request, json_body(request))
            )
        except ft.FineTuneRequestError as exc:
            raise errors.bad_request(exc.message, param=exc.param) from exc
        job.refresh_from_db()
        return Response(objects.fine_tuning_job(_job(request, f"ftjob-{job.pk}")))


class FineTuningJobDetailView(UserView):
    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, fine_tuning_job_id: str) -> Response:
        return Response(objects.fine_tuning_job(_job(request, fine_tuning_job_id)))


class FineTuningJobCancelView(UserView):
    @extend_schema(tags=TAGS, request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, fine_tuning_job_id: str) -> Response:
        job = ft.cancel_fine_tune(actor_from_request(request), _job(request, fine_tuning_job_id))
        return Response(objects.fine_tuning_job(job))


class FineTuningJobEventsView(UserView):
    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, fine_tuning_job_id: str) -> Response:
        items = objects.events(_job(request, fine_tuning_job_id))
        chosen, more = objects.page(items, request.query_params.get("after"), _limit(request))
        return Response(shapes.list_of(chosen, has_more=more))


class FineTuningJobCheckpointsView(UserView):
    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, fine_tuning_job_id: str) -> Response:
        items = objects.checkpoint_objects(_job(request, fine_tuning_job_id))
        chosen, more = objects.page(items, request.query_params.get("after"), _limit(request, 10))
        return Response(shapes.list_of(chosen, has_more=more))
