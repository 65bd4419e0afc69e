"""The privacy audit of a model version (read, re-run, override) and the project's policy.

Lookups are scoped by membership (another project's object is a 404); the services authorize
the action and audit refusals.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Action
from accounts.services import membership_for, project_ids_allowing, require
from audit.services import actor_from_request
from ops.schema import error_responses
from privacy import policy, services
from privacy.api import serializers as s
from privacy.engine import default_thresholds
from privacy.models import PrivacyAudit, PrivacyPolicy, latest_audit
from trainer.models import ModelVersion


def _version(request: Request, pk: int) -> ModelVersion:
    return get_object_or_404(services.visible_versions(request.user), pk=pk)


def _audit_body(request: Request, audit: PrivacyAudit | None, version: ModelVersion) -> dict:
    """The audit's shape; a version never audited answers a ``not_run`` placeholder."""
    if audit is None:
        audit = PrivacyAudit(model_version=version, project_id=version.project_id, attempt=0)
        audit.state = ""
    access = membership_for(request.user, version.project_id)
    evidence = None
    if audit.pk and access is not None and access.allows(Action.VIEW_RAW_DATA):
        evidence = services.read_evidence(actor_from_request(request), audit)
    return s.PrivacyAuditSerializer(audit, context={"evidence": evidence}).data


class PrivacyAuditView(APIView):
    """``/api/v1/model-versions/{id}/privacy-audit/``: the newest audit; POST runs it again."""

    @extend_schema(
        operation_id="model_versions_privacy_audit_retrieve", responses=s.PrivacyAuditSerializer
    )
    def get(self, request: Request, pk: int) -> Response:
        version = _version(request, pk)
        return Response(_audit_body(request, latest_audit(version), version))

    @extend_schema(
        operation_id="model_versions_privacy_audit_create",
        request=None,
        responses={202: s.PrivacyAuditSerializer, **error_responses(409)},
    )
    def post(self, request: Request, pk: int) -> Response:
        version = _version(request, pk)
        audit = services.request_audit(actor_from_request(request), version)
        return Response(_audit_body(request, audit, version), status=status.HTTP_202_ACCEPTED)


class PrivacyOverrideView(APIView):
    """``/api/v1/model-versions/{id}/privacy-audit/override/``: an owner releases the version
    despite its audit, with a written reason."""

    @extend_schema(
        operation_id="model_versions_privacy_audit_override",
        request=s.OverrideSerializer,
        responses={200: s.PrivacyAuditSerializer, **error_responses(409)},
    )
    def post(self, request: Request, pk: int) -> Response:
        version = _version(request, pk)
        actor = actor_from_request(request)
        require(actor, version.project_id, Action.EXPORT_MODEL, obj=version)  # before the body
        form = s.OverrideSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        audit = services.override_verdict(actor, version, form.validated_data["reason"])
        return Response(_audit_body(request, audit, version))


class PrivacyPolicyView(APIView):
    """``/api/v1/projects/{id}/privacy-policy/``: members read it, owners change it."""

    @extend_schema(
        operation_id="projects_privacy_policy_retrieve", responses=s.PrivacyPolicySerializer
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(_policy_body(_project_id(request, pk)))

    @extend_schema(
        operation_id="projects_privacy_policy_partial_update",
        request=s.PrivacyPolicyUpdateSerializer,
        responses=s.PrivacyPolicySerializer,
    )
    def patch(self, request: Request, pk: int) -> Response:
        project_id = _project_id(request, pk)
        actor = actor_from_request(request)
        require(actor, project_id, Action.MANAGE_MEMBERS)  # a role that may not: 403, body unread
        form = s.PrivacyPolicyUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        services.set_policy(actor, project_id, form.validated_data["thresholds"])
        return Response(_policy_body(project_id))


def _project_id(request: Request, pk: int) -> int:
    """A project the caller is a member of (access follows membership: 404 otherwise)."""
    if pk not in project_ids_allowing(request.user, Action.VIEW_PROJECT):
        raise Http404
    return pk


def _policy_body(project_id: int) -> dict[str, Any]:
    row = PrivacyPolicy.objects.filter(project_id=project_id).first()
    return {
        "project": project_id,
        "thresholds": policy.thresholds_for(project_id),
        "defaults": default_thresholds(),
        "updated_at": row.updated_at if row else None,
    }
