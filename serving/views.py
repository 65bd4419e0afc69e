"""Pages: the chat playground (streams from /v1/chat/completions) and usage per key per day."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from serving import services
from serving.models import UsageDay


@login_required
@ensure_csrf_cookie
def playground(request: HttpRequest) -> HttpResponse:
    """A chat box; static/js/playground.js lists models and streams answers with the session."""
    return render(request, "serving/playground.html")


@login_required
def usage(request: HttpRequest) -> HttpResponse:
    """Deployments of the user's projects with their usage per key per day, and the user's own
    usage of base models and deployments through tokens or the playground."""
    deployments = services.visible_deployments_any_status(request.user).select_related(
        "project", "model_version"
    )
    rows = UsageDay.objects.filter(deployment__in=deployments).select_related(
        "deployment", "key", "token", "user"
    )[:1000]
    own = UsageDay.objects.filter(user=request.user).select_related("token")[:200]
    context = {
        "deployments": deployments,
        "rows": rows,
        "own": own,
        "totals": services.usage_totals(UsageDay.objects.filter(deployment__in=deployments)),
    }
    return render(request, "serving/usage.html", context)
