"""Datasets API: viewsets authorize through scoped querysets and call one service each."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Project
from accounts.roles import Action
from accounts.services import project_ids_allowing, require
from audit.services import actor_from_request, record_event
from datasets_app import chunked, risk, services
from datasets_app.api import serializers as s
from datasets_app.models import ChunkedUpload, Dataset
from datasets_app.options import IngestOptions
from datasets_app.uploads import EncryptedUpload, UploadTooLarge, discard_request_uploads
from ops.schema import error_responses


def resolve_upload_project(request: Request, project_id: int | None) -> Project:
    """The project to upload into: the one named, or the caller's only project allowing it."""
    allowed = project_ids_allowing(request.user, Action.UPLOAD_DATA)
    if project_id is not None:
        project = Project.objects.filter(pk=project_id).first()
        if project is None or not project.memberships.filter(user=request.user).exists():
            raise NotFound("No such project.")
        require(actor_from_request(request), project.pk, Action.UPLOAD_DATA, obj=project)
        return project
    if len(allowed) == 1:
        return Project.objects.get(pk=allowed[0])
    if not allowed:
        _deny_upload(request)
    raise ValidationError({"project": ["You belong to several projects; name one."]})


def _deny_upload(request: Request) -> None:
    """Audit and refuse an upload by a caller whose roles allow it in no project."""
    record_event(actor_from_request(request), "denied.upload_data", outcome="denied")
    raise PermissionDenied("Your role does not allow uploading data.")


