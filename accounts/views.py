"""Account pages: enrol an authenticator app (TOTP) and verify a code after signing in; a
project's settings and members (owners and platform admins)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts import twofactor
from accounts.roles import ROLE_CHOICES

WRONG_CODE = "That code is not valid. Check the time on your phone and try the current code."
THROTTLED = "Too many wrong codes: wait a few seconds before the next try."


class CodeForm(forms.Form):
    """A six-digit code from the authenticator app."""

    code = forms.RegexField(
        regex=r"^\s*\d{6,8}\s*$",
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        error_messages={"invalid": "Type the 6-digit code shown by the app."},
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)


def _next_of(request: HttpRequest) -> str:
    return twofactor.safe_next(request, request.POST.get("next") or request.GET.get("next"))


def _keeping_query(request: HttpRequest, url_name: str) -> str:
    """The URL of ``url_name`` with this request's query string (which carries ``next``)."""
    query = request.GET.urlencode()
    return f"{reverse(url_name)}?{query}" if query else reverse(url_name)


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Show the otpauth:// URI and secret of a new device; confirm it with a code."""
    if twofactor.confirmed_device(request.user) is not None:
        if twofactor.is_verified(request):
            return render(request, "accounts/two_factor_enrolled.html")
        # Enrolling a second device must not bypass the first: verify with it instead.
        return redirect(_keeping_query(request, twofactor.VERIFY_URL_NAME))
    device = twofactor.pending_device(request.user)
    form = CodeForm(request.POST or None, initial={"next": request.GET.get("next", "")})
    if request.method == "POST" and form.is_valid():
        if twofactor.confirm_enrolment(request, device, form.cleaned_data["code"]):
            messages.success(request, "Two-factor sign-in is on for your account.")
            return redirect(_next_of(request))
        form.add_error("code", WRONG_CODE)
    context = {
        "form": form,
        "uri": device.config_url,
        "secret": twofactor.manual_entry_secret(device),
    }
    return render(
        request, "accounts/two_factor_setup.html", context, status=400 if form.errors else 200
    )


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """Ask for the current code of the enrolled device; on success continue to ``next``."""
    device = twofactor.confirmed_device(request.user)
    if device is None:
        return redirect(_keeping_query(request, twofactor.SETUP_URL_NAME))
    if request.method == "GET" and twofactor.is_verified(request):
        return redirect(_next_of(request))
    form = CodeForm(request.POST or None, initial={"next": request.GET.get("next", "")})
    if request.method == "POST" and form.is_valid():
        throttled = not twofactor.verification_allowed(device)
        if twofactor.verify_second_factor(request, form.cleaned_data["code"]):
            return redirect(_next_of(request))
        form.add_error("code", THROTTLED if throttled else WRONG_CODE)
    return render(
        request,
        "accounts/two_factor_verify.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    """The user's API tokens: create one (shown once) or revoke one."""
    from accounts.models import ApiToken
    from accounts.services import issue_api_token, revoke_api_token
    from audit.services import actor_from_request

    created = None
    if request.method == "POST" and request.POST.get("revoke"):
        token = ApiToken.objects.filter(user=request.user, pk=request.POST["revoke"]).first()
        if token is not None:
            revoke_api_token(actor_from_request(request), token)
    elif request.method == "POST":
        scopes = [s for s in request.POST.getlist("scopes") if s in ("read", "write", "inference")]
        days = request.POST.get("days", "90")
        created = issue_api_token(
            actor_from_request(request),
            request.user,
            name=(request.POST.get("name") or "api")[:120],
            scopes=scopes or ["read"],
            expires_in_days=int(days) if days.isdigit() and 0 < int(days) <= 3650 else 90,
        )
    tokens = ApiToken.objects.filter(user=request.user).order_by("-created_at")
    return render(request, "accounts/tokens.html", {"tokens": tokens, "created": created})


class ProjectSettingsForm(forms.Form):
    """The project's separation-of-duties settings (unchecked boxes send nothing: False)."""

    require_distinct_approver = forms.BooleanField(
        required=False, label="A dataset's approver must not be its uploader"
    )
    auto_approve_redaction = forms.BooleanField(
        required=False,
        label="Approve files uploaded through /v1/files after automatic redaction, unreviewed",
    )


@login_required
@require_http_methods(["GET", "POST"])
def project_settings(request: HttpRequest, pk: int) -> HttpResponse:
    """Owners (and platform admins) see and change a project's settings; audited. Others
    who can see the project get 403, the rest 404."""
    from django.core.exceptions import PermissionDenied
    from django.shortcuts import get_object_or_404

    from accounts import services
    from accounts.roles import Action
    from audit.services import actor_from_request

    project = get_object_or_404(services.projects_visible_to(request.user), pk=pk)
    actor = actor_from_request(request)
    if not request.user.is_superuser:
        try:
            services.require(actor, project.pk, Action.MANAGE_SETTINGS, obj=project)
        except services.PermissionDenied as exc:
            raise PermissionDenied("Only the project's owners may change its settings.") from exc
    initial = {name: getattr(project, name) for name in services.PROJECT_SETTINGS}
    form = ProjectSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.update_project_settings(actor, project, form.cleaned_data)
        messages.success(request, "Project settings saved.")
        return redirect("project-settings", pk=project.pk)
    return render(request, "accounts/project_settings.html", {"project": project, "form": form})


class MemberForm(forms.Form):
    """Give a user a role: replaces their roles unless ``add`` is checked."""

    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial="viewer")
    add = forms.BooleanField(required=False, label="Add this role to the user's roles")


