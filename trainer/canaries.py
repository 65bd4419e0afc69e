"""Canaries for the privacy audit: synthetic secrets added to a job's TRAINING split only, so
the audit after training can measure how much the model memorized (Carlini et al., "The
Secret Sharer", 2019; the plan and its records are ``trainer.engine.privacy.canaries``').

* A job created with ``privacy_audit.canaries`` (on by default) gets a random seed, kept
  encrypted under the job's data key (``CANARY_SEED_BLOB``); the blob's presence is the switch.
* When training starts, the runner plans the canaries from the seed and the training records
  and keeps the plan encrypted beside the seed (``CANARY_PLAN_BLOB``): a resumed run and the
  audit read the same plan. The canary records exist in memory only (or encrypted in the
  torchrun hand-over file, removed after the run): never in a dataset version, its statistics,
  samples or exports. A ``canaries`` job event tells the user how many were added.
* Preference objectives (DPO, KTO ...) learn from pairs, not examples: they get no canaries
  (the event says so).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from trainer.engine import registry
from trainer.models import TrainingJob
from vault import services as vault

CANARY_SEED_BLOB = "privacy-canary-seed.json"
CANARY_PLAN_BLOB = "privacy-canary-plan.json"
PRIVACY_AUDIT_KEYS = {"canaries": bool}
PRIVACY_AUDIT_DEFAULTS: dict[str, Any] = {"canaries": True}


def validate_privacy_audit(value: Any) -> dict[str, Any]:
    """The job's ``privacy_audit`` settings with defaults; raises ``JobRequestError`` naming
    the field (``privacy_audit`` or ``privacy_audit.<key>``) for a non-object, an unknown key
    or a value of the wrong type."""
    from trainer.services import JobRequestError

    if value is None:
        return dict(PRIVACY_AUDIT_DEFAULTS)
    if not isinstance(value, dict):
        raise JobRequestError("privacy_audit", 'must be an object such as {"canaries": true}')
    for key, item in value.items():
        expected = PRIVACY_AUDIT_KEYS.get(str(key))
        if expected is None:
            known = ", ".join(sorted(PRIVACY_AUDIT_KEYS))
            raise JobRequestError(
                f"privacy_audit.{str(key)[:40]}", f"unknown setting; known: {known}"
            )
        if not isinstance(item, expected):
            raise JobRequestError(f"privacy_audit.{key}", f"must be a {expected.__name__}")
    return {**PRIVACY_AUDIT_DEFAULTS, **value}


def store_seed(job: TrainingJob, privacy_audit: dict[str, Any]) -> None:
    """Keep a fresh canary seed, encrypted under the job's key, when canaries are on."""
    if privacy_audit.get("canaries"):
        seed = {"seed": secrets.randbits(62)}
        vault.write_blob(job.data_key, CANARY_SEED_BLOB, json.dumps(seed).encode())


def canaries_enabled(job: TrainingJob) -> bool:
    """True when the job was created with canaries (reads no plaintext: the blob's presence)."""
    if job.data_key is None or job.data_key.is_destroyed:
        return False
    return vault.blob_path(job.data_key, CANARY_SEED_BLOB).is_file()


def read_plan(job: TrainingJob) -> Any:
    """The job's canary plan (``CanaryPlan``) decrypted in memory, or None (no canaries)."""
    from trainer.engine.privacy.canaries import CanaryPlan

    if not vault.blob_path(job.data_key, CANARY_PLAN_BLOB).is_file():
        return None
    return CanaryPlan.from_json(vault.read_blob(job.data_key, CANARY_PLAN_BLOB).decode())


def canary_records(
    job: TrainingJob, config: Any, train: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The canary records to append to the training split of ``job`` (planned once, then read
    back: a resumed run trains on the same ones), with a ``canaries`` event the first time.
    [] when the job has no canaries or its objective learns from preferences."""
    if not canaries_enabled(job):
        return []
    if registry.objective(config.objective).preference:
        _announce_once(job, 0, "No canaries: preference objectives learn from pairs.", {})
        return []
    plan = read_plan(job) or _new_plan(job, train)
    records = list(plan.training_records())
    summary = _plan_summary(plan)
    share = f" ({100 * summary['share']:.1f}% of the training text)" if "share" in summary else ""
    _announce_once(
        job,
        len(records),
        f"Added {len(records)} canary records{share}: synthetic secrets, never part of your "
        "data, that the privacy audit looks for after training.",
        summary,
    )
    return records


def _new_plan(job: TrainingJob, train: list[dict[str, Any]]) -> Any:
    from trainer.engine.privacy.canaries import plan_canaries

    seed = json.loads(vault.read_blob(job.data_key, CANARY_SEED_BLOB))["seed"]
    plan = plan_canaries(seed, train)
    vault.write_blob(job.data_key, CANARY_PLAN_BLOB, plan.to_json().encode())
    return plan


def _plan_summary(plan: Any) -> dict[str, Any]:
    """Counts only (no secret): how many canaries at each repetition count."""
    summary = getattr(plan, "summary", None)
    return dict(summary()) if callable(summary) else {}


def _announce_once(job: TrainingJob, count: int, message: str, data: dict[str, Any]) -> None:
    from trainer.services import add_event

    if not job.events.filter(kind="canaries").exists():
        add_event(job, "canaries", message, data={"records": count, **data})
