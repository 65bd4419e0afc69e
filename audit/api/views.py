"""``GET /api/v1/audit-events/``: admins read the trail, filter it, export it as CSV."""

from __future__ import annotations

import csv
import json
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from audit.models import AuditEvent
from ops.permissions import PlatformAdmin, TokenScopes
from ops.schema import error_responses

CSV_FIELDS = [
    "id",
    "created_at",
    "actor_username",
    "token_prefix",
    "source_ip",
    "user_agent",
    "action",
    "object_type",
    "object_id",
    "outcome",
    "details",
    "entry_hash",
]


# The filters of the list: query parameter -> queryset lookup.
FILTERS = {
    "actor": "actor_username",
    "action": "action",
    "object_type": "object_type",
    "object_id": "object_id",
    "outcome": "outcome",
    "since": "created_at__gte",
    "until": "created_at__lte",
}


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = CSV_FIELDS + ["prev_hash"]


class _Echo:
    def write(self, value: str) -> str:
        return value


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """Read-only for platform admins. Filters: actor, action, object_type, object_id, outcome,
    since, until (ISO times); ``?format=csv`` exports the filtered entries."""

    serializer_class = AuditEventSerializer
    lookup_value_converter = "int"
    permission_classes = [PlatformAdmin, TokenScopes]

    def get_queryset(self) -> QuerySet[AuditEvent]:
        params = self.request.query_params
        queryset = AuditEvent.objects.order_by("-id")
        for param, lookup in FILTERS.items():
            if params.get(param):
                queryset = queryset.filter(**{lookup: params[param]})
        if params.get("alert") in ("1", "true"):
            queryset = queryset.filter(action__startswith="alert.")
        if params.get("action_prefix"):
            queryset = queryset.filter(action__startswith=params["action_prefix"])
        return queryset

    @extend_schema(
        parameters=[
            *(OpenApiParameter(name, str) for name in FILTERS if name not in ("since", "until")),
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="Entries at or after."),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description="Entries at or before."),
            OpenApiParameter("action_prefix", str, description="e.g. `dataset.`"),
            OpenApiParameter("alert", str, enum=["1", "true"], description="Alerts only."),
            OpenApiParameter("format", str, enum=["csv"], description="Export as CSV."),
        ],
        responses={
            (200, "application/json"): AuditEventSerializer(many=True),
            (200, "text/csv"): OpenApiTypes.STR,
            **error_responses(400),  # a malformed since or until
        },
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        if request.query_params.get("format") == "csv":
            return self._csv(self.get_queryset())
        return super().list(request, *args, **kwargs)

    def _csv(self, queryset: QuerySet[AuditEvent]) -> StreamingHttpResponse:
        writer = csv.writer(_Echo())
        rows = (
            writer.writerow([csv_cell(getattr(e, f)) for f in CSV_FIELDS])
            for e in queryset.iterator()
        )
        header = writer.writerow(CSV_FIELDS)
        response = StreamingHttpResponse(_chain(header, rows), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
        return response


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value: Any) -> Any:
    """A value safe to open in a spreadsheet (OWASP "CSV Injection"): text that starts with
    ``= + - @``, a tab or a line break is prefixed with a single quote so it is shown, never
    evaluated as a formula. Non-text values (ids, times) pass unchanged; details (a dict)
    become their JSON text, checked the same way."""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _chain(first: str, rest: Any) -> Any:
    yield first
    yield from rest


__all__ = ["AuditEventViewSet", "Response"]
