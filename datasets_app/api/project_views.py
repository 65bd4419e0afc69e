"""Project-level data-risk settings: source trust rules and the approval policy, under
``/api/v1/projects/{id}/`` (routes in ``datasets_app/api/urls.py``)."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Action
from accounts.services import project_ids_allowing, require
from audit.services import actor_from_request
from datasets_app import risk
from datasets_app.api import serializers as s
from datasets_app.models import SourceRule
from ops.schema import error_responses


def _project_id(request: Request, pk: int) -> int:
    """A project the caller is a member of (404 otherwise)."""
    if pk not in project_ids_allowing(request.user, Action.VIEW_PROJECT):
        raise Http404
    return pk


class SourceRulesView(APIView):
    """``/api/v1/projects/{id}/source-rules/``: members read the rules, stewards set them."""

    @extend_schema(
        operation_id="projects_source_rules_list", responses=s.SourceRuleSerializer(many=True)
    )
    def get(self, request: Request, pk: int) -> Response:
        rules = SourceRule.objects.filter(project_id=_project_id(request, pk))
        return Response(s.SourceRuleSerializer(rules, many=True).data)

    @extend_schema(
        operation_id="projects_source_rules_set",
        request=s.SourceRuleUpdateSerializer,
        responses={200: s.SourceRuleSerializer(many=True), **error_responses(403)},
    )
    def post(self, request: Request, pk: int) -> Response:
        project_id = _project_id(request, pk)
        actor = actor_from_request(request)
        require(actor, project_id, Action.APPROVE_DATASET)  # a role that may not: 403
        form = s.SourceRuleUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        risk.set_source_rule(actor, project_id, **form.validated_data)
        rules = SourceRule.objects.filter(project_id=project_id)
        return Response(s.SourceRuleSerializer(rules, many=True).data)


class DataRiskPolicyView(APIView):
    """``/api/v1/projects/{id}/data-risk-policy/``: members read it, owners change it."""

    @extend_schema(
        operation_id="projects_data_risk_policy_retrieve", responses=s.DataRiskPolicySerializer
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(_body(_project_id(request, pk)))

    @extend_schema(
        operation_id="projects_data_risk_policy_partial_update",
        request=s.DataRiskPolicySerializer,
        responses={200: s.DataRiskPolicySerializer, **error_responses(403)},
    )
    def patch(self, request: Request, pk: int) -> Response:
        project_id = _project_id(request, pk)
        actor = actor_from_request(request)
        require(actor, project_id, Action.MANAGE_SETTINGS)
        form = s.DataRiskPolicySerializer(data=request.data)
        form.is_valid(raise_exception=True)
        risk.set_policy(actor, project_id, **form.validated_data)
        return Response(_body(project_id))


def _body(project_id: int) -> dict[str, Any]:
    policy = risk.policy_for(project_id)
    return {"require_no_pending_risk_flags": policy.require_no_pending_risk_flags}
