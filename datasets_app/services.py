"""Verbs on datasets: upload, ingest, review, approve, read, delete. Atomic and audited.

Views, the API and tasks call these; none of them touch models directly for writes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import Project
from accounts.roles import Action
from accounts.services import require
from audit.services import SYSTEM, Actor, record_event
from datasets_app import ingest_runner, ingestion
from datasets_app.ingest_lease import (
    IngestLease,
    IngestLeaseLost,
    claim_ingestion,
    lease_deadline,
)
from datasets_app.models import Dataset, DatasetStatus, DatasetVersion, Decision, Finding
from datasets_app.options import IngestOptions
from datasets_app.signals import dataset_approved, ingestion_finished
from datasets_app.uploads import EncryptedUpload
from ops.errors import StateConflict
from ops.signals import send_on_commit
from vault import services as vault

if TYPE_CHECKING:
    from datasets_app.versioning import VersionDraft

logger = logging.getLogger(__name__)


class DatasetStateError(StateConflict):
    """The dataset is not in a state that allows this action; ``status_code`` suggests 409."""


def create_dataset(
    actor: Actor,
    project: Project,
    *,
    name: str,
    upload: EncryptedUpload,
    options: IngestOptions,
    purpose: str = "training",
) -> Dataset:
    """Register an encrypted upload as a dataset and queue its ingestion."""
    require(actor, project.pk, Action.UPLOAD_DATA, obj=project)
    with transaction.atomic():
        dataset = Dataset.objects.create(
            project=project,
            name=name or upload.name,
            uploaded_by=actor.user,
            source_name=upload.name[:255],
            raw_key=upload.data_key,
            raw_sha256=upload.sha256,
            raw_size=upload.size,
            options=options.to_dict(),
            purpose=purpose,
        )
        record_event(actor, "dataset.upload", obj=dataset, details={"bytes": upload.size})
        transaction.on_commit(lambda: _enqueue_ingestion(dataset.pk))
    return dataset


def _enqueue_ingestion(dataset_id: int) -> None:
    from datasets_app.tasks import ingest_dataset

    ingest_dataset.delay(dataset_id)


def run_ingestion(dataset_id: int, worker: str = "") -> None:
    """Claim and ingest a dataset in ``processing``; leaves it ``needs_review`` or ``failed``
    with a reason.

    Does nothing when the dataset cannot be claimed: another worker holds a fresh lease (a
    duplicate or redelivered message), or it is no longer processing. Findings are written
    while ingestion runs (``ingest_runner``); on failure they are all deleted with the move to
    ``failed``, so a failed dataset never shows a partial set. A run whose lease is taken over
    stops and writes nothing more (the new owner replaces its findings). Re-raises unexpected
    errors after failing the dataset, for the worker log.
    """
    lease = claim_ingestion(dataset_id, worker)
    if lease is None:
        logger.info(
            "dataset %s: nothing to ingest (another worker holds it, or it is done)", dataset_id
        )
        return
    dataset = Dataset.objects.select_related("raw_key").get(pk=dataset_id)
    try:
        ingest_runner.ingest(dataset, lease)
    except IngestLeaseLost:
        logger.warning("dataset %s: ingestion lease lost; another worker owns it now", dataset_id)
    except ingestion.IngestionError as exc:
        _fail(lease, dataset, str(exc))
    except Exception:
        logger.exception("ingestion of dataset %s failed", dataset_id)
        _fail(
            lease,
            dataset,
            "Processing failed because of an internal error; an administrator can "
            "see the details in the worker log.",
        )
        raise


def _fail(lease: IngestLease, dataset: Dataset, reason: str) -> bool:
    """Move the leased dataset to ``failed`` and discard its findings, audited; fenced, so a
    worker that lost its lease changes nothing (returns False)."""
    with transaction.atomic():
        # The fenced UPDATE first: it locks the row, so no claim can win before the deletion.
        failed = lease.owned().update(
            status=DatasetStatus.FAILED,
            error=reason,
            ingest_lease_owner="",
            ingest_lease_expires_at=None,
        )
        if not failed:
            logger.warning("dataset %s: lease lost before recording its failure", dataset.pk)
            return False
        ingest_runner.discard_findings(dataset.pk)
        record_event(
            SYSTEM, "dataset.ingest", obj=dataset, outcome="error", details={"reason": reason[:300]}
        )
        _send_ingestion_finished(dataset.pk, DatasetStatus.FAILED.value)
    return True


def _send_ingestion_finished(dataset_id: int, outcome: str) -> None:
    send_on_commit(ingestion_finished, sender=Dataset, dataset_id=dataset_id, outcome=outcome)


# --- ingestion sweeper -------------------------------------------------------------------


def requeue_stalled_ingestions() -> list[int]:
    """Find processing datasets nobody is ingesting: their lease expired (the worker died), or
    they were never claimed for a whole lease (the message was lost). Returns the ids whose
    ingestion message the caller must send again; those interrupted ``INGEST_MAX_ATTEMPTS``
    times fail instead, with a reason and an audit entry.

    A re-sent dataset is released (no owner) and not re-sent again for another lease, so a
    message waiting behind a long ingestion is not duplicated at every sweep.
    """
    now = timezone.now()
    never_claimed_since = now - timedelta(seconds=settings.INGEST_LEASE_SECONDS)
    stalled = Dataset.objects.filter(status=DatasetStatus.PROCESSING).filter(
        Q(ingest_lease_expires_at__lt=now)
        | Q(ingest_lease_owner="", ingest_lease_expires_at=None, created_at__lt=never_claimed_since)
    )
    requeued: list[int] = []
    for dataset in stalled.only("pk", "ingest_lease_owner", "ingest_attempts")[:100]:
        # Conditional on what was read: a claim or renewal since then wins over the sweeper.
        seen = Dataset.objects.filter(
            pk=dataset.pk,
            status=DatasetStatus.PROCESSING,
            ingest_lease_owner=dataset.ingest_lease_owner,
            ingest_attempts=dataset.ingest_attempts,
        ).filter(Q(ingest_lease_expires_at__lt=now) | Q(ingest_lease_expires_at=None))
        if dataset.ingest_attempts >= settings.INGEST_MAX_ATTEMPTS:
            _fail_interrupted(dataset, seen)
        elif seen.update(ingest_lease_owner="", ingest_lease_expires_at=lease_deadline()):
            logger.warning(
                "dataset %s: ingestion stalled after %s attempts; message sent again",
                dataset.pk,
                dataset.ingest_attempts,
            )
            requeued.append(dataset.pk)
    return requeued


def _fail_interrupted(dataset: Dataset, seen: QuerySet[Dataset]) -> None:
    reason = (
        f"Processing was interrupted {dataset.ingest_attempts} times (the worker stopped); "
        "upload the file again or ask an administrator to check the ingestion worker."
    )
    with transaction.atomic():
        if not seen.update(
            status=DatasetStatus.FAILED,
            error=reason,
            ingest_lease_owner="",
            ingest_lease_expires_at=None,
        ):
            return
        ingest_runner.discard_findings(dataset.pk)
        record_event(
            SYSTEM,
            "dataset.ingest",
            obj=dataset,
            outcome="error",
            details={"reason": reason[:300], "attempts": dataset.ingest_attempts},
        )
        _send_ingestion_finished(dataset.pk, DatasetStatus.FAILED.value)


# --- review ------------------------------------------------------------------------------


def findings_for(actor: Actor, dataset: Dataset) -> QuerySet[Finding]:
    """Findings of a dataset; only data stewards (and owners) may review them. None while the
    dataset is still processing: ingestion writes them as it goes, so the set is incomplete."""
    require(actor, dataset.project_id, Action.REVIEW_PII, obj=dataset)
    if dataset.status == DatasetStatus.PROCESSING:
        return dataset.findings.none()
    return dataset.findings.all()


def _record_at(dataset: Dataset, index: int) -> dict[str, Any] | None:
    """The stored (raw) record at ``index``, or None past the end. Not audited: callers only
    use it to check offsets and never return its text."""
    rows = ingestion.read_slice(vault.open_blob(dataset.data_key, ingestion.RECORDS_BLOB), index, 1)
    return rows[0] if rows else None


def check_span(dataset: Dataset, record_index: int, field: str, start: int, end: int) -> None:
    """Raise ValueError unless ``field`` is a text field of record ``record_index`` and
    ``0 <= start < end <= len(text)``: a span redaction could not apply is never stored."""
    if not 0 <= start < end:
        raise ValueError("start must be >= 0 and less than end")
    record = _record_at(dataset, record_index)
    fields = dict(ingestion.record_fields(record)) if record is not None else {}
    if field not in fields:
        raise ValueError(f"field must be one of the record's text fields: {sorted(fields)}")
    if end > len(fields[field]):
        raise ValueError(f"end must not pass the field's length ({len(fields[field])})")


def _require_reviewable(dataset: Dataset) -> None:
    if dataset.status != DatasetStatus.NEEDS_REVIEW:
        raise DatasetStateError(
            f"Dataset is {dataset.status}; findings can only be reviewed while it needs review."
        )


def decision_state(finding: Finding) -> dict[str, Any]:
    """A finding's decision and span as audit details hold them (ids and offsets only)."""
    return {
        "decision": finding.decision,
        "start": finding.start,
        "end": finding.end,
        "decided_by": finding.decided_by_id,
        "decided_at": finding.decided_at.isoformat() if finding.decided_at else None,
    }


