"""The release gate: a model version whose privacy audit failed or has not run is neither
deployed nor exported (409 naming the measure); an owner's written override releases it."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from serving.models import Deployment

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "pw-Long-123!"


def _deploy(api_client_for: Any, user: Any, version: Any) -> Any:
    body = {"model_version": version.pk}
    return api_client_for(user).post("/api/v1/deployments/", body, format="json")


def _export(api_client_for: Any, user: Any, version: Any) -> Any:
    body = {"model_version": version.pk, "password": PASSWORD, "format": "plain"}
    return api_client_for(user).post("/api/v1/model-exports/", body, format="json")


def _override(api_client_for: Any, user: Any, version: Any, reason: str) -> Any:
    url = f"/api/v1/model-versions/{version.pk}/privacy-audit/override/"
    return api_client_for(user).post(url, {"reason": reason}, format="json")


def test_failed_audit_refuses_deploy_and_export_with_409_naming_the_measure(
    cast: Any, api_client_for: Any, version: Any, make_audit: Any
) -> None:
    make_audit("failed", failed=("canary_exposure",))
    deploy = _deploy(api_client_for, cast.engineer, version)
    assert deploy.status_code == 409, deploy.content
    assert "canary_exposure" in deploy.json()["error"]["message"]
    export = _export(api_client_for, cast.owner, version)
    assert export.status_code == 409, export.content
    assert "canary_exposure" in export.json()["error"]["message"]
    assert not Deployment.objects.exists()
    denied = AuditEvent.objects.filter(outcome="denied", details__measure="canary_exposure")
    assert set(denied.values_list("action", flat=True)) == {"deployment.create", "model.export"}


def test_a_version_never_audited_is_refused_where_the_audit_is_required(
    cast: Any, api_client_for: Any, version: Any, audit_required: None
) -> None:
    for response in (
        _deploy(api_client_for, cast.owner, version),
        _export(api_client_for, cast.owner, version),
    ):
        assert response.status_code == 409
        assert "not_run" in response.json()["error"]["message"]


def test_a_queued_audit_holds_the_version_back(
    cast: Any, api_client_for: Any, version: Any, sent_audits: list[int], audit_required: None
) -> None:
    from audit.services import Actor
    from privacy.services import request_audit

    request_audit(Actor(user=cast.engineer), version)
    response = _deploy(api_client_for, cast.owner, version)
    assert response.status_code == 409 and "not_run" in response.json()["error"]["message"]
    assert "still running" in response.json()["error"]["message"]


def test_where_the_audit_is_not_required_only_a_failed_verdict_holds_a_version_back(
    cast: Any, api_client_for: Any, version: Any, sent_audits: list[int]
) -> None:
    from audit.services import Actor
    from privacy.services import request_audit

    request_audit(Actor(user=cast.engineer), version)  # queued: let through
    assert _deploy(api_client_for, cast.engineer, version).status_code == 201


def test_passed_audit_lets_the_version_out(
    cast: Any, api_client_for: Any, version: Any, make_audit: Any, audit_required: None
) -> None:
    make_audit("passed")
    assert _deploy(api_client_for, cast.engineer, version).status_code == 201


def test_owner_override_is_audited_shown_and_then_allows_deploy(
    cast: Any, api_client_for: Any, version: Any, make_audit: Any
) -> None:
    make_audit("failed", failed=("extraction_rate",))
    response = _override(
        api_client_for, cast.owner, version, "Synthetic data only; DPO signed off."
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["override"]["reason"] == "Synthetic data only; DPO signed off."
    assert body["override"]["by"] == "owner" and body["releases"] is True
    event = AuditEvent.objects.get(action="privacy_audit.override")
    assert event.actor == cast.owner and event.details["failed_measures"] == ["extraction_rate"]
    assert _deploy(api_client_for, cast.engineer, version).status_code == 201
    page = api_client_for(cast.viewer).get(f"/api/v1/model-versions/{version.pk}/privacy-audit/")
    assert page.json()["override"]["reason"].startswith("Synthetic")


def test_override_of_a_version_never_audited_releases_it(
    cast: Any, api_client_for: Any, version: Any, audit_required: None
) -> None:
    assert _override(api_client_for, cast.owner, version, "Audited by hand.").status_code == 200
    assert _deploy(api_client_for, cast.engineer, version).status_code == 201


@pytest.mark.parametrize("role", ["engineer", "steward", "viewer"])
def test_only_owners_may_override_and_refusals_are_audited(
    cast: Any, api_client_for: Any, version: Any, make_audit: Any, role: str
) -> None:
    make_audit("failed", failed=("canary_exposure",))
    response = _override(api_client_for, getattr(cast, role), version, "because")
    assert response.status_code == 403
    assert AuditEvent.objects.filter(
        action="denied.export_model", actor=getattr(cast, role)
    ).exists()
    assert _deploy(api_client_for, cast.engineer, version).status_code == 409


def test_an_outsider_sees_no_such_model_version(
    cast: Any, api_client_for: Any, version: Any
) -> None:
    assert _override(api_client_for, cast.outsider, version, "because").status_code == 404


def test_override_needs_a_written_reason(
    cast: Any, api_client_for: Any, version: Any, make_audit: Any
) -> None:
    make_audit("failed", failed=("canary_exposure",))
    for reason in ("", "   "):
        response = _override(api_client_for, cast.owner, version, reason)
        assert response.status_code == 400 and "reason" in response.json()["error"]["detail"]
    assert not AuditEvent.objects.filter(action="privacy_audit.override").exists()


def test_a_re_run_after_an_override_must_pass_again(
    cast: Any, api_client_for: Any, version: Any, make_audit: Any
) -> None:
    make_audit("failed", failed=("canary_exposure",))
    _override(api_client_for, cast.owner, version, "accepted risk")
    make_audit("failed", failed=("mia_auc",))  # the newest attempt decides
    response = _deploy(api_client_for, cast.engineer, version)
    assert response.status_code == 409 and "mia_auc" in response.json()["error"]["message"]
