"""The privacy audit over the API: read (evidence for data stewards only), re-run, and the
project's policy (owners change it), with the cast: owner, steward, engineer, viewer, outsider."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from privacy.models import AuditState, PrivacyAudit

pytestmark = pytest.mark.django_db(transaction=True)
EVIDENCE = {"extraction": {"longest_spans": ["the door code for the office is 4813-2297"]}}


def _url(version: Any, tail: str = "") -> str:
    return f"/api/v1/model-versions/{version.pk}/privacy-audit/{tail}"


def test_members_read_the_figures_and_only_stewards_read_the_evidence_audited(
    cast: Any, api_client_for: Any, version: Any, make_audit: Any
) -> None:
    make_audit("failed", failed=("canary_exposure",), evidence=EVIDENCE)
    for role in ("owner", "engineer", "viewer"):
        body = api_client_for(getattr(cast, role)).get(_url(version)).json()
        assert body["verdict"] == "failed" and body["failed_measures"] == ["canary_exposure"]
        assert body["figures"] == {"measure": {"value": 1.5}} and body["evidence"] is None
    body = api_client_for(cast.steward).get(_url(version)).json()
    assert body["evidence"] == EVIDENCE
    assert (
        AuditEvent.objects.filter(action="privacy_audit.evidence", actor=cast.steward).count() == 1
    )
    assert api_client_for(cast.outsider).get(_url(version)).status_code == 404


def test_the_evidence_is_encrypted_at_rest(version: Any, make_audit: Any) -> None:
    from vault.services import blob_path

    audit = make_audit("failed", failed=("canary_exposure",), evidence=EVIDENCE)
    raw = blob_path(version.data_key, audit.evidence_blob).read_bytes()
    assert b"4813-2297" not in raw and b"door code" not in raw


def test_a_version_never_audited_reads_as_not_run(
    cast: Any, api_client_for: Any, version: Any
) -> None:
    body = api_client_for(cast.viewer).get(_url(version)).json()
    assert body["verdict"] == "not_run" and body["attempt"] == 0 and body["releases"] is False


def test_re_run_queues_a_new_attempt_and_refuses_a_second_while_one_waits(
    cast: Any, api_client_for: Any, version: Any, make_audit: Any, sent_audits: list[int]
) -> None:
    first = make_audit("failed", failed=("canary_exposure",))
    response = api_client_for(cast.engineer).post(_url(version))
    assert response.status_code == 202, response.content
    assert response.json()["attempt"] == 2 and response.json()["state"] == "queued"
    newest = PrivacyAudit.objects.get(model_version=version, attempt=2)
    assert sent_audits == [newest.pk]
    assert PrivacyAudit.objects.filter(pk=first.pk, verdict="failed").exists()  # history kept
    again = api_client_for(cast.engineer).post(_url(version))
    assert again.status_code == 409
    assert AuditEvent.objects.filter(action="privacy_audit.request").count() == 1


def test_viewers_may_not_re_run_and_the_refusal_is_audited(
    cast: Any, api_client_for: Any, version: Any, sent_audits: list[int]
) -> None:
    assert api_client_for(cast.viewer).post(_url(version)).status_code == 403
    assert AuditEvent.objects.filter(action="denied.launch_job", actor=cast.viewer).exists()
    assert sent_audits == [] and not PrivacyAudit.objects.exists()


def test_a_new_model_version_gets_its_first_audit_queued_once(
    version: Any, sent_audits: list[int]
) -> None:
    from audit.services import SYSTEM
    from privacy.services import request_audit

    first = request_audit(SYSTEM, version, first=True)
    assert request_audit(SYSTEM, version, first=True).pk == first.pk
    assert first.state == AuditState.QUEUED and sent_audits == [first.pk]


def _policy_url(cast: Any) -> str:
    return f"/api/v1/projects/{cast.project.pk}/privacy-policy/"


def test_owners_change_the_policy_audited_and_new_audits_are_judged_by_it(
    cast: Any, api_client_for: Any, version: Any, sent_audits: list[int]
) -> None:
    from audit.services import Actor
    from privacy.services import request_audit

    policy = api_client_for(cast.viewer).get(_policy_url(cast)).json()
    measure = sorted(policy["defaults"])[0]
    assert policy["thresholds"] == policy["defaults"]
    response = api_client_for(cast.owner).patch(
        _policy_url(cast), {"thresholds": {measure: 0.25}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["thresholds"][measure] == 0.25
    assert AuditEvent.objects.get(action="privacy_policy.update").details == {
        "thresholds": {measure: 0.25}
    }
    assert request_audit(Actor(user=cast.engineer), version).thresholds[measure] == 0.25


@pytest.mark.parametrize(
    ("thresholds", "field"),
    [
        ({"no_such_measure": 1}, "thresholds.no_such_measure"),
        ("high", "thresholds"),
    ],
)
def test_a_bad_policy_is_a_400_naming_the_field(
    cast: Any, api_client_for: Any, thresholds: Any, field: str
) -> None:
    response = api_client_for(cast.owner).patch(
        _policy_url(cast), {"thresholds": thresholds}, format="json"
    )
    assert response.status_code == 400 and field in response.json()["error"]["detail"]


def test_a_negative_or_non_numeric_threshold_is_refused(cast: Any, api_client_for: Any) -> None:
    client = api_client_for(cast.owner)
    measure = sorted(client.get(_policy_url(cast)).json()["defaults"])[0]
    for value in (-1, "x", True):
        response = client.patch(_policy_url(cast), {"thresholds": {measure: value}}, format="json")
        assert response.status_code == 400, value


@pytest.mark.parametrize("role", ["engineer", "steward", "viewer"])
def test_only_owners_change_the_policy_and_refusals_are_audited(
    cast: Any, api_client_for: Any, role: str
) -> None:
    user = getattr(cast, role)
    response = api_client_for(user).patch(_policy_url(cast), {"thresholds": {}}, format="json")
    assert response.status_code == 403
    assert AuditEvent.objects.filter(action="denied.manage_members", actor=user).exists()
    assert api_client_for(cast.outsider).get(_policy_url(cast)).status_code == 404