def decide_finding(
    actor: Actor,
    finding: Finding,
    decision: str,
    *,
    start: int | None = None,
    end: int | None = None,
) -> Finding:
    """Accept or reject one finding, optionally adjusting its span. Audited."""
    dataset = finding.dataset
    require(actor, dataset.project_id, Action.REVIEW_PII, obj=dataset)
    _require_reviewable(dataset)
    Decision(decision)
    with transaction.atomic():
        before = decision_state(finding)  # what undo restores (datasets_app/undo.py)
        finding.decision = decision
        finding.decided_by = actor.user
        finding.decided_at = timezone.now()
        if start is not None and end is not None:
            check_span(dataset, finding.record_index, finding.field, start, end)
            finding.start, finding.end = start, end
        finding.save()
        record_event(
            actor,
            "pii.decide",
            obj=finding,
            details={
                "decision": decision,
                "type": finding.entity_type,
                "dataset": dataset.pk,
                "before": before,
                "after": decision_state(finding),
            },
        )
    return finding


def bulk_decide(
    actor: Actor,
    dataset: Dataset,
    decision: str,
    *,
    entity_types: Iterable[str] | None = None,
    min_score: float | None = None,
    max_score: float | None = None,
) -> int:
    """Decide every pending finding matching the filters (none: all pending). Returns the count."""
    require(actor, dataset.project_id, Action.REVIEW_PII, obj=dataset)
    _require_reviewable(dataset)
    Decision(decision)
    pending = dataset.findings.filter(decision=Decision.PENDING)
    if entity_types:
        pending = pending.filter(entity_type__in=list(entity_types))
    if min_score is not None:
        pending = pending.filter(score__gte=min_score)
    if max_score is not None:
        pending = pending.filter(score__lte=max_score)
    with transaction.atomic():
        count = pending.update(decision=decision, decided_by=actor.user, decided_at=timezone.now())
        record_event(
            actor,
            "pii.bulk_decide",
            obj=dataset,
            details={
                "decision": decision,
                "count": count,
                "entity_types": sorted(entity_types or []),
                "min_score": min_score,
            },
        )
    return count


