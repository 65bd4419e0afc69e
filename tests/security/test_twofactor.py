"""TOTP two-factor sign-in: enrolment, verification, throttling, and the rule that platform
admins and data stewards must pass a second factor when REQUIRE_2FA_FOR_PRIVILEGED is on."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.twofactor import requires_second_factor
from audit.models import AuditEvent

SETUP = "/account/2fa/setup/"
VERIFY = "/account/2fa/verify/"


def code(device: TOTPDevice, ahead: int = 0) -> str:
    """The device's code for the current time step (``ahead`` steps later)."""
    token = totp(device.bin_key, device.step, device.t0, device.digits, device.drift + ahead)
    return f"{token:0{device.digits}d}"


def wrong_code(device: TOTPDevice) -> str:
    """A code the device rejects: none of the steps its tolerance accepts."""
    accepted = {code(device, ahead) for ahead in range(-3, 4)}
    return next(c for c in (f"{n:06d}" for n in range(100000, 999999, 7919)) if c not in accepted)


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def enrolled(user: Any) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


@pytest.fixture
def required(settings: Any) -> None:
    settings.REQUIRE_2FA_FOR_PRIVILEGED = True


def test_enrolment_page_shows_the_otpauth_uri_without_inline_script_or_style(cast: Any) -> None:
    response = signed_in(cast.steward).get(SETUP)
    assert response.status_code == 200
    device = TOTPDevice.objects.get(user=cast.steward, confirmed=False)
    page = response.content.decode()
    assert "otpauth://totp/Soberana%3Asteward?secret=" in page and "issuer=Soberana" in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # the CSP forbids inline script
    assert "<style" not in page and " style=" not in page
    assert signed_in(cast.steward).get(SETUP).content.decode().count(device.config_url[:60]) == 1


def test_a_valid_code_confirms_the_device_and_verifies_the_session(cast: Any) -> None:
    client = signed_in(cast.steward)
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=cast.steward)
    response = client.post(SETUP, {"code": code(device), "next": "/datasets/new/"})
    assert response.status_code == 302 and response["Location"] == "/datasets/new/"
    device.refresh_from_db()
    assert device.confirmed
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert AuditEvent.objects.filter(
        action="auth.2fa_enrol", outcome="allowed", actor_username="steward"
    ).exists()


def test_a_wrong_code_confirms_nothing_and_is_audited(cast: Any) -> None:
    client = signed_in(cast.steward)
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=cast.steward)
    response = client.post(SETUP, {"code": wrong_code(device)})
    assert response.status_code == 400 and b"not valid" in response.content
    device.refresh_from_db()
    assert not device.confirmed and DEVICE_ID_SESSION_KEY not in client.session
    assert AuditEvent.objects.filter(action="auth.2fa_enrol", outcome="denied").exists()


def test_verification_after_sign_in_accepts_a_code_once(cast: Any) -> None:
    device = enrolled(cast.admin)
    first = signed_in(cast.admin)
    response = first.post(VERIFY, {"code": code(device), "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert first.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    replay = signed_in(cast.admin).post(VERIFY, {"code": code(device)})
    assert replay.status_code == 400  # the same code cannot open a second session
    outcomes = AuditEvent.objects.filter(action="auth.2fa_verify").values_list("outcome", flat=True)
    assert list(outcomes) == ["allowed", "denied"]


def test_guessing_codes_is_throttled(cast: Any, settings: Any) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 3600  # one wrong code blocks the device for an hour
    device = enrolled(cast.steward)
    client = signed_in(cast.steward)
    assert client.post(VERIFY, {"code": wrong_code(device)}).status_code == 400
    response = client.post(VERIFY, {"code": code(device)})
    assert response.status_code == 400 and b"Too many wrong codes" in response.content
    assert DEVICE_ID_SESSION_KEY not in client.session


def test_verification_never_redirects_off_site(cast: Any) -> None:
    device = enrolled(cast.steward)
    response = signed_in(cast.steward).post(
        VERIFY, {"code": code(device), "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == "/"


def test_only_admins_and_data_stewards_are_privileged(cast: Any) -> None:
    privileged = {role for role, user in cast.users.items() if requires_second_factor(user)}
    assert privileged == {"admin", "steward"}


@pytest.mark.usefixtures("required")
@pytest.mark.parametrize("role", ["steward", "admin"])
def test_privileged_users_without_a_device_are_sent_to_enrolment(role: str, cast: Any) -> None:
    client = signed_in(cast.users[role])
    for path in ("/", "/datasets/new/", "/api/docs/"):
        response = client.get(path)
        assert response.status_code in (302, 403), path
    response = client.get("/datasets/new/")
    assert response["Location"] == f"{SETUP}?next=%2Fdatasets%2Fnew%2F"


@pytest.mark.usefixtures("required")
def test_enrolled_but_unverified_users_are_sent_to_verification(cast: Any) -> None:
    device = enrolled(cast.steward)
    client = signed_in(cast.steward)
    assert client.get("/")["Location"] == f"{VERIFY}?next=%2F"
    # Enrolling another device instead would bypass the first one.
    assert client.get(SETUP)["Location"].startswith(VERIFY)
    assert client.post(VERIFY, {"code": code(device), "next": "/"})["Location"] == "/"
    assert client.get("/").status_code == 200


@pytest.mark.usefixtures("required")
def test_sign_in_leads_a_steward_to_the_verify_page(cast: Any) -> None:
    enrolled(cast.steward)
    client = Client()
    response = client.post(
        "/login/", {"username": "steward", "password": "pw-Long-123!"}, follow=True
    )
    assert response.redirect_chain[-1][0].startswith(VERIFY)
    assert response.status_code == 200 and b"Enter your code" in response.content


@pytest.mark.usefixtures("required")
def test_exempt_pages_stay_reachable_for_unverified_users(cast: Any) -> None:
    client = signed_in(cast.steward)
    assert client.get("/healthz").status_code == 200
    assert client.get("/login/").status_code == 200
    assert client.get(SETUP).status_code == 200
    assert client.post("/logout/")["Location"] == "/login/"


@pytest.mark.usefixtures("required")
@pytest.mark.parametrize("role", ["owner", "engineer", "viewer", "outsider"])
def test_other_roles_are_not_asked_for_a_second_factor(role: str, cast: Any) -> None:
    assert signed_in(cast.users[role]).get("/").status_code == 200


@pytest.mark.usefixtures("required")
def test_api_tokens_are_not_affected_but_the_session_is(cast: Any, api_client_for: Any) -> None:
    assert api_client_for(cast.steward).get("/api/v1/datasets/").status_code == 200
    response = signed_in(cast.steward).get("/api/v1/datasets/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "second_factor_required"


def test_nothing_is_enforced_when_the_setting_is_off(cast: Any, settings: Any) -> None:
    settings.REQUIRE_2FA_FOR_PRIVILEGED = False
    assert signed_in(cast.steward).get("/").status_code == 200
