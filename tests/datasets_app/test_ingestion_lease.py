"""The ingestion lease: one worker at a time ingests a dataset, a dead worker's dataset is
taken over and ends like a clean run, a worker that lost its lease changes nothing, and the
sweeper re-sends stalled ingestions until it gives up with a readable reason.

Time is moved by rewriting lease deadlines and creation times, never waited for.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from datasets_app import ingest_lease, ingest_runner, ingestion
from datasets_app.ingest_lease import IngestLeaseLost, claim_ingestion
from datasets_app.models import Dataset, DatasetStatus, Finding
from datasets_app.services import run_ingestion
from datasets_app.tasks import requeue_stalled_ingestions

THIEF = "worker-b:" + "f" * 32


def _findings(dataset_id: int) -> set[tuple[Any, ...]]:
    return set(
        Finding.objects.filter(dataset_id=dataset_id).values_list(
            "record_index", "field", "start", "end", "entity_type", "recognizer"
        )
    )


def _leave_partial_finding(dataset_id: int) -> None:
    """What a worker that died mid-run leaves behind: a finding a clean run would not write."""
    Finding.objects.create(
        dataset_id=dataset_id, record_index=6, start=0, end=6, entity_type="PERSON", score=0.9
    )


def _expire(dataset_id: int) -> None:
    past = timezone.now() - timedelta(seconds=1)
    Dataset.objects.filter(pk=dataset_id).update(ingest_lease_expires_at=past)


def _ingest_outcomes(dataset_id: int) -> int:
    return AuditEvent.objects.filter(action="dataset.ingest", object_id=str(dataset_id)).count()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Dataset ids whose ingestion message the sweeper task sends (captured, not sent)."""
    messages: list[int] = []
    monkeypatch.setattr("datasets_app.tasks.ingest_dataset.delay", messages.append)
    return messages