def add_finding(
    actor: Actor,
    dataset: Dataset,
    *,
    record_index: int,
    field: str,
    start: int,
    end: int,
    entity_type: str,
) -> Finding:
    """A reviewer marks a span the detector missed; it is accepted at once."""
    require(actor, dataset.project_id, Action.REVIEW_PII, obj=dataset)
    _require_reviewable(dataset)
    if not (0 <= record_index < dataset.record_count):
        raise ValueError("record_index must point inside the dataset")
    check_span(dataset, record_index, field, start, end)
    with transaction.atomic():
        finding = Finding.objects.create(
            dataset=dataset,
            record_index=record_index,
            field=field,
            start=start,
            end=end,
            entity_type=entity_type,
            score=1.0,
            recognizer="reviewer",
            decision=Decision.ACCEPTED,
            added_by_reviewer=True,
            decided_by=actor.user,
            decided_at=timezone.now(),
        )
        record_event(
            actor, "pii.add", obj=finding, details={"type": entity_type, "dataset": dataset.pk}
        )
    return finding


# --- approval ----------------------------------------------------------------------------


def approve_dataset(actor: Actor, dataset: Dataset) -> DatasetVersion:
    """Freeze the reviewed records as a new immutable version with splits. Audited.

    Pending findings are redacted (the safe default) unless the dataset's options demand a
    complete review, in which case pending findings make this raise DatasetStateError (409).
    """
    require(actor, dataset.project_id, Action.APPROVE_DATASET, obj=dataset)
    if dataset.status != DatasetStatus.NEEDS_REVIEW:
        raise DatasetStateError(
            f"Only a dataset that needs review can be approved; this one is {dataset.status}."
        )
    if dataset.project.require_distinct_approver and dataset.uploaded_by_id == getattr(
        actor.user, "pk", None
    ):
        raise DatasetStateError(
            "This project requires a different data steward than the "
            "uploader to approve the dataset."
        )
    return freeze_reviewed_version(actor, dataset)


