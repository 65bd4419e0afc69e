"""The audit's own lease: claimed once, renewed, fenced; the sweeper requeues an audit whose
worker went silent and fails it, with a reason, after too many claims."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from privacy import lease
from privacy.models import AuditState, PrivacyAudit
from privacy.signals import privacy_audit_finished

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def queued(version: Any) -> PrivacyAudit:
    return PrivacyAudit.objects.create(model_version=version, project_id=version.project_id)


def _expire(audit: PrivacyAudit) -> None:
    PrivacyAudit.objects.filter(pk=audit.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )


def test_an_audit_is_claimed_once(queued: PrivacyAudit) -> None:
    first = lease.claim_audit(queued.pk, "a")
    assert first is not None and lease.claim_audit(queued.pk, "b") is None
    assert lease.renew_audit(first)
    queued.refresh_from_db()
    assert queued.state == AuditState.RUNNING and queued.claims == 1


def test_an_expired_lease_is_requeued_and_the_old_worker_writes_nothing(
    queued: PrivacyAudit,
) -> None:
    old = lease.claim_audit(queued.pk, "a")
    _expire(queued)
    assert lease.sweep_audits() == [queued.pk]
    queued.refresh_from_db()
    assert queued.state == AuditState.QUEUED and queued.lease_owner == ""
    new = lease.claim_audit(queued.pk, "b")
    assert new is not None
    assert not lease.renew_audit(old) and not lease.finish_audit(old, AuditState.SUCCEEDED)
    assert lease.finish_audit(new, AuditState.SUCCEEDED, figures={"x": 1})
    queued.refresh_from_db()
    assert queued.state == AuditState.SUCCEEDED and queued.claims == 2


def test_after_too_many_claims_the_sweeper_fails_it_with_a_reason_and_signals(
    queued: PrivacyAudit, settings: Any, received: Any
) -> None:
    settings.JOB_MAX_ATTEMPTS = 1
    sends = received(privacy_audit_finished)
    lease.claim_audit(queued.pk, "a")
    _expire(queued)
    assert lease.sweep_audits() == []
    queued.refresh_from_db()
    assert queued.state == AuditState.FAILED and "stopped answering" in queued.error
    assert queued.verdict == "not_run"
    assert [send["outcome"] for send in sends] == ["error"]


def test_a_queued_audit_whose_message_was_lost_is_sent_again(queued: PrivacyAudit) -> None:
    PrivacyAudit.objects.filter(pk=queued.pk).update(created_at=timezone.now() - timedelta(days=1))
    assert lease.sweep_audits() == [queued.pk]
    assert lease.sweep_audits() == []  # not again until another lease has passed
