"""Of two approvals racing, one wins: the loser writes no version and no audit row (the
dataset's move to approved is a conditional update inside the approval's transaction)."""

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
