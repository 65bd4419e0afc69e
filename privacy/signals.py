"""Signals ``privacy`` sends, and its receivers of other apps' signals.

* Declared here: ``privacy_audit_finished``.
* Followed: ``trainer.signals.model_version_stored`` queues the first audit of every new model
  version (connected in ``PrivacyConfig.ready``).
"""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

#: A privacy audit ended. Sender ``PrivacyAudit``. Arguments: ``audit: PrivacyAudit`` (read
#: after the write), ``model_version: ModelVersion``, ``outcome: str``: ``"passed"`` or
#: ``"failed"`` (the verdict against the project's policy; ``audit.failed_measures`` names
#: what failed) or ``"error"`` (the audit could not run; ``audit.error`` says why). Sent on
#: commit by the worker's fenced finish or the sweeper giving up on a silent worker.
privacy_audit_finished = Signal()


def connect() -> None:
    """Connect the receivers (called from ``PrivacyConfig.ready``)."""
    from trainer.signals import model_version_stored

    model_version_stored.connect(audit_new_version, dispatch_uid="privacy-model-version-stored")


def audit_new_version(sender: Any, model_version: Any, job: Any, **_: Any) -> None:
    """A model version was stored: queue its first privacy audit."""
    from audit.services import SYSTEM
    from privacy.services import request_audit

    request_audit(SYSTEM, model_version, first=True)
