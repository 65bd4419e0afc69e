"""The signals ``datasets_app`` declares (``datasets_app.signals``): each sent once, only
after the producing transaction commits, never when it rolls back, with the documented
arguments. Callbacks are captured (``django_capture_on_commit_callbacks``) to see that nothing
is sent before the commit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import SYSTEM, Actor
from datasets_app.models import Dataset, DatasetStatus, DatasetVersion
from datasets_app.services import (
    approve_dataset,
    freeze_reviewed_version,
    requeue_stalled_ingestions,
    run_ingestion,
)
from datasets_app.signals import dataset_approved, ingestion_finished
from vault.models import DataKey

pytestmark = pytest.mark.django_db


class Rollback(Exception):
    """Raised to roll a transaction back."""


def test_ingestion_finished_is_sent_once_after_commit_with_needs_review(
    upload: Any, received: Any, django_capture_on_commit_callbacks: Any
) -> None:
    sends = received(ingestion_finished)
    dataset_id = upload()
    with django_capture_on_commit_callbacks(execute=True):
        run_ingestion(dataset_id)
        assert sends == []  # the transaction has not committed yet
    assert sends == [{"sender": Dataset, "dataset_id": dataset_id, "outcome": "needs_review"}]
    assert Dataset.objects.get(pk=dataset_id).status == DatasetStatus.NEEDS_REVIEW


def test_failed_ingestion_sends_failed(
    upload: Any, received: Any, django_capture_on_commit_callbacks: Any
) -> None:
    sends = received(ingestion_finished)
    dataset_id = upload([{"text": "   "}])  # nothing usable after cleaning
    with django_capture_on_commit_callbacks(execute=True):
        run_ingestion(dataset_id)
    assert sends == [{"sender": Dataset, "dataset_id": dataset_id, "outcome": "failed"}]
    assert Dataset.objects.get(pk=dataset_id).status == DatasetStatus.FAILED


def test_a_second_message_for_a_finished_ingestion_sends_nothing(
    upload: Any, received: Any, django_capture_on_commit_callbacks: Any
) -> None:
    dataset_id = upload()
    with django_capture_on_commit_callbacks(execute=True):
        run_ingestion(dataset_id)
    sends = received(ingestion_finished)
    with django_capture_on_commit_callbacks(execute=True):
        run_ingestion(dataset_id)  # a redelivered message finds nothing to claim
    assert sends == []


def test_the_sweeper_giving_up_on_an_ingestion_sends_failed(
    upload: Any, received: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    sends = received(ingestion_finished)
    dataset_id = upload()
    Dataset.objects.filter(pk=dataset_id).update(
        ingest_attempts=settings.INGEST_MAX_ATTEMPTS,
        ingest_lease_owner="dead-worker:1",
        ingest_lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_stalled_ingestions() == []
    assert sends == [{"sender": Dataset, "dataset_id": dataset_id, "outcome": "failed"}]


def test_dataset_approved_is_sent_once_after_commit_with_dataset_and_version(
    cast: Any, review_dataset_from: Any, received: Any, django_capture_on_commit_callbacks: Any
) -> None:
    sends = received(dataset_approved)
    dataset = review_dataset_from(
        [{"kind": "text", "text": "Call Ana at 612 34 56 78", "lang": "en"}],
        [(0, 12, 24, "PHONE_NUMBER", 0.9)],
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        version = approve_dataset(Actor(user=cast.steward), dataset)
    assert sends == []
    for callback in callbacks:
        callback()
    assert sends == [{"sender": Dataset, "dataset": dataset, "version": version}]
    assert sends[0]["dataset"].status == DatasetStatus.APPROVED
    assert DatasetVersion.objects.get(dataset=dataset) == version


def test_a_rolled_back_approval_sends_nothing(
    review_dataset_from: Any, received: Any, django_capture_on_commit_callbacks: Any
) -> None:
    sends = received(dataset_approved)
    dataset = review_dataset_from([{"kind": "text", "text": "Nothing here.", "lang": "en"}], [])
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Rollback):
        with transaction.atomic():
            freeze_reviewed_version(SYSTEM, dataset, automatic=True)
            raise Rollback
    assert sends == []
    assert not DatasetVersion.objects.filter(dataset=dataset).exists()


def test_an_approval_whose_audit_entry_fails_leaves_no_version_and_no_blobs(
    cast: Any, review_dataset_from: Any, received: Any, monkeypatch: Any
) -> None:
    sends = received(dataset_approved)
    dataset = review_dataset_from([{"kind": "text", "text": "Nothing here.", "lang": "en"}], [])
    keys_before = set(DataKey.objects.values_list("pk", flat=True))

    def failing_audit(actor: Actor, action: str, **kwargs: Any) -> None:
        raise Rollback(action)

    monkeypatch.setattr("datasets_app.services.record_event", failing_audit)
    with pytest.raises(Rollback):
        approve_dataset(Actor(user=cast.steward), dataset)
    assert not DatasetVersion.objects.filter(dataset=dataset).exists()
    assert Dataset.objects.get(pk=dataset.pk).status == DatasetStatus.NEEDS_REVIEW
    assert set(DataKey.objects.values_list("pk", flat=True)) == keys_before
    assert sends == []


def test_every_version_has_exactly_one_approval_audit_entry(
    cast: Any, review_dataset_from: Any
) -> None:
    dataset = review_dataset_from([{"kind": "text", "text": "Nothing here.", "lang": "en"}], [])
    version = approve_dataset(Actor(user=cast.steward), dataset)
    entries = AuditEvent.objects.filter(action="dataset.approve", object_id=str(dataset.pk))
    assert [e.details["version"] for e in entries] == [version.number]