def freeze_reviewed_version(
    actor: Actor, dataset: Dataset, *, automatic: bool = False
) -> DatasetVersion:
    """Build the next version from the current decisions and audit the approval (the caller
    has authorized it). Raises DatasetStateError when the dataset's options demand a complete
    review and findings are still pending, and RiskStateError when the project requires that
    no risk flag be pending and some are. Sends ``dataset_approved`` once committed."""
    from datasets_app.risk import require_no_pending_flags
    from datasets_app.versioning import ConcurrentApproval, UnappliedFinding, write_version

    options = IngestOptions.from_dict(dataset.options)
    pending = dataset.findings.filter(decision=Decision.PENDING).count()
    if options.require_full_review and pending:
        raise DatasetStateError(f"{pending} findings are still pending review.")
    require_no_pending_flags(dataset)  # the project's data-risk policy (409 naming it)
    try:
        draft = write_version(actor, dataset, options, pending_redacted=pending)
    except UnappliedFinding as exc:
        raise DatasetStateError(str(exc)) from exc
    try:
        version = _store_approved_version(actor, dataset, draft, pending, automatic=automatic)
    except ConcurrentApproval as exc:
        vault.discard_data_key(draft.key)
        raise DatasetStateError(str(exc)) from exc
    except Exception:
        vault.discard_data_key(draft.key)  # no row points at the blobs: nothing is left behind
        raise
    dataset.status = DatasetStatus.APPROVED
    return version


def _store_approved_version(
    actor: Actor, dataset: Dataset, draft: VersionDraft, pending: int, *, automatic: bool
) -> DatasetVersion:
    """The version row, the dataset's move to approved and the ``dataset.approve`` audit entry,
    in one transaction: the version exists if and only if its approval is audited."""
    from datasets_app.versioning import store_version

    with transaction.atomic():
        version = store_version(actor, dataset, draft)
        details = {
            "version": version.number,
            "content_hash": version.content_hash,
            "pending_redacted": pending,
        }
        if automatic:
            details["automatic"] = True
        record_event(actor, "dataset.approve", obj=dataset, details=details)
        send_on_commit(dataset_approved, sender=Dataset, dataset=dataset, version=version)
    return version


def reopen_dataset(actor: Actor, dataset: Dataset) -> Dataset:
    """Reopen review of an approved dataset: decisions can change again and the next approval
    freezes a new version. Existing versions stay immutable (jobs keep training on them)."""
    require(actor, dataset.project_id, Action.APPROVE_DATASET, obj=dataset)
    with transaction.atomic():
        if not Dataset.objects.filter(pk=dataset.pk, status=DatasetStatus.APPROVED).update(
            status=DatasetStatus.NEEDS_REVIEW
        ):
            raise DatasetStateError(
                f"Only an approved dataset can be reopened; this one is {dataset.status}."
            )
        record_event(actor, "dataset.reopen", obj=dataset)
    dataset.refresh_from_db()
    return dataset


MIN_REASON_CHARS = 10


