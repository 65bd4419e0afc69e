"""Fixtures of the privacy tests: a model version's rows (no training: fast), audits in a
chosen state, and the gate switched to its production default (audit required)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def audit_required(settings: Any) -> None:
    """The production default: a model version never audited is held back."""
    settings.PRIVACY_AUDIT_REQUIRED = True


@pytest.fixture
def sent_audits(monkeypatch: Any) -> list[int]:
    """Ids of the audit messages sent (none reach a broker)."""
    from privacy import services

    sent: list[int] = []
    monkeypatch.setattr(services, "enqueue_audit", sent.append)
    return sent


@pytest.fixture
def version(cast: Any, tiny_base_model: Any, approved_version: Any, monkeypatch: Any) -> Any:
    """The rows a succeeded training leaves (no model on disk), with no audit yet."""
    from audit.services import Actor
    from trainer import services
    from trainer.models import JobStatus, ModelVersion, TrainingJob

    monkeypatch.setattr(services, "enqueue_job", lambda _id: None)
    job = services.create_job(
        Actor(user=cast.engineer),
        approved_version,
        base_model=tiny_base_model,
        method="lora",
        hyperparameters={"max_steps": 4, "device": "cpu"},
    )
    TrainingJob.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
    return ModelVersion.objects.create(
        project=job.project, job=job, name="tiny-lora", data_key=job.data_key, artifact_dir="-"
    )


@pytest.fixture
def make_audit(version: Any) -> Callable[..., Any]:
    """``make(verdict, failed=(), evidence=None)``: a finished audit attempt of ``version``."""
    import json

    from privacy.models import AuditState, PrivacyAudit
    from vault.services import write_blob

    def make(verdict: str, failed: tuple[str, ...] = (), evidence: Any = None) -> Any:
        attempt = PrivacyAudit.objects.filter(model_version=version).count() + 1
        audit = PrivacyAudit.objects.create(
            model_version=version,
            project_id=version.project_id,
            attempt=attempt,
            state=AuditState.SUCCEEDED,
            verdict=verdict,
            failed_measures=list(failed),
            figures={"measure": {"value": 1.5}},
        )
        if evidence is not None:
            name = f"privacy-audit-{audit.pk}-evidence.json"
            write_blob(version.data_key, name, json.dumps(evidence).encode())
            PrivacyAudit.objects.filter(pk=audit.pk).update(evidence_blob=name)
            audit.refresh_from_db()
        return audit

    return make


@pytest.fixture
def trained_version(
    cast: Any,
    tiny_base_model: Any,
    approved_version: Any,
    tiny_hyperparameters: dict,
    monkeypatch: Any,
    sent_audits: list[int],
) -> Any:
    """A job on the tiny model, trained for real by the runner (canaries on, the default), and
    its model version; its first audit is queued (message captured, not run)."""
    from audit.services import Actor
    from trainer import evaluations, runner, services
    from trainer import lease as leases
    from trainer.models import ModelVersion

    monkeypatch.setattr(services, "enqueue_job", lambda _id: None)
    monkeypatch.setattr(evaluations, "enqueue_evaluation", lambda _id: None)
    job = services.create_job(
        Actor(user=cast.engineer),
        approved_version,
        base_model=tiny_base_model,
        method="lora",
        hyperparameters=tiny_hyperparameters,
    )
    runner.run_claimed_job(leases.claim_job(job.pk, "test"))
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    return ModelVersion.objects.get(job=job)
