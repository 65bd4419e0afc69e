"""Export of merged model weights (owners, password typed again, audited)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, viewsets
from rest_framework.exceptions import Throttled
from rest_framework.request import Request

from accounts.roles import Action
from accounts.services import project_ids_allowing
from audit.services import actor_from_request
from ops.schema import error_responses
from serving import export
from serving.api import serializers as s
from trainer.models import ModelVersion

LOCKED = "Too many wrong passwords: this account is locked out for a while, as at sign-in."


class ModelExportViewSet(viewsets.ViewSet):
    """``POST /api/v1/model-exports/``: download a model version's merged weights (safetensors
    or GGUF)."""

    @extend_schema(
        request=s.ModelExportSerializer,
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            **error_responses(409),  # a release check (the privacy audit) refuses the version
            **error_responses(429),  # too many wrong passwords: the sign-in's lockout
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
                request=request._request,
                fmt=data["format"],
                passphrase=data["passphrase"],
                weights=data["weights"],
            )
        except export.ReauthenticationLocked as exc:
            raise Throttled(wait=_cooloff_seconds(), detail=LOCKED) from exc
        except export.ReauthenticationFailed as exc:
            raise exceptions.PermissionDenied("Your password is required again to export.") from exc
        except export.ExportError as exc:
            raise exceptions.ValidationError({exc.field: [exc.message]}) from exc
        response = HttpResponse(exported.data, content_type=exported.content_type)
        response["Content-Disposition"] = f'attachment; filename="{exported.filename}"'
        response["Cache-Control"] = "no-store"
        return response


def _cooloff_seconds() -> int:
    from django.conf import settings

    return int(float(settings.AXES_COOLOFF_TIME) * 3600)
