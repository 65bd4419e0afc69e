"""The privacy audit in the evaluation report and model card (a section ``privacy`` registers
from its ``AppConfig.ready``): the latest audit's figures, thresholds, verdict and override
reason; numbers only, never the evidence that quotes training data."""

from __future__ import annotations

import json
from typing import Any

import pytest
from evaluation_versions import make_model_version

from audit.services import Actor
from evaluation import report
from trainer.models import ModelVersion

pytestmark = pytest.mark.django_db
QUOTE = "the door code for Tarragona is 4813-2297"


@pytest.fixture
def version(approved_version: Any, tiny_base_model: Any) -> ModelVersion:
    return make_model_version(approved_version, tiny_base_model)


def _audit(version: ModelVersion, *, verdict: str, failed: list[str], attempt: int = 1) -> Any:
    from privacy.models import AuditState, PrivacyAudit
    from vault.services import write_blob

    audit = PrivacyAudit.objects.create(
        model_version=version,
        project_id=version.project_id,
        attempt=attempt,
        state=AuditState.SUCCEEDED,
        verdict=verdict,
        failed_measures=failed,
        figures={"canary_exposure": {"bits": 24.9}, "mia_auc": 0.7, "note": QUOTE},
        thresholds={"canary_exposure": 10.0, "mia_auc": 0.6},
        evidence_blob="evidence.json",
    )
    write_blob(version.data_key, "evidence.json", json.dumps({"spans": [QUOTE]}).encode())
    return audit


def test_the_report_has_no_privacy_section_before_an_audit(version: ModelVersion) -> None:
    assert "privacy" not in report.build_report(version)["sections"]


def test_the_report_shows_the_latest_audits_figures_verdict_and_override_never_quotes(
    cast: Any, version: ModelVersion, api_client_for: Any
) -> None:
    from privacy.services import override_verdict

    _audit(version, verdict="passed", failed=[])
    _audit(version, verdict="failed", failed=["canary_exposure", "mia_auc"], attempt=2)
    override_verdict(Actor(user=cast.owner), version, "Canaries only; values are public.")
    section = report.build_report(version)["sections"]["privacy"]
    assert section["title"] == "Privacy audit"
    assert (section["attempt"], section["verdict"]) == (2, "failed")
    assert section["failed_measures"] == ["canary_exposure", "mia_auc"]
    assert section["override_reason"] == "Canaries only; values are public."
    assert section["releases"] is True
    figures = {row["name"]: row for row in section["figures"]}
    assert set(figures) == {"canary_exposure.bits", "mia_auc"}  # the text figure left out
    assert figures["canary_exposure.bits"]["value"] == 24.9
    assert figures["canary_exposure.bits"]["threshold"] == 10.0
    assert figures["mia_auc"] == {"name": "mia_auc", "value": 0.7, "threshold": 0.6, "failed": True}
    built = report.build_report(version)
    order = list(built["sections"])
    assert order.index("lineage") < order.index("privacy") < order.index("training_curves")
    viewer = api_client_for(cast.viewer)
    card = viewer.get(f"/api/v1/evaluation-reports/{version.pk}/model-card.md/").content.decode()
    assert "## Privacy audit" in card and "Canaries only; values are public." in card
    assert "| canary_exposure.bits | 24.9 | 10 | True |" in card
    body = viewer.get(f"/api/v1/evaluation-reports/{version.pk}/").content.decode()
    assert "4813-2297" not in card and "4813-2297" not in body


def test_an_audit_without_override_says_none(version: ModelVersion) -> None:
    _audit(version, verdict="passed", failed=[])
    section = report.build_report(version)["sections"]["privacy"]
    assert (section["verdict"], section["override_reason"], section["releases"]) == (
        "passed",
        None,
        True,
    )