@pytest.fixture
def steal_at_write(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``arm(n, then=None)``: after the ``n``-th findings batch is stored, another worker takes
    the lease over (``then`` runs next, e.g. to raise); returns a dict whose ``"findings"`` is
    the count stored at that moment."""
    write = ingest_runner.FindingWriter.write
    seen: dict[str, int] = {"writes": 0}

    def arm(n: int, then: Any = None) -> dict[str, int]:
        def stealing_write(self: Any, spans: Any) -> None:
            write(self, spans)
            seen["writes"] += 1
            if seen["writes"] == n:
                deadline = timezone.now() + timedelta(minutes=5)
                Dataset.objects.filter(pk=self.dataset_id).update(
                    ingest_lease_owner=THIEF, ingest_lease_expires_at=deadline
                )
                seen["findings"] = Finding.objects.filter(dataset_id=self.dataset_id).count()
                if then is not None:
                    then()

        monkeypatch.setattr(ingest_runner.FindingWriter, "write", stealing_write)
        return seen

    return arm


def test_a_second_delivery_while_the_lease_is_fresh_changes_nothing(upload: Any) -> None:
    dataset_id = upload()
    first = claim_ingestion(dataset_id, "worker-a")
    assert first is not None and first.attempt == 1
    _leave_partial_finding(dataset_id)  # the first worker is still writing
    before = _findings(dataset_id)

    run_ingestion(dataset_id, worker="worker-b")

    dataset = Dataset.objects.get(pk=dataset_id)
    assert dataset.status == DatasetStatus.PROCESSING
    assert (dataset.ingest_lease_owner, dataset.ingest_attempts) == (first.owner, 1)
    assert _findings(dataset_id) == before
    assert _ingest_outcomes(dataset_id) == 0


def test_an_expired_lease_is_taken_over_and_ends_like_a_clean_run(
    small_batches: None, upload: Any, api_client_for: Any, cast: Any
) -> None:
    clean_id = upload()
    run_ingestion(clean_id)
    clean = Dataset.objects.get(pk=clean_id)
    assert (clean.status, clean.ingest_attempts, clean.ingest_lease_owner) == (
        DatasetStatus.NEEDS_REVIEW,
        1,
        "",
    )

    dataset_id = upload()
    dead = claim_ingestion(dataset_id, "worker-a")
    assert dead is not None
    _leave_partial_finding(dataset_id)
    _expire(dataset_id)

    run_ingestion(dataset_id, worker="worker-b")

    dataset = Dataset.objects.get(pk=dataset_id)
    assert dataset.status == DatasetStatus.NEEDS_REVIEW
    assert (dataset.ingest_attempts, dataset.ingest_lease_owner) == (2, "")
    assert _findings(dataset_id) == _findings(clean_id)
    assert dataset.pii_summary["by_type"] == clean.pii_summary["by_type"]
    assert dataset.record_count == clean.record_count
    with pytest.raises(IngestLeaseLost):  # were the dead worker still alive, it stops
        dead.renew()
    body = api_client_for(cast.steward).get(f"/api/v1/datasets/{dataset_id}/").json()
    assert body["ingest_attempts"] == 2


# 7 records in batches of 2: writes 1-4 store the first pass, 5-8 the consistency pass.
@pytest.mark.parametrize("stolen_after", [2, 5], ids=["while-scanning", "consistency-pass"])
def test_a_worker_whose_lease_is_taken_over_stops_at_its_next_batch_and_writes_nothing(
    small_batches: None,
    upload: Any,
    steal_at_write: Any,
    monkeypatch: pytest.MonkeyPatch,
    stolen_after: int,
) -> None:
    monkeypatch.setattr(ingest_lease, "RENEW_EVERY_SECONDS", 0.0)  # renew at every chance
    dataset_id = upload()
    lease = claim_ingestion(dataset_id, "worker-a")
    assert lease is not None
    seen = steal_at_write(stolen_after)

    with pytest.raises(IngestLeaseLost):
        ingest_runner.ingest(Dataset.objects.get(pk=dataset_id), lease)

    assert seen["writes"] == stolen_after  # the next batch was refused before its insert
    dataset = Dataset.objects.get(pk=dataset_id)
    assert (dataset.status, dataset.error, dataset.ingest_lease_owner) == ("processing", "", THIEF)
    assert dataset.data_key_id is None and dataset.record_count == 0
    assert Finding.objects.filter(dataset_id=dataset_id).count() == seen["findings"] > 0
    assert _ingest_outcomes(dataset_id) == 0


def _bad_input() -> None:
    raise ingestion.IngestionError("The file could not be read.")


@pytest.mark.parametrize("then", [None, _bad_input], ids=["would-succeed", "would-fail"])
def test_a_worker_that_lost_its_lease_cannot_overwrite_the_new_owners_outcome(
    small_batches: None, upload: Any, steal_at_write: Any, then: Any
) -> None:
    # Default throttle: the run does not renew again before its end, where the fence stops it.
    dataset_id = upload()
    seen = steal_at_write(1, then)

    run_ingestion(dataset_id, worker="worker-a")  # stops quietly: not the worker's to fail

    dataset = Dataset.objects.get(pk=dataset_id)
    assert (dataset.status, dataset.error, dataset.ingest_lease_owner) == ("processing", "", THIEF)
    assert dataset.data_key_id is None
    # Nothing deleted: the findings are the new owner's to replace.
    assert Finding.objects.filter(dataset_id=dataset_id).count() >= seen["findings"] > 0
    assert _ingest_outcomes(dataset_id) == 0


def test_a_dataset_deleted_during_ingestion_stays_deleted(
    small_batches: None, upload: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_lease, "RENEW_EVERY_SECONDS", 0.0)
    write = ingest_runner.FindingWriter.write

    def write_then_delete(self: Any, spans: Any) -> None:
        write(self, spans)
        Dataset.objects.filter(pk=self.dataset_id).update(status=DatasetStatus.DELETED)

    monkeypatch.setattr(ingest_runner.FindingWriter, "write", write_then_delete)
    dataset_id = upload()
    run_ingestion(dataset_id)
    assert Dataset.objects.get(pk=dataset_id).status == DatasetStatus.DELETED


def test_the_sweeper_resends_an_expired_ingestion_once_and_leaves_fresh_ones_alone(
    upload: Any, sent: list[int]
) -> None:
    expired, fresh, just_uploaded = upload(), upload(), upload()
    assert claim_ingestion(expired, "worker-a") is not None
    assert claim_ingestion(fresh, "worker-a") is not None
    _expire(expired)

    assert requeue_stalled_ingestions() == [expired]
    assert sent == [expired]
    released = Dataset.objects.get(pk=expired)
    assert released.ingest_lease_owner == "" and released.ingest_lease_expires_at > timezone.now()
    assert requeue_stalled_ingestions() == []  # not re-sent while that message may be queued
    assert sent == [expired]

    run_ingestion(expired, worker="worker-b")  # the re-sent message is claimed: attempt 2
    done = Dataset.objects.get(pk=expired)
    assert (done.status, done.ingest_attempts) == (DatasetStatus.NEEDS_REVIEW, 2)
    for untouched in (fresh, just_uploaded):
        assert Dataset.objects.get(pk=untouched).status == DatasetStatus.PROCESSING


def test_the_sweeper_resends_a_dataset_nobody_claimed_for_a_whole_lease(
    upload: Any, sent: list[int], settings: Any
) -> None:
    dataset_id = upload()  # its message was lost
    long_ago = timezone.now() - timedelta(seconds=settings.INGEST_LEASE_SECONDS + 1)
    Dataset.objects.filter(pk=dataset_id).update(created_at=long_ago)

    assert requeue_stalled_ingestions() == [dataset_id]
    assert requeue_stalled_ingestions() == []
    assert Dataset.objects.get(pk=dataset_id).ingest_attempts == 0  # no claim, no attempt


def test_an_ingestion_interrupted_three_times_fails_with_a_readable_reason(
    upload: Any, sent: list[int]
) -> None:
    dataset_id = upload()
    for attempt in (1, 2, 3):
        lease = claim_ingestion(dataset_id, f"worker-{attempt}")
        assert lease is not None and lease.attempt == attempt
        _leave_partial_finding(dataset_id)
        _expire(dataset_id)  # the worker died
        requeue_stalled_ingestions()
    assert sent == [dataset_id, dataset_id]  # after attempts 1 and 2

    dataset = Dataset.objects.get(pk=dataset_id)
    assert dataset.status == DatasetStatus.FAILED
    assert dataset.error == (
        "Processing was interrupted 3 times (the worker stopped); upload the file again or "
        "ask an administrator to check the ingestion worker."
    )
    assert dataset.ingest_lease_owner == ""
    assert not Finding.objects.filter(dataset_id=dataset_id).exists()
    event = AuditEvent.objects.get(action="dataset.ingest", object_id=str(dataset_id))
    assert event.outcome == "error" and event.details["attempts"] == 3
    assert claim_ingestion(dataset_id, "worker-4") is None


def test_a_late_message_cannot_claim_a_fourth_attempt_before_the_sweeper_fails_it(
    upload: Any, settings: Any
) -> None:
    dataset_id = upload()
    for attempt in range(1, settings.INGEST_MAX_ATTEMPTS + 1):
        assert claim_ingestion(dataset_id, f"worker-{attempt}") is not None
        _expire(dataset_id)
    assert claim_ingestion(dataset_id, "late") is None


def test_the_dataset_page_says_which_attempt_is_running(
    upload: Any, client: Any, cast: Any
) -> None:
    dataset_id = upload()
    claim_ingestion(dataset_id, "worker-a")
    client.force_login(cast.steward)
    assert "(attempt" not in client.get(f"/datasets/{dataset_id}/").content.decode()
    _expire(dataset_id)
    claim_ingestion(dataset_id, "worker-b")
    assert "(attempt 2:" in client.get(f"/datasets/{dataset_id}/").content.decode()
