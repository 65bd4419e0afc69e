"""Deployments API: viewsets authorize through scoped querysets and call one service each."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Action
from accounts.services import project_ids_allowing
from audit.services import actor_from_request
from ops.api import Conflict
from ops.schema import error_responses
from serving import services
from serving.api import serializers as s
from serving.models import Deployment
from trainer.models import ModelVersion


def _refusal(exc: services.DeploymentError) -> Exception:
    if exc.status_code == 409:
        return Conflict(exc.message)
    return ValidationError({exc.field: [exc.message]})


class DeploymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Serve trained model versions, manage their API keys, read their usage."""

    serializer_class = s.DeploymentSerializer
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[Deployment]:
        queryset = services.visible_deployments_any_status(self.request.user)
        if self.request.query_params.get("status"):
            queryset = queryset.filter(status=self.request.query_params["status"])
        return queryset.select_related("created_by")

    @extend_schema(
        request=s.DeploymentCreateSerializer,
        responses={201: s.DeploymentSerializer, **error_responses(409)},
    )
    def create(self, request: Request) -> Response:
        form = s.DeploymentCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        ids = project_ids_allowing(request.user, Action.VIEW_PROJECT)
        version = ModelVersion.objects.filter(
            pk=form.validated_data["model_version"], project_id__in=ids
        ).first()
        if version is None:
            raise ValidationError({"model_version": ["No such model version."]})
        try:
            deployment = services.create_deployment(
                actor_from_request(request),
                version,
                suffix=form.validated_data["suffix"],
                pii_filter=form.validated_data["pii_filter"],
            )
        except services.DeploymentError as exc:
            raise _refusal(exc) from exc
        return Response(self.get_serializer(deployment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.DeploymentUpdateSerializer, responses=s.DeploymentSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        form = s.DeploymentUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        deployment = services.set_pii_filter(
            actor_from_request(request), self.get_object(), form.validated_data["pii_filter"]
        )
        return Response(self.get_serializer(deployment).data)

    @extend_schema(request=None, responses=s.DeploymentSerializer)
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str | None = None) -> Response:
        deployment = services.stop_deployment(actor_from_request(request), self.get_object())
        return Response(self.get_serializer(deployment).data)

    @extend_schema(methods=["GET"], responses=s.DeploymentKeySerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=s.DeploymentKeyCreateSerializer,
        responses={201: s.IssuedKeySerializer, **error_responses(409)},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)  # every key, one list
    def keys(self, request: Request, pk: str | None = None) -> Response:
        deployment = self.get_object()
        if request.method == "GET":
            return Response(s.DeploymentKeySerializer(deployment.keys.all(), many=True).data)
        form = s.DeploymentKeyCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            issued = services.issue_deployment_key(
                actor_from_request(request), deployment, **form.validated_data
            )
        except services.DeploymentError as exc:
            raise _refusal(exc) from exc
        body = {**s.DeploymentKeySerializer(issued.key).data, "key": issued.raw}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses=s.DeploymentKeySerializer,
        parameters=[OpenApiParameter("key_id", int, OpenApiParameter.PATH)],
    )
    @action(detail=True, methods=["post"], url_path=r"keys/(?P<key_id>\d+)/revoke")
    def revoke_key(self, request: Request, pk: str | None = None, key_id: str = "") -> Response:
        key = self.get_object().keys.filter(pk=int(key_id)).first()
        if key is None:
            raise NotFound("No such key.")
        key = services.revoke_deployment_key(actor_from_request(request), key)
        return Response(s.DeploymentKeySerializer(key).data)

    @extend_schema(request=s.QueryContentRequestSerializer, responses={200: dict})
    @action(detail=True, methods=["post"], url_path="query-content")
    def query_content(self, request: Request, pk: str | None = None) -> Response:
        """The newest logged prompts and answers of the deployment (owners only, with a reason
        that is audited); empty unless ``SOBERANA_SERVING_LOG_CONTENT`` was on."""
        form = s.QueryContentRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            entries = services.read_query_content(
                actor_from_request(request),
                self.get_object(),
                reason=form.validated_data["reason"],
                limit=form.validated_data["limit"],
            )
        except ValueError as exc:
            raise ValidationError({"reason": [str(exc)]}) from exc
        return Response({"logging": settings.SERVING_LOG_CONTENT, "results": entries})

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def usage(self, request: Request, pk: str | None = None) -> Response:
        rows = services.usage_for_deployment(self.get_object())
        return Response(
            {
                "totals": services.usage_totals(rows),
                "results": s.UsageDaySerializer(rows[:500], many=True).data,
            }
        )
