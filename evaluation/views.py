"""Browser pages: the blind arena and the evaluation report of a model version."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.models import Project
from accounts.roles import Action
from accounts.services import project_ids_allowing
from datasets_app.models import DatasetStatus, DatasetVersion
from evaluation import arena, report
from evaluation.models import ArenaRound
from trainer.models import ModelVersion


@login_required
def arena_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The voting page of a round: a prompt box, answers A and B, the vote buttons
    (static/js/arena.js talks to the API). It names no model: the page never holds one."""
    ids = project_ids_allowing(request.user, Action.VIEW_PROJECT)
    row = get_object_or_404(ArenaRound.objects.filter(project_id__in=ids), pk=pk)
    if not arena.may_vote(request.user, row):
        raise Http404
    sources = DatasetVersion.objects.filter(
        dataset__project_id=row.project_id, dataset__status=DatasetStatus.APPROVED
    ).select_related("dataset")
    return render(request, "evaluation/arena.html", {"round": row, "sources": sources})


@login_required
def report_page(request: HttpRequest, pk: int) -> HttpResponse:
    """A model version's evaluation report (the model card) as a page."""
    ids = project_ids_allowing(request.user, Action.VIEW_RESULTS)
    version = get_object_or_404(ModelVersion.objects.filter(project_id__in=ids), pk=pk)
    built = report.build_report(version)
    return render(
        request,
        "evaluation/report.html",
        {"version": version, "markdown": report.to_markdown(built)},
    )


@login_required
def versions_page(request: HttpRequest, pk: int) -> HttpResponse:
    """A project's model versions side by side: one table (headline figures, lm-eval task
    metrics) and one chart of the same figures, each version a bar."""
    ids = project_ids_allowing(request.user, Action.VIEW_RESULTS)
    project = get_object_or_404(Project.objects.filter(pk__in=ids), pk=pk)
    versions = ModelVersion.objects.filter(project=project).select_related(
        "job__dataset_version", "job__base_model"
    )
    rows = report.side_by_side(list(versions.order_by("created_at", "pk")))
    columns = list(dict.fromkeys(k for row in rows for k in row))
    context = {
        "project": project,
        "columns": columns,
        "table": [[row.get(c) for c in columns] for row in rows],
        "chart": report.side_by_side_chart(rows),
    }
    return render(request, "evaluation/versions.html", context)