def _managed_project(request: HttpRequest, pk: int) -> Any:
    """The project if the caller may manage its members (owners; platform admins too, as in
    the API); 404 when they cannot see it, 403 (the denial audited) when their role lacks it."""
    from accounts import services
    from accounts.roles import Action
    from audit.services import actor_from_request

    project = get_object_or_404(services.projects_visible_to(request.user), pk=pk)
    if not request.user.is_superuser:
        try:
            services.require(
                actor_from_request(request), project.pk, Action.MANAGE_MEMBERS, obj=project
            )
        except services.PermissionDenied as exc:
            raise DjangoPermissionDenied("Only the project's owners manage its members.") from exc
    return project


def _audit_member_refusal(request: HttpRequest, project: Any, verb: str, reason: str) -> None:
    """Record a refused change (the service's own entry was rolled back), as the API does."""
    from accounts import services
    from audit.services import actor_from_request

    services.record_membership_refusal(actor_from_request(request), project, verb, reason)


def _remove_member(request: HttpRequest, project: Any, user_id: str) -> None:
    from accounts import services
    from audit.services import actor_from_request

    try:
        roles = services.remove_member(actor_from_request(request), project, int(user_id))
    except services.LastOwner as exc:
        _audit_member_refusal(request, project, "remove", "last owner")
        messages.error(request, str(exc))
    except (LookupError, ValueError):
        messages.error(request, "No such member.")
    else:
        messages.success(request, f"Member removed (roles: {', '.join(roles)}).")


def _set_member(request: HttpRequest, project: Any, form: MemberForm) -> bool:
    """Apply the form through ``set_membership``; False (with the error on the form) when
    refused."""
    from accounts import services
    from audit.services import actor_from_request

    data = form.cleaned_data
    try:
        services.set_membership(
            actor_from_request(request),
            project,
            data["username"],
            data["role"],
            replace=not data["add"],
        )
    except services.MembershipRefused as exc:
        _audit_member_refusal(request, project, "add", str(exc))
        form.add_error("username", str(exc))
    except services.LastOwner as exc:
        _audit_member_refusal(request, project, "change", "last owner")
        form.add_error(None, str(exc))
    except LookupError as exc:
        form.add_error("username", str(exc))
    else:
        messages.success(request, f"{data['username']} is now {data['role']}.")
        return True
    return False


@login_required
@require_http_methods(["GET", "POST"])
def project_members(request: HttpRequest, pk: int) -> HttpResponse:
    """Owners (and platform admins) see the members, change their roles and remove them;
    the last owner is kept and every change is audited, exactly as through the API."""
    from accounts.models import Membership

    project = _managed_project(request, pk)
    form = MemberForm(request.POST if "username" in request.POST else None)
    if request.method == "POST" and request.POST.get("remove"):
        _remove_member(request, project, request.POST["remove"])
        return redirect("project-members-page", pk=project.pk)
    if request.method == "POST" and form.is_valid() and _set_member(request, project, form):
        return redirect("project-members-page", pk=project.pk)
    rows = (
        Membership.objects.filter(project=project).select_related("user").order_by("user__username")
    )
    members: dict[int, dict[str, Any]] = {}
    for row in rows:
        entry = members.setdefault(row.user_id, {"user": row.user, "roles": []})
        entry["roles"].append(row.role)
    context = {"project": project, "members": list(members.values()), "form": form}
    return render(request, "accounts/members.html", context, status=400 if form.errors else 200)
