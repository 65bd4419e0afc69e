"""Runs a claimed privacy audit: load the model version, the approved data and the canary plan
decrypted in memory, call the engine's audit (``privacy.engine``), store the figures on the
row and the evidence (quotes) encrypted, judge them by the project's policy, send
``privacy_audit_finished`` on commit.

Never raises for audit errors: they become ``state='failed'`` with a reason a user can act on
(the verdict stays ``not_run``, so the gate keeps refusing).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback

from django.db import transaction

from audit.services import SYSTEM, record_event
from privacy import engine
from privacy.lease import AuditLease, finish_audit, record_progress, renew_audit
from privacy.models import AuditState, PrivacyAudit, Verdict
from privacy.services import send_finished
from trainer.engine_io import explain_failure
from trainer.lease import Heartbeat
from vault import services as vault

logger = logging.getLogger(__name__)


class AuditLeaseLost(Exception):
    """The sweeper gave this audit to another worker (or failed it): stop, write nothing."""


class AuditProgress:
    """The engine's progress callback: ``(stage, done, total)`` to the row, at most once a
    second, fenced by the lease."""

    def __init__(self, lease: AuditLease, lost: threading.Event) -> None:
        self.lease = lease
        self.lost = lost
        self._last = 0.0

    def __call__(self, stage: str, done: int = 0, total: int = 0) -> None:
        if self.lost.is_set():
            raise AuditLeaseLost(str(self.lease.audit_id))
        now = time.monotonic()
        if now - self._last < 1.0 and done < total:
            return
        self._last = now
        progress = {"stage": str(stage)[:40], "done": int(done), "total": int(total)}
        if not record_progress(self.lease, progress):
            self.lost.set()
            raise AuditLeaseLost(str(self.lease.audit_id))


def run_claimed_audit(lease: AuditLease) -> None:
    """Audit and record; see the module docstring."""
    audit = PrivacyAudit.objects.select_related(
        "model_version__data_key",
        "model_version__job__dataset_version__dataset",
        "model_version__job__base_model",
        "model_version__job__data_key",
    ).get(pk=lease.audit_id)
    lost = threading.Event()
    heartbeat = Heartbeat(f"privacy-audit-{audit.pk}", lambda: renew_audit(lease), lost)
    heartbeat.start()
    try:
        result = _audit(audit, AuditProgress(lease, lost))
        _record(lease, audit, result)
    except AuditLeaseLost:
        logger.warning("privacy audit %s: lease lost", audit.pk)
    except Exception as exc:
        logger.exception("privacy audit %s failed", audit.pk)
        _fail(lease, explain_failure(exc, "The privacy audit"), traceback.format_exc())
    finally:
        heartbeat.stopped.set()


def _audit(audit: PrivacyAudit, progress: AuditProgress) -> engine.AuditResult:
    version = audit.model_version
    job = version.job
    record_event(
        SYSTEM,
        "checkpoint.decrypt",
        obj=job,
        details={"purpose": "privacy_audit", "model_version": version.pk, "audit": audit.pk},
    )
    return engine.audit_model_version(version, job, progress)


def _record(lease: AuditLease, audit: PrivacyAudit, result: engine.AuditResult) -> None:
    """Evidence first (encrypted under the model version's key), then the fenced result."""
    name = f"privacy-audit-{audit.pk}-evidence.json"
    vault.write_blob(audit.model_version.data_key, name, json.dumps(result.evidence).encode())
    failed = engine.failed_measures(result.figures, audit.thresholds)
    verdict = Verdict.FAILED if failed else Verdict.PASSED
    with transaction.atomic():
        if not finish_audit(
            lease,
            AuditState.SUCCEEDED,
            figures=result.figures,
            evidence_blob=name,
            verdict=verdict,
            failed_measures=failed,
            progress={"stage": "done"},
        ):
            raise AuditLeaseLost(str(audit.pk))
        _add_job_event(audit, verdict, failed)
        send_finished(audit.pk, verdict)


def _add_job_event(audit: PrivacyAudit, verdict: str, failed: list[str]) -> None:
    from trainer.services import add_event

    if failed:
        message = f"Privacy audit failed on {', '.join(failed)}."
    else:
        message = "Privacy audit passed."
    add_event(
        audit.model_version.job_id,
        "privacy_audit",
        message,
        level="warning" if failed else "info",
        data={"audit": audit.pk, "verdict": verdict, "failed_measures": failed},
    )


def _fail(lease: AuditLease, reason: str, detail: str) -> None:
    with transaction.atomic():
        if finish_audit(lease, AuditState.FAILED, error=reason[:1000]):
            logger.warning("privacy audit %s failed: %s", lease.audit_id, detail[-2000:])
            send_finished(lease.audit_id, "error")
