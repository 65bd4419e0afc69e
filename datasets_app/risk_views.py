"""Data-risk pages: the review workspace's data-risk category, the dataset page's summary per
source, and the two forms they post (bulk decisions on flags, a source's trust). Each view
authorizes and calls one verb of ``datasets_app.risk``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.services import PermissionDenied
from audit.services import Actor, actor_from_request, record_event
from datasets_app import risk
from datasets_app.forms import RiskDecisionForm, SourceTrustForm
from datasets_app.models import Dataset, RiskDecision, SourceTrust
from datasets_app.services import visible_datasets
from ops.errors import InvalidField, StateConflict

FLAGS_SHOWN = 50


def _visible(request: HttpRequest, pk: int) -> Dataset:
    return get_object_or_404(visible_datasets(request.user), pk=pk)


def review_context(request: HttpRequest, actor: Actor, dataset: Dataset) -> dict[str, Any]:
    """The data-risk category of the review workspace (the caller has authorized a raw read):
    counts by detector and by source, and up to FLAGS_SHOWN flags (``?risk_detector=``,
    ``?risk_source=``, ``?risk_decision=`` narrow them) with their evidence, escaped."""
    from datasets_app.pipeline.screen import render_hidden  # here: the screen loads numpy

    flags = dataset.risk_flags.all()
    chosen = {
        name: request.GET.get(f"risk_{name}", "") for name in ("detector", "source", "decision")
    }
    for name, value in chosen.items():
        if value:
            flags = flags.filter(**{name: value})
    shown = list(flags[:FLAGS_SHOWN])
    evidence = risk.read_evidence(dataset, (flag.evidence_line for flag in shown))
    if shown:
        record_event(actor, "dataset.view_risk_evidence", obj=dataset, details={"n": len(shown)})
    rows = [
        {"flag": flag, "evidence": render_hidden(evidence.get(flag.evidence_line, ""))}
        for flag in shown
    ]
    every = dataset.risk_flags.all()
    return {
        "chosen": chosen,
        "rows": rows,
        "total": every.count(),
        "pending": every.filter(decision=RiskDecision.PENDING).count(),
        "matching": flags.count(),
        "detectors": _counts(every, "detector"),
        "sources": _counts(every, "source"),
        "screen": dataset.screen_summary or {},
        "editable": dataset.status == "needs_review",
    }


def _counts(flags: Any, column: str) -> list[dict[str, Any]]:
    """Per value of ``column``: total and pending flags, most first."""
    totals: dict[str, dict[str, int]] = {}
    for value, decision in flags.order_by().values_list(column, "decision"):
        row = totals.setdefault(value, {"total": 0, "pending": 0})
        row["total"] += 1
        row["pending"] += decision == RiskDecision.PENDING
    ordered = sorted(totals.items(), key=lambda item: (-item[1]["total"], item[0]))
    return [{"name": name, **counts} for name, counts in ordered]


def sources_context(dataset: Dataset) -> dict[str, Any]:
    """The dataset page's summary per source (source keys only: no record text)."""
    return {
        "rows": risk.source_summary(dataset),
        "screen": dataset.screen_summary or {},
        "trust_choices": [*SourceTrust.values, risk.UNMARKED],
    }


@login_required
@require_POST
def risk_decision(request: HttpRequest, pk: int) -> HttpResponse:
    """Decide flags in bulk (by detector, source, group or ids) from the review workspace."""
    dataset = _visible(request, pk)
    form = RiskDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Invalid decision: " + "; ".join(form.errors))
    else:
        data = form.cleaned_data
        try:
            count = risk.decide_risk_flags(
                actor_from_request(request),
                dataset,
                data["decision"],
                action=data["action"] or "quarantine",
                detector=data["detector"] or None,
                source=data["source"] or None,
                group=data["group"] or None,
                ids=data["ids"] or None,
            )
            messages.success(request, f"{count} risk flags {data['decision']}.")
        except (PermissionDenied, StateConflict, InvalidField) as exc:
            messages.error(request, _explain(exc))
    return redirect(reverse("dataset-review", args=[pk]) + "#data-risk")


@login_required
@require_POST
def source_trust(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one of the dataset's sources trusted, untrusted or blocked in its project."""
    dataset = _visible(request, pk)
    form = SourceTrustForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Invalid source rule: " + "; ".join(form.errors))
    else:
        try:
            risk.set_source_rule(
                actor_from_request(request),
                dataset.project_id,
                form.cleaned_data["source"],
                form.cleaned_data["trust"],
            )
            messages.success(
                request,
                f"Source marked {form.cleaned_data['trust']}; it applies from the next upload.",
            )
        except (PermissionDenied, InvalidField) as exc:
            messages.error(request, _explain(exc))
    return redirect(reverse("dataset-page", args=[pk]) + "#sources")


def _explain(exc: Exception) -> str:
    if isinstance(exc, PermissionDenied):
        return "Your role in this project does not allow this action."
    return str(exc)
