"""Dataset pages: upload, review summary, approve, delete. Each authorizes and calls a service."""

from __future__ import annotations

import math
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.roles import Action
from accounts.services import PermissionDenied, membership_for
from audit.services import actor_from_request
from datasets_app import review as review_tools
from datasets_app import risk_views, services
from datasets_app.forms import BulkDecisionForm, UploadForm
from datasets_app.models import Dataset
from datasets_app.options import IngestOptions, OptionsError
from datasets_app.uploads import EncryptedUpload, discard_request_uploads


def _visible(request: HttpRequest, pk: int) -> Dataset:
    return get_object_or_404(services.visible_datasets(request.user), pk=pk)


@login_required
def upload(request: HttpRequest) -> HttpResponse:
    """Upload form; on success, the dataset page (which follows processing live)."""
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
    if getattr(request, "upload_too_large", False):
        return render(
            request, "datasets/upload.html", {"form": form, "too_large": True}, status=413
        )
    response = _handle_upload(request, form)
    if response is None:
        discard_request_uploads(request)  # a refused upload leaves nothing behind
        response = render(
            request, "datasets/upload.html", {"form": form}, status=400 if form.errors else 200
        )
    return response


def _handle_upload(request: HttpRequest, form: UploadForm) -> HttpResponse | None:
    if request.method == "POST" and form.is_valid():
        upload_file = form.cleaned_data["file"]
        if not isinstance(upload_file, EncryptedUpload) or upload_file.size == 0:
            form.add_error("file", "The file is empty.")
        else:
            try:
                options = IngestOptions(
                    skip_bad_lines=form.cleaned_data["skip_bad_lines"],
                    operator=form.cleaned_data["operator"],
                    source_column=form.cleaned_data["source_column"] or None,
                )
                dataset = services.create_dataset(
                    actor_from_request(request),
                    form.cleaned_data["project"],
                    name=form.cleaned_data["name"],
                    upload=upload_file,
                    options=options,
                )
                return redirect("dataset-page", pk=dataset.pk)
            except (OptionsError, PermissionDenied) as exc:
                form.add_error(None, str(exc))
    return None


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Status, reports, PII summary, a sample of redacted records, and the actions the role allows."""
    dataset = _visible(request, pk)
    membership = membership_for(request.user, dataset.project_id)
    can = {a.value: bool(membership and membership.allows(a)) for a in Action}
    sample: list[dict] = []
    if dataset.status in ("needs_review", "approved") and can["view_redacted_data"]:
        sample = services.read_records(actor_from_request(request), dataset, limit=10)
    context = {
        "dataset": dataset,
        "can": can,
        "sample": sample,
        "version": dataset.latest_version,
        "pending": dataset.findings.filter(decision="pending").count(),
        "bulk_form": BulkDecisionForm(),
        "cleaning_steps": _cleaning_examples(request, dataset),
        "sources": risk_views.sources_context(dataset),
    }
    return render(request, "datasets/detail.html", context)


def _cleaning_examples(request: HttpRequest, dataset: Dataset) -> list[dict[str, Any]] | None:
    """The cleaning examples when asked for (``?cleaning_examples=1``): they quote raw text,
    so each read is authorized and audited, not done on every page view."""
    if request.GET.get("cleaning_examples") != "1" or dataset.data_key_id is None:
        return None
    try:
        return services.read_cleaning_examples(actor_from_request(request), dataset)
    except PermissionDenied as exc:
        messages.error(request, _explain(exc))
        return None


@login_required
@require_POST
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = _visible(request, pk)
    try:
        version = services.approve_dataset(actor_from_request(request), dataset)
        messages.success(request, f"Approved as version {version.number}.")
    except (services.DatasetStateError, PermissionDenied) as exc:
        messages.error(request, _explain(exc))
    return redirect("dataset-page", pk=pk)


@login_required
@require_POST
def bulk_decision(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = _visible(request, pk)
    form = BulkDecisionForm(request.POST)
    if form.is_valid():
        types = [form.cleaned_data["entity_type"]] if form.cleaned_data["entity_type"] else None
        try:
            count = services.bulk_decide(
                actor_from_request(request),
                dataset,
                form.cleaned_data["decision"],
                entity_types=types,
            )
            messages.success(request, f"{count} findings {form.cleaned_data['decision']}.")
        except (services.DatasetStateError, PermissionDenied) as exc:
            messages.error(request, _explain(exc))
    return redirect("dataset-page", pk=pk)


@login_required
@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = _visible(request, pk)
    try:
        services.delete_dataset(actor_from_request(request), dataset)
        messages.success(request, "Dataset deleted; its data keys were destroyed.")
        return redirect("home")
    except PermissionDenied as exc:
        messages.error(request, _explain(exc))
        return redirect("dataset-page", pk=pk)


def _explain(exc: Exception) -> str:
    if isinstance(exc, PermissionDenied):
        return "Your role in this project does not allow this action."
    return str(exc)


@login_required
def review(request: HttpRequest, pk: int) -> HttpResponse:
    """The review workspace (data stewards): a page of raw records with findings highlighted,
    filters, bulk actions, a sample mode with the residual-leak estimate. Decisions go through
    the JSON API (static/js/review.js); reading the raw text is audited."""
    dataset = _visible(request, pk)
    actor = actor_from_request(request)
    try:
        findings = services.findings_for(actor, dataset)
        context = _review_context(request, actor, dataset, findings)
    except PermissionDenied as exc:
        messages.error(request, _explain(exc))
        return redirect("dataset-page", pk=pk)
    return render(request, "datasets/review.html", context)


def _review_context(
    request: HttpRequest, actor: Any, dataset: Dataset, findings: Any
) -> dict[str, Any]:
    filters = review_tools.ReviewFilters.from_query(request.GET, default_seed=dataset.pk)
    shown = review_tools.filter_findings(findings, filters)
    indices = review_tools.record_indices(dataset, shown, filters)
    count = dataset.record_count if indices is None else len(indices)
    pages = max(1, math.ceil(count / review_tools.PAGE_SIZE))
    page = min(filters.page, pages)
    pairs = review_tools.read_page(actor, dataset, indices, page) if dataset.data_key_id else []
    total = findings.count()
    return {
        "dataset": dataset,
        "filters": filters,
        "page": page,
        "pages": pages,
        "records": review_tools.render_records(pairs, shown),
        "entity_types": sorted(set(findings.values_list("entity_type", flat=True))),
        "total": total,
        "decided": total - findings.filter(decision="pending").count(),
        "editable": dataset.status == "needs_review",
        "estimate": review_tools.sample_estimate(findings, indices) if filters.sample else None,
        "previous_url": _page_url(request, page - 1) if page > 1 else "",
        "next_url": _page_url(request, page + 1) if page < pages else "",
        "data_risk": risk_views.review_context(request, actor, dataset),
    }


def _page_url(request: HttpRequest, page: int) -> str:
    query = request.GET.copy()
    query["page"] = str(page)
    return f"{request.path}?{query.urlencode()}"


@login_required
@require_POST
def undo_decision(request: HttpRequest, pk: int) -> HttpResponse:
    """Undo the reviewer's last decision (``datasets_app.undo``), then back to the workspace
    page the reviewer was on (its filters travel in the form's ``query``)."""
    from django.http import QueryDict

    from datasets_app.undo import undo_last_decision

    dataset = _visible(request, pk)
    try:
        finding = undo_last_decision(actor_from_request(request), dataset)
    except (services.DatasetStateError, PermissionDenied) as exc:
        messages.error(request, _explain(exc))
    else:
        done = (
            "the added span is removed"
            if finding is None
            else f"finding back to {finding.decision}"
        )
        messages.success(request, f"Undone: {done}.")
    query = QueryDict(request.POST.get("query", "")[:500]).urlencode()
    return redirect(reverse("dataset-review", args=[pk]) + (f"?{query}" if query else ""))
