"""Chunked, resumable uploads: start, add chunks (encrypted on arrival), ask what arrived,
complete (assemble into the encrypted raw blob and register the dataset). Audited. Uploads
left incomplete for ``CHUNKED_UPLOAD_TTL_HOURS`` are discarded by an hourly beat task.

No plaintext ever touches the disk: each chunk streams from the request into its own encrypted
blob under its own data key (a child of the upload key); completion streams the decrypted chunks
in order into the ``raw`` blob under the upload key, the same layout as a one-shot upload
(``datasets_app.uploads``), then discards the chunk keys and their blobs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Project
from accounts.roles import Action
from accounts.services import PermissionDenied, require
from audit.services import SYSTEM, Actor, record_event
from datasets_app import services
from datasets_app.models import ChunkedUpload, Dataset
from datasets_app.options import IngestOptions
from datasets_app.uploads import RAW_BLOB, EncryptedUpload, UploadTooLarge
from vault import services as vault
from vault.models import DataKey

DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024
MIN_CHUNK_BYTES = 64 * 1024
MAX_CHUNK_BYTES = 16 * 1024 * 1024
CHUNK_BLOB = "chunk"
READ_BYTES = 256 * 1024


class ChunkError(ValueError):
    """The chunk does not fit the upload (bad index, wrong size, short body); a 400."""


class UploadIncomplete(services.DatasetStateError):
    """Completion was asked while chunks are missing, or twice; a 409."""


class UploadExpired(UploadIncomplete):
    """The upload sat idle past its time to live and was discarded; a 409."""


def start_upload(
    actor: Actor,
    project: Project,
    *,
    filename: str,
    total_size: int,
    chunk_size: int = DEFAULT_CHUNK_BYTES,
) -> ChunkedUpload:
    """Open an upload of ``total_size`` bytes in chunks of ``chunk_size``. Audited.

    Raises PermissionDenied without UPLOAD_DATA in the project, UploadTooLarge past
    ``MAX_UPLOAD_BYTES`` (nothing is stored then) and ChunkError for impossible sizes.
    """
    require(actor, project.pk, Action.UPLOAD_DATA, obj=project)
    if total_size > settings.MAX_UPLOAD_BYTES:
        raise UploadTooLarge(f"{total_size} bytes exceed the upload limit")
    if total_size <= 0:
        raise ChunkError("The file is empty.")
    if not MIN_CHUNK_BYTES <= chunk_size <= MAX_CHUNK_BYTES:
        raise ChunkError(f"chunk_size must be between {MIN_CHUNK_BYTES} and {MAX_CHUNK_BYTES}")
    with transaction.atomic():
        key, _ = vault.create_data_key("upload")
        upload = ChunkedUpload.objects.create(
            project=project,
            created_by=actor.user,
            filename=filename[:255] or "upload",
            total_size=total_size,
            chunk_size=chunk_size,
            upload_key=key,
        )
        record_event(
            actor,
            "upload.start",
            obj=upload,
            details={"bytes": total_size, "chunks": upload.chunk_count, "project": project.pk},
        )
    return upload


def _check_chunk(actor: Actor, upload: ChunkedUpload, index: int, length: int) -> None:
    """Refuse a chunk from anyone but the uploader, after completion, or of the wrong size."""
    if getattr(actor.user, "pk", None) != upload.created_by_id:
        raise PermissionDenied(Action.UPLOAD_DATA.value)
    require(actor, upload.project_id, Action.UPLOAD_DATA, obj=upload)
    if upload.dataset_id is not None:
        raise UploadIncomplete("This upload is already complete.")
    if length > MAX_CHUNK_BYTES:
        raise UploadTooLarge(f"a chunk holds at most {MAX_CHUNK_BYTES} bytes")
    if not 0 <= index < upload.chunk_count:
        raise ChunkError(f"chunk index must be between 0 and {upload.chunk_count - 1}")
    if length != upload.expected_size(index):
        raise ChunkError(
            f"chunk {index} must hold {upload.expected_size(index)} bytes, not {length}"
        )


def store_chunk(
    actor: Actor, upload: ChunkedUpload, index: int, read: Callable[[int], bytes], length: int
) -> ChunkedUpload:
    """Encrypt ``length`` bytes from ``read`` as chunk ``index``; a re-sent chunk replaces the
    earlier one. Returns the refreshed upload.

    Raises PermissionDenied (not the uploader / no UPLOAD_DATA), UploadIncomplete (already
    complete), UploadTooLarge (chunk over MAX_CHUNK_BYTES) or ChunkError (index, size, or a body
    shorter than announced: the partial blob and its key are discarded).
    """
    _check_chunk(actor, upload, index, length)
    _touch(upload)
    key, _ = vault.create_data_key("upload-chunk", parent=upload.upload_key)
    try:
        _encrypt_body(key, read, length)
    except ChunkError:
        vault.discard_data_key(key)
        raise
    with transaction.atomic():
        fresh = ChunkedUpload.objects.select_for_update().get(pk=upload.pk)
        replaced = fresh.chunks.get(str(index))
        fresh.chunks[str(index)] = {"key": str(key.pk), "size": length}
        fresh.save(update_fields=["chunks"])
    if replaced:
        _discard_key(replaced["key"])
    return fresh


def _touch(upload: ChunkedUpload) -> None:
    """Mark the upload as active now, so the sweeper leaves it alone; UploadExpired when the
    sweeper discarded it first (the conditional update finds no row)."""
    if not ChunkedUpload.objects.filter(pk=upload.pk, dataset__isnull=True).update(
        touched_at=timezone.now()
    ):
        raise UploadExpired(
            f"This upload was discarded after {settings.CHUNKED_UPLOAD_TTL_HOURS} hours "
            "without a chunk; start a new one."
        )


def _encrypt_body(key: DataKey, read: Callable[[int], bytes], length: int) -> None:
    """Stream exactly ``length`` bytes into the chunk blob; ChunkError when the body ends early."""
    remaining = length
    with vault.blob_writer(key, CHUNK_BLOB) as writer:
        while remaining:
            piece = read(min(READ_BYTES, remaining))
            if not piece:
                # Raising inside the block makes the writer drop its partial file.
                raise ChunkError(f"the body ended {remaining} bytes short of {length}")
            writer.write(piece[:remaining])
            remaining -= len(piece[:remaining])


def _discard_key(key_id: Any) -> None:
    key = DataKey.objects.filter(pk=key_id).first()
    if key is not None:
        vault.discard_data_key(key)


def upload_state(upload: ChunkedUpload) -> dict[str, Any]:
    """What a client needs to resume: which chunks arrived and which are missing."""
    received = sorted(int(i) for i in upload.chunks)
    complete = upload.dataset_id is not None
    missing = [] if complete else sorted(set(range(upload.chunk_count)) - set(received))
    return {
        "id": upload.pk,
        "filename": upload.filename,
        "total_size": upload.total_size,
        "chunk_size": upload.chunk_size,
        "chunk_count": upload.chunk_count,
        "received": received,
        "received_bytes": upload.received_bytes,
        "missing": missing,
        "dataset": upload.dataset_id,
        "complete": complete,
    }


def complete_upload(
    actor: Actor,
    upload: ChunkedUpload,
    *,
    name: str,
    options: IngestOptions,
    purpose: str = "training",
) -> Dataset:
    """Assemble every chunk, in order, into the encrypted raw blob and register the dataset
    (queuing its ingestion). Audited. Chunk keys and blobs are discarded afterwards.

    Raises PermissionDenied (not the uploader / no UPLOAD_DATA) and UploadIncomplete (409: chunks
    missing, or already completed). On failure the chunks stay, so the client can retry.
    """
    if getattr(actor.user, "pk", None) != upload.created_by_id:
        raise PermissionDenied(Action.UPLOAD_DATA.value)
    require(actor, upload.project_id, Action.UPLOAD_DATA, obj=upload)
    state = upload_state(upload)
    if state["complete"]:
        raise UploadIncomplete("This upload is already complete.")
    if state["missing"]:
        raise UploadIncomplete(
            f"{len(state['missing'])} chunks are missing: {state['missing'][:20]}"
        )
    _touch(upload)
    encrypted = _assemble(upload)
    try:
        dataset = services.create_dataset(
            actor, upload.project, name=name, upload=encrypted, options=options, purpose=purpose
        )
    except Exception:
        vault.blob_path(upload.upload_key, RAW_BLOB).unlink(missing_ok=True)
        raise
    _finish(actor, upload, dataset)
    return dataset


def _assemble(upload: ChunkedUpload) -> EncryptedUpload:
    """Decrypt the chunks one piece at a time into the raw blob under the upload key."""
    digest = hashlib.sha256()
    size = 0
    with vault.blob_writer(upload.upload_key, RAW_BLOB) as writer:
        for index in range(upload.chunk_count):
            key = DataKey.objects.get(pk=upload.chunks[str(index)]["key"])
            with vault.open_blob(key, CHUNK_BLOB) as chunk:
                while piece := chunk.read(READ_BYTES):
                    digest.update(piece)
                    writer.write(piece)
                    size += len(piece)
    return EncryptedUpload(
        name=upload.filename,
        content_type="application/octet-stream",
        size=size,
        sha256=digest.hexdigest(),
        key=upload.upload_key,
    )


def _finish(actor: Actor, upload: ChunkedUpload, dataset: Dataset) -> None:
    chunk_keys = [c["key"] for c in upload.chunks.values()]
    with transaction.atomic():
        upload.dataset = dataset
        upload.chunks = {}
        upload.save(update_fields=["dataset", "chunks"])
        record_event(
            actor,
            "upload.complete",
            obj=upload,
            details={"dataset": dataset.pk, "bytes": dataset.raw_size, "chunks": len(chunk_keys)},
        )
    for key_id in chunk_keys:
        _discard_key(key_id)


# --- abandoned uploads ----------------------------------------------------------------------


def discard_abandoned_uploads(*, now: datetime | None = None) -> int:
    """Discard every incomplete upload not touched (started, or sent a chunk) for
    ``CHUNKED_UPLOAD_TTL_HOURS``: its chunk keys, its upload key and their blobs are deleted
    through the vault, and the row goes, with one ``upload.expire`` audit entry each.
    Completed uploads are never touched. Returns how many were discarded."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.CHUNKED_UPLOAD_TTL_HOURS)
    stale = ChunkedUpload.objects.filter(dataset__isnull=True, touched_at__lt=cutoff)
    return sum(_discard_if_stale(pk, cutoff) for pk in list(stale.values_list("pk", flat=True)))


def _discard_if_stale(upload_id: int, cutoff: datetime) -> bool:
    """Re-check under a row lock (a chunk may have just arrived), then discard the upload."""
    with transaction.atomic():
        upload = (
            ChunkedUpload.objects.select_for_update()
            .filter(pk=upload_id, dataset__isnull=True, touched_at__lt=cutoff)
            .select_related("upload_key")
            .first()
        )
        if upload is None or Dataset.objects.filter(raw_key=upload.upload_key_id).exists():
            return False  # touched since, or completion is registering its dataset right now
        key = upload.upload_key
        record_event(
            SYSTEM,
            "upload.expire",
            obj=upload,
            details={
                "project": upload.project_id,
                "chunks": len(upload.chunks),
                "bytes": upload.received_bytes,
                "idle_since": upload.touched_at.isoformat(),
            },
        )
        upload.delete()
    # Every child key, also one whose chunk never finished storing, then the upload key.
    for chunk_key in key.derived.all():
        vault.discard_data_key(chunk_key)
    vault.discard_data_key(key)
    return True
