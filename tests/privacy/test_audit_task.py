"""The audit task end to end on a tiny model trained in the test: figures on the row, evidence
encrypted, judged by the project's policy, the gate following the verdict; an audit that cannot
run fails with a reason and keeps the version held back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from privacy.models import AuditState, PrivacyAudit
from privacy.signals import privacy_audit_finished
from privacy.tasks import run_privacy_audit
from tests.at_rest import files_containing
from trainer.canaries import read_plan

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_trained_version_is_audited_end_to_end_with_figures_and_encrypted_evidence(
    cast: Any,
    trained_version: Any,
    sent_audits: list[int],
    received: Any,
    api_client_for: Any,
    settings: Any,
) -> None:
    from vault.services import blob_path

    settings.PRIVACY_AUDIT_REQUIRED = True
    sends = received(privacy_audit_finished)
    audit = PrivacyAudit.objects.get(model_version=trained_version)
    assert sent_audits == [audit.pk] and audit.state == AuditState.QUEUED
    run_privacy_audit(audit.pk)
    run_privacy_audit(audit.pk)  # a duplicate message finds nothing to claim
    audit.refresh_from_db()
    assert audit.state == AuditState.SUCCEEDED, audit.error
    assert audit.claims == 1 and audit.verdict in ("passed", "failed")
    figures = audit.figures
    assert figures["canary_exposure"]["canaries"] == 3
    assert set(figures["canary_exposure"]["by_repetitions"]) == {"1", "4", "16"}
    assert figures["membership_inference"]["auc"] is not None
    assert [send["outcome"] for send in sends] == [audit.verdict]

    secrets = [canary.secret for canary in read_plan(trained_version.job).canaries]
    row = json.dumps([audit.figures, audit.progress, audit.failed_measures, audit.error])
    assert not any(secret in row for secret in secrets)
    raw = blob_path(trained_version.data_key, audit.evidence_blob).read_bytes()
    assert not any(secret.encode() in raw for secret in secrets)
    for canary in read_plan(trained_version.job).canaries:  # database, blobs, anything at rest
        assert files_containing(Path(settings.DATA_DIR), canary.secret) == []
        assert files_containing(Path(settings.DATA_DIR), canary.text) == []
    body = api_client_for(cast.steward).get(
        f"/api/v1/model-versions/{trained_version.pk}/privacy-audit/"
    )
    evidence = body.json()["evidence"]
    assert {c["text"] for c in evidence["canaries"]} == {
        c.text for c in read_plan(trained_version.job).canaries
    }
    deploy = api_client_for(cast.engineer).post(
        "/api/v1/deployments/", {"model_version": trained_version.pk}, format="json"
    )
    assert deploy.status_code == (201 if audit.verdict == "passed" else 409)


def test_the_projects_policy_decides_the_verdict_and_the_gate_names_the_measure(
    cast: Any, trained_version: Any, api_client_for: Any
) -> None:
    from audit.services import Actor
    from privacy.services import request_audit, set_policy

    first = PrivacyAudit.objects.get(model_version=trained_version)
    run_privacy_audit(first.pk)
    set_policy(Actor(user=cast.owner), cast.project.pk, {"membership_inference": 0})
    rerun = request_audit(Actor(user=cast.engineer), trained_version)
    run_privacy_audit(rerun.pk)
    rerun.refresh_from_db()
    assert rerun.attempt == 2 and rerun.verdict == "failed"
    assert "membership_inference" in rerun.failed_measures
    deploy = api_client_for(cast.engineer).post(
        "/api/v1/deployments/", {"model_version": trained_version.pk}, format="json"
    )
    assert deploy.status_code == 409
    assert "membership_inference" in deploy.json()["error"]["message"]
    assert trained_version.job.events.filter(kind="privacy_audit").count() == 2


def test_an_audit_that_cannot_run_fails_with_a_reason_and_holds_the_version_back(
    cast: Any,
    version: Any,
    sent_audits: list[int],
    received: Any,
    api_client_for: Any,
    audit_required: None,
) -> None:
    from audit.services import Actor
    from privacy.services import request_audit

    sends = received(privacy_audit_finished)
    audit = request_audit(Actor(user=cast.engineer), version)  # no model on disk
    run_privacy_audit(audit.pk)
    audit.refresh_from_db()
    assert audit.state == AuditState.FAILED and audit.verdict == "not_run"
    assert audit.error.startswith("The privacy audit failed") and "Traceback" not in audit.error
    assert [send["outcome"] for send in sends] == ["error"]
    response = api_client_for(cast.owner).post(
        "/api/v1/deployments/", {"model_version": version.pk}, format="json"
    )
    assert response.status_code == 409
    assert "could not run" in response.json()["error"]["message"]
