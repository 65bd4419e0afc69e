"""Chunked uploads left incomplete past their time to live are discarded with their keys and
blobs; fresh and completed ones stay. Time is passed in (``now=``), never waited for."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from datasets_app import chunked
from datasets_app.chunked import MIN_CHUNK_BYTES, discard_abandoned_uploads
from datasets_app.models import ChunkedUpload
from datasets_app.options import IngestOptions
from datasets_app.tasks import discard_abandoned_uploads as discard_task
from vault import services as vault
from vault.models import DataKey

LINE = b'{"text": "Ticket: the printer on floor two is jammed again, please help."}\n'
BODY = LINE * (MIN_CHUNK_BYTES // len(LINE) + 10)  # two chunks


@pytest.fixture
def steward(cast: Any) -> Any:
    from audit.services import Actor

    return Actor(user=cast.steward)


def _start(steward: Any, cast: Any) -> ChunkedUpload:
    return chunked.start_upload(
        steward,
        cast.project,
        filename="tickets.jsonl",
        total_size=len(BODY),
        chunk_size=MIN_CHUNK_BYTES,
    )


def _send(steward: Any, upload: ChunkedUpload, index: int) -> ChunkedUpload:
    piece = BODY[index * MIN_CHUNK_BYTES : (index + 1) * MIN_CHUNK_BYTES]
    reader = iter([piece, b""])
    return chunked.store_chunk(steward, upload, index, lambda _n: next(reader), len(piece))


def _keys_of(upload: ChunkedUpload) -> list[DataKey]:
    return [upload.upload_key, *DataKey.objects.filter(parent=upload.upload_key)]


def _blobs_exist(keys: list[DataKey]) -> list[bool]:
    return [vault.blob_dir(key).exists() for key in keys]


def _later(hours: float) -> Any:
    return timezone.now() + timedelta(hours=hours)


def test_an_upload_idle_past_the_ttl_goes_with_its_keys_and_blobs(steward: Any, cast: Any) -> None:
    upload = _send(steward, _start(steward, cast), 0)
    # A chunk key whose store never finished (the worker died mid-chunk) goes too.
    orphan, _ = vault.create_data_key("upload-chunk", parent=upload.upload_key)
    vault.write_blob(orphan, chunked.CHUNK_BLOB, b"partial")
    keys = _keys_of(upload)
    assert len(keys) == 3 and _blobs_exist(keys) == [False, True, True]
    assert discard_abandoned_uploads(now=_later(24.1)) == 1
    assert not ChunkedUpload.objects.filter(pk=upload.pk).exists()
    assert not DataKey.objects.filter(pk__in=[k.pk for k in keys]).exists()
    assert _blobs_exist(keys) == [False, False, False]
    event = AuditEvent.objects.get(action="upload.expire")
    assert event.object_id == str(upload.pk)
    assert event.details["chunks"] == 1 and event.details["bytes"] == MIN_CHUNK_BYTES


def test_an_upload_touched_within_the_ttl_is_kept(steward: Any, cast: Any) -> None:
    upload = _start(steward, cast)
    assert discard_abandoned_uploads(now=_later(23.9)) == 0
    # A chunk sent later restarts the clock: 30 hours after the start, 23 after the chunk.
    ChunkedUpload.objects.filter(pk=upload.pk).update(
        touched_at=timezone.now() - timedelta(hours=7)
    )
    _send(steward, upload, 0)
    assert discard_abandoned_uploads(now=_later(23)) == 0
    assert ChunkedUpload.objects.filter(pk=upload.pk).exists()
    assert not AuditEvent.objects.filter(action="upload.expire").exists()


def test_the_ttl_comes_from_the_setting(steward: Any, cast: Any, settings: Any) -> None:
    settings.CHUNKED_UPLOAD_TTL_HOURS = 2
    _start(steward, cast)
    assert discard_abandoned_uploads(now=_later(1.5)) == 0
    assert discard_abandoned_uploads(now=_later(2.5)) == 1


def test_completed_uploads_and_their_datasets_are_never_touched(
    steward: Any, cast: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("datasets_app.services._enqueue_ingestion", lambda _id: None)
    upload = _send(steward, _send(steward, _start(steward, cast), 0), 1)
    dataset = chunked.complete_upload(steward, upload, name="t", options=IngestOptions())
    assert discard_abandoned_uploads(now=_later(24 * 30)) == 0
    upload.refresh_from_db()
    assert upload.dataset_id == dataset.pk
    assert vault.blob_path(dataset.raw_key, "raw").exists()


def test_a_chunk_for_a_discarded_upload_is_refused_with_409(steward: Any, cast: Any) -> None:
    upload = _start(steward, cast)
    discard_abandoned_uploads(now=_later(25))
    with pytest.raises(chunked.UploadExpired, match="discarded"):
        _send(steward, upload, 0)
    assert not DataKey.objects.filter(purpose="upload-chunk").exists()


def test_the_beat_task_runs_the_sweep(steward: Any, cast: Any) -> None:
    upload = _start(steward, cast)
    ChunkedUpload.objects.filter(pk=upload.pk).update(
        touched_at=timezone.now() - timedelta(hours=25)
    )
    assert discard_task() == 1
    assert not ChunkedUpload.objects.filter(pk=upload.pk).exists()


def test_beat_schedules_the_sweep_hourly() -> None:
    from platform_site.celery import app

    app.loader.import_default_modules()
    app.finalize()
    entry = app.conf.beat_schedule["discard-abandoned-uploads"]
    assert entry == {"task": "datasets_app.tasks.discard_abandoned_uploads", "schedule": 3600.0}
    assert "datasets_app.tasks.discard_abandoned_uploads" in app.tasks
