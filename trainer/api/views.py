"""Jobs and base models API."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Action
from accounts.services import require
from audit.services import actor_from_request
from datasets_app.models import DatasetVersion
from datasets_app.services import visible_datasets
from trainer import checkpoints, services
from trainer.api import serializers as s
from trainer.canaries import validate_privacy_audit
from trainer.engine import registry
from trainer.models import BaseModel, ModelVersion, TrainingJob


class BaseModelViewSet(viewsets.ReadOnlyModelViewSet):
    """Base models any signed-in user may start a job from."""

    serializer_class = s.BaseModelSerializer
    lookup_value_converter = "int"
    queryset = BaseModel.objects.all()


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Create, follow and cancel training jobs."""

    serializer_class = s.JobSerializer
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[TrainingJob]:
        queryset = services.visible_jobs(self.request.user)
        if self.request.query_params.get("status"):
            queryset = queryset.filter(status=self.request.query_params["status"])
        return queryset

    @extend_schema(request=s.JobCreateSerializer, responses={201: s.JobSerializer})
    def create(self, request: Request) -> Response:
        form = s.JobCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        version = _resolve_version(request, data["dataset"], data.get("dataset_version"))
        validation = (
            _resolve_version(request, data["validation_dataset"], None, "validation_dataset")
            if data.get("validation_dataset")
            else None
        )
        base_model = _resolve_base_model(data.get("base_model"), data["method"])
        job = services.create_job(
            actor_from_request(request),
            version,
            base_model=base_model,
            method=data["method"],
            hyperparameters=data["hyperparameters"],
            priority=data["priority"],
            validation_version=validation,
            privacy_audit=data.get("privacy_audit"),
        )
        return Response(self.get_serializer(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.JobCreateSerializer, responses={200: dict})
    @action(detail=False, methods=["post"])
    def estimate(self, request: Request) -> Response:
        """Estimated peak memory and time of a job request, and whether it fits, without
        creating anything."""
        form = s.JobCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        version = _resolve_version(request, data["dataset"], data.get("dataset_version"))
        require(
            actor_from_request(request),
            version.dataset.project_id,
            Action.LAUNCH_JOB,
            obj=version.dataset,
        )
        base_model = _resolve_base_model(data.get("base_model"), data["method"])
        validate_privacy_audit(data.get("privacy_audit"))
        config = services.build_engine_config(
            version, base_model, data["method"], data["hyperparameters"]
        )
        return Response(services.estimate_job(config, base_model))

    @extend_schema(responses=s.JobEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def events(self, request: Request, pk: str | None = None) -> Response:
        events = self.get_object().events.all()
        kind = request.query_params.get("kind")
        if kind:
            events = events.filter(kind=kind)
        after = request.query_params.get("after")
        if after and after.isdigit():
            events = events.filter(pk__gt=int(after))
        page = self.paginate_queryset(events)
        return self.get_paginated_response(s.JobEventSerializer(page, many=True).data)

    @extend_schema(request=None, responses=s.JobSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        job = services.request_cancel(actor_from_request(request), self.get_object())
        return Response(self.get_serializer(job).data)

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def checkpoints(self, request: Request, pk: str | None = None) -> Response:
        return Response({"results": checkpoints.list_checkpoints(self.get_object())})


def _resolve_version(
    request: Request, dataset_id: int, version_id: int | None, field: str = "dataset"
) -> DatasetVersion:
    dataset = visible_datasets(request.user).filter(pk=dataset_id).first()
    if dataset is None:
        raise ValidationError({field: ["No such dataset."]})
    versions = dataset.versions.all()
    version = versions.filter(pk=version_id).first() if version_id else versions.first()
    if version is None and version_id and versions.exists():
        raise ValidationError(
            {field: [f"Version {version_id} is not a version of dataset {dataset_id}."]}
        )
    if version is None:
        raise ValidationError(
            {field: [f"The dataset is {dataset.status}, not approved: nothing can use it yet."]}
        )
    return version


def _resolve_base_model(base_model_id: int | None, method: str) -> BaseModel | None:
    if base_model_id is None:
        if not registry.method(method).needs_base_model:
            return None
        default = BaseModel.objects.filter(is_default=True).first()
        if default is None:
            raise ValidationError({"base_model": ["No base model given and none is the default."]})
        return default
    model = BaseModel.objects.filter(pk=base_model_id).first()
    if model is None:
        raise ValidationError({"base_model": ["No such base model."]})
    return model


class ModelVersionViewSet(viewsets.ReadOnlyModelViewSet):
    """Trained model versions of the caller's projects."""

    serializer_class = s.ModelVersionSerializer
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[ModelVersion]:
        from accounts.roles import Action
        from accounts.services import project_ids_allowing

        ids = project_ids_allowing(self.request.user, Action.VIEW_RESULTS)
        return ModelVersion.objects.filter(project_id__in=ids).select_related("job")
