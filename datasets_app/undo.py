"""Undo of a reviewer's last decision in the review workspace, read back from the audit trail.

``decide_finding`` records each decision's state before and after it (ids and offsets only);
``add_finding`` records the span it added. Undo walks the reviewer's own entries of the dataset
newest first, skips those already undone (a ``pii.undo`` entry names the one it undid), and
restores the newest: a decision goes back to its state before, an added span is removed. A
bulk decision ends the walk (it is not undone one finding at a time), and so does a finding
changed since by someone else (its state no longer matches what the decision left).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q

from accounts.roles import Action
from accounts.services import require
from audit.models import AuditEvent
from audit.services import Actor, record_event
from datasets_app.models import Dataset, DatasetStatus, Finding
from datasets_app.services import DatasetStateError, decision_state

UNDOABLE = ("pii.decide", "pii.add")
WALK_LIMIT = 500  # entries looked at: undo reaches this far back in one reviewer's history


class NothingToUndo(DatasetStateError):
    """No decision of this reviewer on this dataset can be undone (409)."""


def undo_last_decision(actor: Actor, dataset: Dataset) -> Finding | None:
    """Undo the actor's newest decision on ``dataset`` not yet undone; returns the finding
    restored, or None when the undone entry added a span (now removed). Needs REVIEW_PII and
    a dataset that needs review. Atomic and audited as ``pii.undo``. Raises PermissionDenied,
    DatasetStateError (not under review) or NothingToUndo (nothing left, a bulk decision,
    or a finding someone else changed since)."""
    require(actor, dataset.project_id, Action.REVIEW_PII, obj=dataset)
    with transaction.atomic():
        locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
        if locked.status != DatasetStatus.NEEDS_REVIEW:
            raise DatasetStateError("Decisions can only be undone while the dataset needs review.")
        entry = _last_undoable(actor, locked)
        finding = Finding.objects.filter(pk=entry.object_id, dataset=locked).first()
        restored = _restore(entry, finding)
        record_event(
            actor,
            "pii.undo",
            obj=restored or locked,
            details={"undoes": entry.pk, "action": entry.action, "dataset": locked.pk},
        )
    return restored


def _last_undoable(actor: Actor, dataset: Dataset) -> AuditEvent:
    mine = AuditEvent.objects.filter(actor=actor.user, outcome="allowed").filter(
        Q(action__in=[*UNDOABLE, "pii.undo"], details__dataset=dataset.pk)
        | Q(action="pii.bulk_decide", object_type="datasets_app.dataset", object_id=str(dataset.pk))
    )
    undone: set[int] = set()
    for entry in mine.order_by("-id")[:WALK_LIMIT]:
        if entry.action == "pii.undo":
            undone.add(int(entry.details.get("undoes", 0)))
        elif entry.pk in undone:
            continue
        elif entry.action == "pii.bulk_decide":
            raise NothingToUndo("Your last decision was a bulk decision: it cannot be undone here.")
        elif entry.action == "pii.add" or "before" in entry.details:
            return entry
        else:
            break  # a decision recorded before undo existed: nothing to restore it to
    raise NothingToUndo("You have no decision on this dataset left to undo.")


def _restore(entry: AuditEvent, finding: Finding | None) -> Finding | None:
    """Put ``finding`` back as it was before ``entry``; remove it when ``entry`` added it."""
    if finding is None:
        raise NothingToUndo("That finding no longer exists.")
    if entry.action == "pii.add":
        if not finding.added_by_reviewer:
            raise NothingToUndo("That finding was not added by a reviewer.")
        finding.delete()
        return None
    if decision_state(finding) != entry.details.get("after"):
        raise NothingToUndo("Someone changed that finding since: it was not undone.")
    before = entry.details["before"]
    finding.decision = before["decision"]
    finding.start, finding.end = before["start"], before["end"]
    finding.decided_by_id = before["decided_by"]
    at = before["decided_at"]
    finding.decided_at = datetime.fromisoformat(at) if at else None
    finding.save()
    return finding