def uploaded_file(request: Request) -> EncryptedUpload:
    """The encrypted upload of the request, or a 400/413 explaining what went wrong."""
    upload = request.FILES.get("file")  # parses the body: the size check happens here
    if getattr(request._request, "upload_too_large", False):
        from ops.api import PayloadTooLarge

        raise PayloadTooLarge()
    if upload is None and getattr(request._request, "upload_refused", False):
        _deny_upload(request)
    if upload is None:
        raise ValidationError({"file": ["No file was uploaded."]})
    if not isinstance(upload, EncryptedUpload):
        raise ValidationError({"file": ["Upload could not be stored."]})
    if upload.size == 0:
        raise ValidationError({"file": [f"{upload.name} is empty."]})
    return upload


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("project", int, description="Only this project's.")]
    )
)
class DatasetViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Upload, inspect, review, approve and delete datasets."""

    serializer_class = s.DatasetSerializer
    lookup_value_converter = "int"
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[Dataset]:
        queryset = services.visible_datasets(self.request.user).select_related("project")
        project = self.request.query_params.get("project")
        if project and project.isdigit():
            # project__pk, not project_id: an id too large for the database then matches nothing
            # instead of overflowing (Django bounds integer lookups on the key, not the column).
            queryset = queryset.filter(project__pk=int(project))
        return queryset

    @extend_schema(
        request={"multipart/form-data": s.DatasetUploadSerializer},
        # 404: the project named is not one of the caller's.
        responses={202: s.DatasetSerializer, **error_responses(404, 413)},
    )
    def create(self, request: Request) -> Response:
        try:
            return self._create(request)
        except Exception:
            discard_request_uploads(request)  # whatever refused it, nothing references them
            raise

    def _create(self, request: Request) -> Response:
        form = s.DatasetUploadSerializer(data=request.data)  # parses the multipart body
        project = resolve_upload_project(request, _optional_int(request.data.get("project")))
        upload = uploaded_file(request)
        form.is_valid(raise_exception=True)
        options = IngestOptions.from_dict(form.validated_data.get("options") or {})
        dataset = services.create_dataset(
            actor_from_request(request),
            project,
            name=form.validated_data.get("name", ""),
            upload=upload,
            options=options,
        )
        return Response(self.get_serializer(dataset).data, status=status.HTTP_202_ACCEPTED)

    def perform_destroy(self, instance: Dataset) -> None:
        services.delete_dataset(actor_from_request(self.request), instance)

    @extend_schema(
        request=None, responses={200: s.DatasetVersionSerializer, **error_responses(409)}
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        version = services.approve_dataset(actor_from_request(request), self.get_object())
        return Response(s.DatasetVersionSerializer(version).data)

    @extend_schema(request=None, responses={200: s.DatasetSerializer, **error_responses(409)})
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str | None = None) -> Response:
        """Reopen review of an approved dataset; the next approval makes a new version."""
        dataset = services.reopen_dataset(actor_from_request(request), self.get_object())
        return Response(self.get_serializer(dataset).data)

    @extend_schema(
        request=s.ReidentificationSerializer, responses={200: dict, **error_responses(409)}
    )
    @action(detail=True, methods=["post"])
    def reidentification(self, request: Request, pk: str | None = None) -> Response:
        """The re-identification map of a version (owners only; the reason is audited)."""
        form = s.ReidentificationSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        dataset = self.get_object()
        # The role first: a non-owner learns nothing about which versions exist.
        require(actor_from_request(request), dataset.project_id, Action.REIDENTIFY, obj=dataset)
        number = form.validated_data.get("version")
        versions = dataset.versions.all()
        version = versions.filter(number=number).first() if number else versions.first()
        if version is None:
            raise NotFound("No such version.")
        try:
            mapping = services.read_reidentification_map(
                actor_from_request(request), dataset, version, reason=form.validated_data["reason"]
            )
        except ValueError as exc:
            raise ValidationError({"reason": [str(exc)]}) from exc
        return Response({"version": version.number, "map": mapping})

    @extend_schema(responses=s.FindingSerializer(many=True))
    @action(detail=True, methods=["get"])
    def findings(self, request: Request, pk: str | None = None) -> Response:
        queryset = services.findings_for(actor_from_request(request), self.get_object())
        for param in ("decision", "entity_type"):
            if request.query_params.get(param):
                queryset = queryset.filter(**{param: request.query_params[param]})
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(s.FindingSerializer(page, many=True).data)

    @extend_schema(request=s.BulkDecisionSerializer, responses={200: dict, **error_responses(409)})
    @action(detail=True, methods=["post"], url_path="findings/bulk-decision")
    def bulk_decision(self, request: Request, pk: str | None = None) -> Response:
        form = s.BulkDecisionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        count = services.bulk_decide(
            actor_from_request(request),
            self.get_object(),
            data["decision"],
            entity_types=data.get("entity_types"),
            min_score=data.get("min_score"),
            max_score=data.get("max_score"),
        )
        return Response({"updated": count})

    @extend_schema(
        request=s.DecisionSerializer,
        responses={200: s.FindingSerializer, **error_responses(409)},
    )
    @action(detail=True, methods=["post"], url_path=r"findings/(?P<finding_id>\d+)/decision")
    def decide(self, request: Request, pk: str | None = None, finding_id: str = "") -> Response:
        dataset = self.get_object()
        finding = dataset.findings.filter(pk=int(finding_id)).first()
        if finding is None:
            raise NotFound("No such finding.")
        form = s.DecisionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            finding = services.decide_finding(
                actor_from_request(request),
                finding,
                form.validated_data["decision"],
                start=form.validated_data.get("start"),
                end=form.validated_data.get("end"),
            )
        except ValueError as exc:
            raise ValidationError({"span": [str(exc)]}) from exc
        return Response(s.FindingSerializer(finding).data)

    @extend_schema(
        request=s.NewFindingSerializer,
        responses={201: s.FindingSerializer, **error_responses(409)},
    )
    @action(detail=True, methods=["post"], url_path="findings/add")
    def add_finding(self, request: Request, pk: str | None = None) -> Response:
        form = s.NewFindingSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            finding = services.add_finding(
                actor_from_request(request), self.get_object(), **form.validated_data
            )
        except ValueError as exc:
            raise ValidationError({"record_index": [str(exc)]}) from exc
        return Response(s.FindingSerializer(finding).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            OpenApiParameter("offset", int, description="First record (0 by default)."),
            OpenApiParameter("limit", int, description="How many records (20 by default)."),
            OpenApiParameter("raw", str, description="1 or true: the text before redaction."),
        ],
        responses={200: dict, **error_responses(400)},
    )
    @action(detail=True, methods=["get"])
    def records(self, request: Request, pk: str | None = None) -> Response:
        params = request.query_params
        records = services.read_records(
            actor_from_request(request),
            self.get_object(),
            offset=_int_param(params, "offset", 0),
            limit=_int_param(params, "limit", 20),
            raw=params.get("raw") in ("1", "true"),
        )
        return Response({"results": records})

    @extend_schema(responses={200: s.CleaningExamplesSerializer, **error_responses(409)})
    @action(detail=True, methods=["get"], url_path="cleaning-examples")
    def cleaning_examples(self, request: Request, pk: str | None = None) -> Response:
        """What each cleaning step changed or dropped, with examples quoting raw text (data
        stewards only; the read is audited)."""
        steps = services.read_cleaning_examples(actor_from_request(request), self.get_object())
        return Response({"steps": steps})

    @extend_schema(
        parameters=[
            OpenApiParameter("detector", str, description="Only this detector's flags."),
            OpenApiParameter("source", str, description="Only flags of this source key."),
            OpenApiParameter("decision", str, description="pending, accepted or dismissed."),
            OpenApiParameter("evidence", str, description="1: with evidence (raw, audited)."),
        ],
        responses=s.RiskFlagWithEvidenceSerializer(many=True),
    )
    @action(detail=True, methods=["get"], url_path="risk-flags")
    def risk_flags(self, request: Request, pk: str | None = None) -> Response:
        """The screen's flags (data stewards). With ``evidence=1`` each carries the text that
        shows it, hidden characters escaped; that read is audited as a raw read."""
        dataset = self.get_object()
        actor = actor_from_request(request)
        require(actor, dataset.project_id, Action.REVIEW_PII, obj=dataset)
        flags = dataset.risk_flags.all()
        for param in ("detector", "source", "decision"):
            if request.query_params.get(param):
                flags = flags.filter(**{param: request.query_params[param]})
        page = self.paginate_queryset(flags)
        if request.query_params.get("evidence") not in ("1", "true"):
            return self.get_paginated_response(s.RiskFlagSerializer(page, many=True).data)
        require(actor, dataset.project_id, Action.VIEW_RAW_DATA, obj=dataset)
        record_event(actor, "dataset.view_risk_evidence", obj=dataset, details={"n": len(page)})
        evidence = risk.read_evidence(dataset, (flag.evidence_line for flag in page))
        for flag in page:
            flag.evidence = evidence.get(flag.evidence_line, "")  # type: ignore[attr-defined]
        return self.get_paginated_response(s.RiskFlagWithEvidenceSerializer(page, many=True).data)

    @extend_schema(request=s.RiskDecisionSerializer, responses={200: dict, **error_responses(409)})
    @action(detail=True, methods=["post"], url_path="risk-flags/bulk-decision")
    def risk_decision(self, request: Request, pk: str | None = None) -> Response:
        """Accept (drop or quarantine the records), dismiss or reset flags in bulk: by
        detector, source, group or ids."""
        dataset = self.get_object()
        require(actor_from_request(request), dataset.project_id, Action.REVIEW_PII, obj=dataset)
        form = s.RiskDecisionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        count = risk.decide_risk_flags(actor_from_request(request), dataset, **form.validated_data)
        return Response({"updated": count})

    @extend_schema(responses=s.SourceSummarySerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def sources(self, request: Request, pk: str | None = None) -> Response:
        """Per source key: records, flags by detector and decision, trust, blocked records."""
        return Response(risk.source_summary(self.get_object()))

    @extend_schema(responses=s.DatasetVersionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)  # every version, one list
    def versions(self, request: Request, pk: str | None = None) -> Response:
        versions = self.get_object().versions.all()
        return Response(s.DatasetVersionSerializer(versions, many=True).data)


def _optional_int(raw: Any) -> int | None:
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError) as exc:
        raise ValidationError({"project": ["must be a project id"]}) from exc


def _int_param(params: Any, name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        return max(0, int(raw))
    except ValueError as exc:
        raise ValidationError({name: ["must be an integer"]}) from exc


# --- chunked, resumable uploads --------------------------------------------------------------

CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class ChunkedUploadViewSet(viewsets.GenericViewSet):
    """Start an upload, send its chunks (each encrypted on arrival), ask which arrived, complete.

    An upload belongs to the user who started it: anyone else gets 404.
    """

    serializer_class = s.UploadStateSerializer
    lookup_value_converter = "int"
    parser_classes = [JSONParser]

    def get_queryset(self) -> QuerySet[ChunkedUpload]:
        if getattr(self, "swagger_fake_view", False):
            # The schema generator calls this with no signed-in user; the model types the path.
            return ChunkedUpload.objects.none()
        return ChunkedUpload.objects.filter(created_by=self.request.user)

    @extend_schema(
        request=s.UploadStartSerializer,
        # 404: the project named is not one of the caller's.
        responses={201: s.UploadStateSerializer, **error_responses(404, 413)},
    )
    def create(self, request: Request) -> Response:
        form = s.UploadStartSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        project = resolve_upload_project(request, data.get("project"))
        with _chunk_errors():
            upload = chunked.start_upload(
                actor_from_request(request),
                project,
                filename=data["filename"],
                total_size=data["total_size"],
                chunk_size=data.get("chunk_size") or chunked.DEFAULT_CHUNK_BYTES,
            )
        return Response(chunked.upload_state(upload), status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.UploadStateSerializer)
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(chunked.upload_state(self.get_object()))

    @extend_schema(
        request={"application/octet-stream": bytes},
        responses={200: s.UploadStateSerializer, **error_responses(413)},
        parameters=[OpenApiParameter("index", int, OpenApiParameter.PATH)],
    )
    @action(detail=True, methods=["put"], url_path=r"chunks/(?P<index>\d+)")
    def chunk(self, request: Request, pk: str | None = None, index: str = "") -> Response:
        """The raw bytes of chunk ``index`` (``Content-Range``, when sent, must agree)."""
        upload = self.get_object()
        length = _content_length(request)
        _check_content_range(request, upload, int(index), length)
        with _chunk_errors():
            upload = chunked.store_chunk(
                actor_from_request(request), upload, int(index), request._request.read, length
            )
        return Response(chunked.upload_state(upload))

    @extend_schema(
        request=s.UploadCompleteSerializer,
        responses={202: s.DatasetSerializer, **error_responses(409)},
    )
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str | None = None) -> Response:
        upload = self.get_object()
        form = s.UploadCompleteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        options = IngestOptions.from_dict(form.validated_data.get("options") or {})
        dataset = chunked.complete_upload(
            actor_from_request(request),
            upload,
            name=form.validated_data.get("name", ""),
            options=options,
        )
        return Response(s.DatasetSerializer(dataset).data, status=status.HTTP_202_ACCEPTED)


@contextmanager
def _chunk_errors() -> Iterator[None]:
    """Map the upload service's refusals onto 413 and 400."""
    from ops.api import PayloadTooLarge

    try:
        yield
    except UploadTooLarge as exc:
        raise PayloadTooLarge() from exc
    except chunked.ChunkError as exc:
        raise ValidationError({"chunk": [str(exc)]}) from exc


def _content_length(request: Request) -> int:
    raw = request.META.get("CONTENT_LENGTH") or ""
    if not raw.isdigit():
        raise ValidationError({"chunk": ["Content-Length is required."]})
    return int(raw)


def _check_content_range(request: Request, upload: ChunkedUpload, index: int, length: int) -> None:
    """A ``Content-Range`` header, if any, must name exactly the bytes of chunk ``index``."""
    header = request.META.get("HTTP_CONTENT_RANGE")
    if not header:
        return
    match = CONTENT_RANGE.match(header.strip())
    first = index * upload.chunk_size
    if (
        match is None
        or (int(match[1]), int(match[2])) != (first, first + length - 1)
        or (match[3] != "*" and int(match[3]) != upload.total_size)
    ):
        raise ValidationError(
            {
                "chunk": [
                    f"Content-Range must be bytes {first}-{first + length - 1}/{upload.total_size}."
                ]
            }
        )