def read_reidentification_map(
    actor: Actor, dataset: Dataset, version: DatasetVersion, *, reason: str
) -> dict[str, dict[str, str]]:
    """The encrypted map from pseudonyms back to original values: owners only, with a reason
    that goes into the audit trail. Raises DatasetStateError when the version has no map."""
    from datasets_app.versioning import REIDENTIFICATION_BLOB

    require(actor, dataset.project_id, Action.REIDENTIFY, obj=dataset)
    reason = " ".join(reason.split())
    if len(reason) < MIN_REASON_CHARS:
        raise ValueError(f"Give a reason of at least {MIN_REASON_CHARS} characters.")
    if not version.lineage.get("reidentification_map"):
        raise DatasetStateError("This version was approved without a re-identification map.")
    record_event(
        actor,
        "dataset.reidentify",
        obj=dataset,
        details={"version": version.number, "reason": reason[:500]},
    )
    return json.loads(vault.read_blob(version.data_key, REIDENTIFICATION_BLOB))


# --- reading -----------------------------------------------------------------------------


def read_records(
    actor: Actor, dataset: Dataset, *, offset: int = 0, limit: int = 20, raw: bool = False
) -> list[dict[str, Any]]:
    """A page of records: raw text (data stewards only) or redacted. Audited either way."""
    from datasets_app.versioning import preview_redacted, read_version_records

    action = Action.VIEW_RAW_DATA if raw else Action.VIEW_REDACTED_DATA
    require(actor, dataset.project_id, action, obj=dataset)
    limit = max(1, min(limit, 200))
    record_event(
        actor,
        "dataset.view_raw" if raw else "dataset.view_redacted",
        obj=dataset,
        details={"offset": offset, "limit": limit},
    )
    version = dataset.latest_version
    if raw:
        return ingestion.read_slice(
            vault.open_blob(dataset.data_key, ingestion.RECORDS_BLOB), offset, limit
        )
    if version is not None:
        return read_version_records(version, offset, limit)
    return preview_redacted(dataset, offset, limit)


def read_cleaning_examples(actor: Actor, dataset: Dataset) -> list[dict[str, Any]]:
    """What each cleaning step changed or dropped: ``[{"name", "changed", "dropped",
    "examples"}]`` with up to three examples per step, each ``{"before", "after", "source"}``
    (a change) or ``{"dropped", "reason", "source"}`` (a drop).

    Examples quote raw, unredacted text: data stewards only (VIEW_RAW_DATA), audited as a raw
    read. Raises DatasetStateError (409) while the dataset has no cleaned records.
    """
    require(actor, dataset.project_id, Action.VIEW_RAW_DATA, obj=dataset)
    if dataset.data_key_id is None:
        raise DatasetStateError(f"Dataset is {dataset.status}; it has no cleaning report.")
    record_event(actor, "dataset.view_raw", obj=dataset, details={"part": "cleaning_examples"})
    path = vault.blob_path(dataset.data_key, ingestion.CLEANING_REPORT_BLOB)
    if not path.exists():
        return []  # records stored without running the cleaner keep no report
    report = json.loads(vault.read_blob(dataset.data_key, ingestion.CLEANING_REPORT_BLOB))
    return [
        {
            "name": step["name"],
            "changed": step.get("changed", 0),
            "dropped": step.get("dropped", 0),
            "examples": step.get("examples", []),
        }
        for step in report.get("steps", [])
    ]


# --- deletion ----------------------------------------------------------------------------


def delete_dataset(actor: Actor, dataset: Dataset) -> list[str]:
    """Crypto-shred the upload and everything derived from it (records, versions, job
    checkpoints and models trained on it). Returns the destroyed key ids. Audited."""
    require(actor, dataset.project_id, Action.DELETE_DATASET, obj=dataset)
    destroyed = vault.destroy_data_key(
        actor, dataset.raw_key, reason=f"dataset {dataset.pk} deleted"
    )
    with transaction.atomic():
        dataset.findings.all().delete()
        Dataset.objects.filter(pk=dataset.pk).update(
            status=DatasetStatus.DELETED, error="Deleted; its data was destroyed."
        )
        record_event(
            actor, "dataset.delete", obj=dataset, details={"keys_destroyed": len(destroyed)}
        )
    return destroyed


def visible_datasets(user: Any) -> QuerySet[Dataset]:
    """Datasets in projects the user belongs to, deleted ones excluded."""
    from accounts.services import project_ids_allowing

    ids = project_ids_allowing(user, Action.VIEW_PROJECT)
    return Dataset.objects.filter(project_id__in=ids).exclude(status=DatasetStatus.DELETED)
