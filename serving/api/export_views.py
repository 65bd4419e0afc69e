"""Export of merged model weights (owners, password typed again, audited)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, viewsets
from rest_framework.request import Request

from accounts.roles import Action
from accounts.services import project_ids_allowing
from audit.services import actor_from_request
from ops.schema import error_responses
from serving import export
from serving.api import serializers as s
from trainer.models import ModelVersion


class ModelExportViewSet(viewsets.ViewSet):
    """``POST /api/v1/model-exports/``: download a model version's merged weights (safetensors
    or GGUF)."""

    @extend_schema(
        request=s.ModelExportSerializer,
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            **error_responses(409),
        },
    )
    def create(self, request: Request) -> HttpResponse:
        form = s.ModelExportSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        ids = project_ids_allowing(request.user, Action.VIEW_PROJECT)
        version = ModelVersion.objects.filter(pk=data["model_version"], project_id__in=ids).first()
        if version is None:
            raise exceptions.ValidationError({"model_version": ["No such model version."]})
        try:
            exported = export.export_model(
                actor_from_request(request),
                version,
                password=data["password"],
                fmt=data["format"],
                passphrase=data["passphrase"],
                weights=data["weights"],
            )
        except export.ReauthenticationFailed as exc:
            raise exceptions.PermissionDenied("Your password is required again to export.") from exc
        except export.ExportError as exc:
            raise exceptions.ValidationError({exc.field: [exc.message]}) from exc
        response = HttpResponse(exported.data, content_type=exported.content_type)
        response["Content-Disposition"] = f'attachment; filename="{exported.filename}"'
        response["Cache-Control"] = "no-store"
        return response
