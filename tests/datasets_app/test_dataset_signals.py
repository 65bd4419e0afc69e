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

from audit.services import SYSTEM, Actor
from datasets_app.models import Dataset, DatasetStatus, DatasetVersion
from datasets_app.services import (
    approve_dataset,
    freeze_reviewed_version,
    requeue_stalled_ingestions,
    run_ingestion,
)
from datasets_app.signals import dataset_approved, ingestion_finished

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
