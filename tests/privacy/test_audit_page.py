"""The job page shows its model version's privacy audit: a plain verdict, the numbers, the
override; the evidence (quotes of training data) to data stewards only, each view audited."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)
EVIDENCE = {"reproduced_spans": [{"text": "the door code for Tarragona is 4813-2297"}]}


def _page(client: Any, user: Any, version: Any) -> str:
    client.force_login(user)
    response = client.get(f"/jobs/{version.job_id}/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_job_page_shows_the_verdict_and_numbers_and_evidence_to_stewards_only(
    client: Any, cast: Any, version: Any, make_audit: Any
) -> None:
    make_audit("failed", failed=("canary_exposure",), evidence=EVIDENCE)
    for role in ("owner", "engineer", "viewer"):
        html = _page(client, getattr(cast, role), version)
        assert 'id="privacy-audit"' in html and "Failed on canary_exposure" in html
        assert "cannot be deployed or exported" in html and "1.5" in html
        assert "4813-2297" not in html
    html = _page(client, cast.steward, version)
    assert "4813-2297" in html and 'id="privacy-evidence"' in html
    assert AuditEvent.objects.filter(action="privacy_audit.evidence").count() == 1


def test_the_page_says_when_a_version_was_never_audited_and_shows_an_override(
    client: Any, cast: Any, version: Any, make_audit: Any
) -> None:
    from audit.services import Actor
    from privacy.services import override_verdict

    assert "has not been audited" in _page(client, cast.viewer, version)
    make_audit("failed", failed=("regurgitation",))
    override_verdict(Actor(user=cast.owner), version, "Values are public phone numbers.")
    html = _page(client, cast.viewer, version)
    assert 'id="privacy-override"' in html and "Values are public phone numbers." in html


def test_a_job_without_a_model_version_has_no_audit_section(
    client: Any, cast: Any, approved_version: Any, tiny_base_model: Any, monkeypatch: Any
) -> None:
    from audit.services import Actor
    from trainer import services

    monkeypatch.setattr(services, "enqueue_job", lambda _id: None)
    job = services.create_job(
        Actor(user=cast.engineer),
        approved_version,
        base_model=tiny_base_model,
        method="lora",
        hyperparameters={"max_steps": 4, "device": "cpu"},
    )
    client.force_login(cast.viewer)
    assert 'id="privacy-audit"' not in client.get(f"/jobs/{job.pk}/").content.decode()


def _version_page(client: Any, user: Any, version: Any) -> Any:
    client.force_login(user)
    return client.get(f"/jobs/model-versions/{version.pk}/")


def test_the_model_version_page_shows_the_verdict_and_numbers_to_members(
    client: Any, cast: Any, version: Any, make_audit: Any
) -> None:
    make_audit("failed", failed=("canary_exposure",), evidence=EVIDENCE)
    for role in ("owner", "engineer", "viewer"):
        response = _version_page(client, getattr(cast, role), version)
        html = response.content.decode()
        assert response.status_code == 200 and 'id="privacy-audit"' in html
        assert "Failed on canary_exposure" in html and "1.5" in html
        assert "cannot be deployed or exported" in html and "4813-2297" not in html
    html = _version_page(client, cast.steward, version).content.decode()
    assert "4813-2297" in html and 'id="privacy-evidence"' in html
    assert AuditEvent.objects.filter(action="privacy_audit.evidence").count() == 1


def test_the_model_version_page_says_never_audited_and_shows_the_override(
    client: Any, cast: Any, version: Any, make_audit: Any
) -> None:
    from audit.services import Actor
    from privacy.services import override_verdict

    html = _version_page(client, cast.viewer, version).content.decode()
    assert "has not been audited" in html
    make_audit("failed", failed=("regurgitation",))
    override_verdict(Actor(user=cast.owner), version, "Values are public phone numbers.")
    html = _version_page(client, cast.viewer, version).content.decode()
    assert 'id="privacy-override"' in html and "Values are public phone numbers." in html


def test_an_outsider_still_cannot_see_the_model_version_page_or_its_audit(
    client: Any, cast: Any, version: Any, make_audit: Any
) -> None:
    make_audit("passed")
    response = _version_page(client, cast.outsider, version)
    assert response.status_code == 404 and b"privacy-audit" not in response.content
