"""Approval is one atomic verb: the version row, the dataset's status and the
``dataset.approve`` audit row are written together or not at all (issue #15)."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from audit.services import Actor
from datasets_app import versioning
from datasets_app.models import Dataset, DatasetStatus, DatasetVersion
from datasets_app.services import DatasetStateError, approve_dataset

pytestmark = pytest.mark.django_db(transaction=True)

RECORDS = [{"kind": "text", "text": "Call Ana at 612 34 56 78", "lang": "en"}]
FINDINGS = [(0, 12, 24, "PHONE_NUMBER", 0.9)]


def _approvals(dataset: Dataset) -> int:
    return AuditEvent.objects.filter(action="dataset.approve", object_id=str(dataset.pk)).count()


def test_approval_writes_version_status_and_audit_row_together(
    cast: Any, review_dataset_from: Any
) -> None:
    dataset = review_dataset_from(RECORDS, FINDINGS)
    version = approve_dataset(Actor(user=cast.steward), dataset)
    event = AuditEvent.objects.get(action="dataset.approve", object_id=str(dataset.pk))
    assert event.details["version"] == version.number
    assert event.details["content_hash"] == version.content_hash
    assert Dataset.objects.get(pk=dataset.pk).status == DatasetStatus.APPROVED


def test_a_failed_audit_write_leaves_no_version_and_the_dataset_in_review(
    cast: Any, review_dataset_from: Any, monkeypatch: Any
) -> None:
    dataset = review_dataset_from(RECORDS, FINDINGS)

    def broken_audit(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the audit store is down")

    monkeypatch.setattr(versioning, "record_event", broken_audit)
    with pytest.raises(RuntimeError):
        approve_dataset(Actor(user=cast.steward), dataset)
    assert not DatasetVersion.objects.filter(dataset=dataset).exists()
    assert Dataset.objects.get(pk=dataset.pk).status == DatasetStatus.NEEDS_REVIEW


def test_an_approval_that_lost_the_race_writes_nothing(
    cast: Any, review_dataset_from: Any, monkeypatch: Any
) -> None:
    """Another approval finishes while this one writes its records: this one is refused
    (409) and leaves neither a second version nor a second audit row."""
    dataset = review_dataset_from(RECORDS, FINDINGS)
    real_stats = versioning.compute_token_stats

    def stats_then_lose_the_race(key: Any) -> Any:
        Dataset.objects.filter(pk=dataset.pk).update(status=DatasetStatus.APPROVED)
        return real_stats(key)

    monkeypatch.setattr(versioning, "compute_token_stats", stats_then_lose_the_race)
    with pytest.raises(DatasetStateError):
        approve_dataset(Actor(user=cast.steward), dataset)
    assert not DatasetVersion.objects.filter(dataset=dataset).exists()
    assert _approvals(dataset) == 0
