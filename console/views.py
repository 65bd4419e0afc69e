"""The dashboard page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.roles import Action
from accounts.services import project_ids_allowing, projects_visible_to
from audit.refusals import recent_alerts
from datasets_app.services import visible_datasets
from trainer.services import visible_jobs


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Projects, recent datasets and jobs the user may see."""
    context = {
        "projects": projects_visible_to(request.user),
        # Projects whose settings and members the user manages (owners; admins manage all).
        "managed": set(project_ids_allowing(request.user, Action.MANAGE_MEMBERS)),
        "datasets": visible_datasets(request.user).select_related("project")[:20],
        "jobs": visible_jobs(request.user).select_related("base_model")[:20],
        # Platform admins see the audit alerts of the last day (refused-lookup scans).
        "alerts": list(recent_alerts()[:10]) if request.user.is_superuser else [],
    }
    return render(request, "home.html", context)
