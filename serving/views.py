"""Pages: the chat playground (streams from /v1/chat/completions), usage per key per day,
deployments with their keys and usage chart, and the export form. Views authorize through
scoped querysets and call one service each, as the API does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods, require_POST

from accounts.roles import Action
from accounts.services import PermissionDenied, membership_for, project_ids_allowing, require
from audit.services import actor_from_request
from serving import charts, export, services
from serving.api.export_views import LOCKED
from serving.forms import DeployForm, ExportForm, KeyForm
from serving.models import Deployment, UsageDay
from serving.release import ReleaseRefused
from trainer.models import ModelVersion


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


# --- deployments, keys and export (the API's services, authorization and audit) -----------

DENIED_DEPLOY = "Your role in this project does not allow deploying models or managing keys."
DENIED_EXPORT = "Your role in this project does not allow exporting models."
USAGE_DAYS = 30


@login_required
@require_http_methods(["GET", "POST"])
def deployments(request: HttpRequest) -> HttpResponse:
    """The user's deployments and a form to deploy a model version (engineers and owners)."""
    form = DeployForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            deployment = services.create_deployment(
                actor_from_request(request),
                form.cleaned_data["model_version"],
                suffix=form.cleaned_data["suffix"],
                pii_filter=form.cleaned_data["pii_filter"],
            )
        except services.DeploymentError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except PermissionDenied:
            form.add_error(None, DENIED_DEPLOY)
        else:
            messages.success(request, f"Deployed as {deployment.model_name}.")
            return redirect("deployment-page", pk=deployment.pk)
    context = {
        "form": form,
        "deployments": services.visible_deployments_any_status(request.user)
        .select_related("project", "model_version")
        .order_by("-created_at"),
        "exportable": ModelVersion.objects.filter(
            project_id__in=project_ids_allowing(request.user, Action.EXPORT_MODEL)
        )
        .select_related("project")
        .order_by("-created_at")[:50],
    }
    return render(request, "serving/deployments.html", context, status=400 if form.errors else 200)


def _visible_deployment(request: HttpRequest, pk: int) -> Deployment:
    queryset = services.visible_deployments_any_status(request.user)
    return get_object_or_404(queryset.select_related("project", "model_version"), pk=pk)


def _deployment_page(
    request: HttpRequest, deployment: Deployment, key_form: KeyForm, issued: Any = None
) -> HttpResponse:
    rows = services.usage_for_deployment(deployment)
    per_day: dict[Any, int] = {}
    for day, requests in rows.values_list("day", "requests"):
        per_day[day] = per_day.get(day, 0) + requests
    points = charts.fill_days(per_day, timezone.now().date(), USAGE_DAYS)
    access = membership_for(request.user, deployment.project_id)
    context = {
        "deployment": deployment,
        "keys": deployment.keys.all(),
        "key_form": key_form,
        "issued": issued,
        "can_manage": access is not None and access.allows(Action.DEPLOY_MODEL),
        "can_export": access is not None and access.allows(Action.EXPORT_MODEL),
        "chart": charts.daily_bars(
            points, label=f"Requests per day, last {USAGE_DAYS} days", unit="requests"
        ),
        "rows": rows[:100],
        "totals": services.usage_totals(rows),
    }
    status = 400 if key_form.errors else 200
    return render(request, "serving/deployment.html", context, status=status)


@login_required
def deployment_page(request: HttpRequest, pk: int) -> HttpResponse:
    """One deployment: its keys, rate limits and usage chart; stop it, issue or revoke keys."""
    return _deployment_page(request, _visible_deployment(request, pk), KeyForm())


@login_required
@require_POST
def deployment_stop(request: HttpRequest, pk: int) -> HttpResponse:
    """Stop the deployment (its keys stop working at once)."""
    deployment = _visible_deployment(request, pk)
    return _act_then_back(
        request,
        pk,
        lambda actor: services.stop_deployment(actor, deployment),
        f"{deployment.model_name} is stopped.",
    )


@login_required
@require_POST
def deployment_pii_filter(request: HttpRequest, pk: int) -> HttpResponse:
    """Switch the output PII filter on (``enabled=1``) or off."""
    deployment = _visible_deployment(request, pk)
    enabled = request.POST.get("enabled") == "1"
    return _act_then_back(
        request,
        pk,
        lambda actor: services.set_pii_filter(actor, deployment, enabled),
        f"The PII filter is {'on' if enabled else 'off'}.",
    )


@login_required
@require_POST
def deployment_key_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Issue a key and show its secret once, in this response only (never stored, never
    redirected through the session)."""
    deployment = _visible_deployment(request, pk)
    form = KeyForm(request.POST)
    issued = None
    if form.is_valid():
        try:
            issued = services.issue_deployment_key(
                actor_from_request(request), deployment, **form.cleaned_data
            )
        except services.DeploymentError as exc:
            form.add_error(None, exc.message)
        except PermissionDenied:
            form.add_error(None, DENIED_DEPLOY)
    response = _deployment_page(request, deployment, KeyForm() if issued else form, issued)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def deployment_key_revoke(request: HttpRequest, pk: int, key_id: int) -> HttpResponse:
    """Revoke one key of the deployment; later requests with it answer 401."""
    key = get_object_or_404(_visible_deployment(request, pk).keys, pk=key_id)
    return _act_then_back(
        request,
        pk,
        lambda actor: services.revoke_deployment_key(actor, key),
        f"Key {key.prefix}… is revoked.",
    )


def _act_then_back(
    request: HttpRequest, pk: int, act: Callable[[Any], object], done: str
) -> HttpResponse:
    """Run one service verb as the signed-in user, flash ``done`` (or the refusal when the
    role does not allow it; the service audited it) and go back to the deployment page."""
    try:
        act(actor_from_request(request))
        messages.success(request, done)
    except PermissionDenied:
        messages.error(request, DENIED_DEPLOY)
    return redirect("deployment-page", pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def model_export(request: HttpRequest, pk: int) -> HttpResponse:
    """Owners download a model version's merged weights after typing their password again
    (the sign-in's lockout counts wrong ones, as in the API); every attempt is audited."""
    ids = project_ids_allowing(request.user, Action.VIEW_PROJECT)
    version = get_object_or_404(ModelVersion.objects.filter(project_id__in=ids), pk=pk)
    try:
        require(actor_from_request(request), version.project_id, Action.EXPORT_MODEL, obj=version)
    except PermissionDenied as exc:
        raise DjangoPermissionDenied(DENIED_EXPORT) from exc
    form = ExportForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            exported = export.export_model(
                actor_from_request(request),
                version,
                password=data["password"],
                request=request,
                fmt=data["format"],
                passphrase=data["passphrase"],
                weights=data["weights"],
            )
        except export.ReauthenticationLocked:
            form.add_error("password", LOCKED)
            status = 429
        except export.ReauthenticationFailed:
            form.add_error("password", "That is not your password.")
        except export.ExportError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except ReleaseRefused as exc:
            form.add_error(None, str(exc))
        else:
            return _download(exported)
    if form.errors and status == 200:
        status = 400
    context = {"version": version, "form": form}
    return render(request, "serving/export.html", context, status=status)


def _download(exported: export.ExportedModel) -> HttpResponse:
    response = HttpResponse(exported.data, content_type=exported.content_type)
    response["Content-Disposition"] = f'attachment; filename="{exported.filename}"'
    response["Cache-Control"] = "no-store"
    return response
