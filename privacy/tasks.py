"""Thin Celery tasks: claim the audit row, run it. Messages carry ids only; never retried by
Celery (the sweeper decides)."""

from __future__ import annotations

from celery import shared_task

from privacy import lease, runner, services


@shared_task(acks_late=True, ignore_result=True, bind=True)
def run_privacy_audit(self: object, audit_id: int) -> None:
    """Claim and run one audit attempt; a duplicate or late message finds nothing to claim."""
    claim = lease.claim_audit(audit_id, worker=getattr(self.request, "hostname", "") or "worker")
    if claim is None:
        return
    runner.run_claimed_audit(claim)


@shared_task(ignore_result=True)
def requeue_expired_audits() -> list[int]:
    """Beat: requeue audits of dead workers (or fail them), re-send lost messages."""
    ids = lease.sweep_audits()
    for audit_id in ids:
        services.enqueue_audit(audit_id)
    return ids
