"""The audit explorer for platform admins: the trail filtered (actor, action, outcome,
object, time), denials highlighted, the hash chain verified, the filtered view as CSV (cells
neutralized against spreadsheet formulas, as the API's export does), a page at a time."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from audit.api.views import CSV_FIELDS, csv_cell
from audit.models import AuditEvent, Outcome
from audit.services import verify_chain

PAGE_SIZE = 50
TIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]


class AuditFilterForm(forms.Form):
    """The explorer's filters; every one is optional. An action ending in ``*`` is a prefix."""

    actor = forms.CharField(required=False, max_length=150)
    action = forms.CharField(
        required=False, max_length=64, help_text="e.g. model.export or denied.*"
    )
    outcome = forms.ChoiceField(required=False, choices=[("", "any"), *Outcome.choices])
    object_type = forms.CharField(required=False, max_length=64)
    object_id = forms.CharField(required=False, max_length=64)
    since = forms.DateTimeField(
        required=False,
        input_formats=TIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    until = forms.DateTimeField(
        required=False,
        input_formats=TIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )


def filter_events(filters: dict[str, Any]) -> QuerySet[AuditEvent]:
    """Entries matching the cleaned ``filters`` of AuditFilterForm, newest first."""
    queryset = AuditEvent.objects.order_by("-id")
    exact = {"actor": "actor_username", "outcome": "outcome", "object_type": "object_type"}
    for name, lookup in {**exact, "object_id": "object_id"}.items():
        if filters.get(name):
            queryset = queryset.filter(**{lookup: filters[name]})
    action = filters.get("action") or ""
    if action.endswith("*"):
        queryset = queryset.filter(action__startswith=action[:-1])
    elif action:
        queryset = queryset.filter(action=action)
    if filters.get("since"):
        queryset = queryset.filter(created_at__gte=filters["since"])
    if filters.get("until"):
        queryset = queryset.filter(created_at__lte=filters["until"])
    return queryset


def _admin_filters(request: HttpRequest) -> AuditFilterForm:
    """The filter form of a platform admin's request; 403 for anyone else."""
    if not request.user.is_superuser:
        raise PermissionDenied("The audit explorer is for platform administrators.")
    return AuditFilterForm(request.GET)


@login_required
def explorer(request: HttpRequest) -> HttpResponse:
    """One page of the filtered trail with the chain's verification status."""
    form = _admin_filters(request)
    events = filter_events(form.cleaned_data) if form.is_valid() else AuditEvent.objects.none()
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    for event in page:
        event.details_text = json.dumps(event.details, ensure_ascii=False, sort_keys=True)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "chain": verify_chain(),
    }
    return render(request, "audit/explorer.html", context, status=400 if form.errors else 200)


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
def export_csv(request: HttpRequest) -> HttpResponse:
    """The filtered entries as CSV, every cell neutralized (``csv_cell``)."""
    form = _admin_filters(request)
    if not form.is_valid():
        return HttpResponse("Invalid filters.", status=400, content_type="text/plain")
    response = StreamingHttpResponse(
        _csv_lines(filter_events(form.cleaned_data)), content_type="text/csv"
    )
    response["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
    return response


def _csv_lines(events: QuerySet[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_FIELDS)
    for event in events.iterator():
        yield writer.writerow([csv_cell(getattr(event, name)) for name in CSV_FIELDS])
