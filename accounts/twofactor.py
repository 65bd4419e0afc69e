"""TOTP two-factor sign-in (django-otp): enrolment, verification, and enforcement.

A user enrols one authenticator app (a ``TOTPDevice``): the device is created unconfirmed, its
``otpauth://`` URI is shown once on the enrolment page, and it becomes confirmed only when the
user types a valid code. Verifying a code marks the session as verified (``django_otp.login``),
which ``request.user.is_verified()`` reports until sign-out.

With ``REQUIRE_2FA_FOR_PRIVILEGED`` (``SOBERANA_REQUIRE_2FA``), ``SecondFactorRequiredMiddleware``
sends platform administrators and data stewards who are not verified to enrolment or
verification for every page except sign-in, sign-out, the two-factor pages and ``/healthz``.
Requests carrying an API bearer token are not affected; session-authenticated API requests of
such users answer 403, so the browser session cannot be used to sidestep the second factor.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Membership
from accounts.roles import Role
from audit.services import actor_from_request, record_event

SETUP_URL_NAME = "two-factor-setup"
VERIFY_URL_NAME = "two-factor-verify"
DEVICE_NAME = "authenticator"
# Pages an unverified privileged user may still reach: otherwise they could not sign in, sign
# out or complete the second factor. Health checks come from probes without a session.
EXEMPT_URL_NAMES = frozenset({"login", "logout", "healthz", SETUP_URL_NAME, VERIFY_URL_NAME})


def requires_second_factor(user: AbstractBaseUser | Any) -> bool:
    """True for signed-in platform administrators and data stewards of any project."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    return Membership.objects.filter(user=user, role=Role.STEWARD).exists()


def is_verified(request: HttpRequest) -> bool:
    """True when this session passed a second factor (set by django-otp's middleware)."""
    check = getattr(request.user, "is_verified", None)
    return bool(check and check())


def confirmed_device(user: AbstractBaseUser) -> TOTPDevice | None:
    """The user's enrolled authenticator, or None when they have not enrolled yet."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def pending_device(user: AbstractBaseUser) -> TOTPDevice:
    """The unconfirmed device being enrolled (created on first call; the secret stays the same
    across page reloads until it is confirmed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def manual_entry_secret(device: TOTPDevice) -> str:
    """The base32 secret in groups of four, for apps where the URI cannot be pasted."""
    secret = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def verification_allowed(device: TOTPDevice) -> bool:
    """False while django-otp throttles the device after wrong codes (exponential back-off)."""
    allowed, _ = device.verify_is_allowed()
    return bool(allowed)


def confirm_enrolment(request: HttpRequest, device: TOTPDevice, code: str) -> bool:
    """Confirm ``device`` with a code from the app and verify this session. Audited.

    Returns False (and records a denial) for a wrong, replayed or throttled code.
    """
    if device.user_id != request.user.pk or not device.verify_token(code.strip()):
        record_event(actor_from_request(request), "auth.2fa_enrol", outcome="denied")
        return False
    TOTPDevice.objects.filter(user=request.user, confirmed=False).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    otp_login(request, device)
    record_event(actor_from_request(request), "auth.2fa_enrol", obj=device)
    return True


def verify_second_factor(request: HttpRequest, code: str) -> bool:
    """Check a code against the user's enrolled device; on success the session is verified.
    Audited either way. Returns False for a wrong, replayed or throttled code, or no device."""
    device = confirmed_device(request.user)
    if device is None or not device.verify_token(code.strip()):
        record_event(actor_from_request(request), "auth.2fa_verify", outcome="denied")
        return False
    otp_login(request, device)
    record_event(actor_from_request(request), "auth.2fa_verify", obj=device)
    return True


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    """``candidate`` when it is a local URL, else the dashboard (no open redirects)."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("home")


def _uses_bearer_token(request: HttpRequest) -> bool:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    return header.split(" ", 1)[0].lower() == "bearer"


def _is_api_view(view_func: Callable[..., Any]) -> bool:
    """DRF views (the REST API, its schema and docs) carry ``cls``; pages do not."""
    return getattr(view_func, "cls", None) is not None


class SecondFactorRequiredMiddleware:
    """Enforces ``REQUIRE_2FA_FOR_PRIVILEGED``; must come after django-otp's OTPMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        """None to let the request through; else a redirect (pages) or a 403 (API)."""
        if not getattr(settings, "REQUIRE_2FA_FOR_PRIVILEGED", False):
            return None
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name in EXEMPT_URL_NAMES:
            return None
        if _uses_bearer_token(request):
            return None  # API tokens are a separate credential, scoped and revocable
        if not requires_second_factor(request.user) or is_verified(request):
            return None
        if _is_api_view(view_func):
            return _api_refusal()
        return _redirect_to_second_factor(request)


def _api_refusal() -> JsonResponse:
    message = "Complete two-factor sign-in in the browser, or use an API token."
    body = {"error": {"code": "second_factor_required", "message": message, "detail": {}}}
    return JsonResponse(body, status=403)


def _redirect_to_second_factor(request: HttpRequest) -> HttpResponse:
    target = VERIFY_URL_NAME if confirmed_device(request.user) else SETUP_URL_NAME
    next_url = request.get_full_path() if request.method == "GET" else reverse("home")
    return redirect(f"{reverse(target)}?{urlencode({'next': next_url})}")
