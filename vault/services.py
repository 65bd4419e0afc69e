"""The key hierarchy and the encrypted blob store, used by every app that stores data.

Master key (key-encryption key, from ``SOBERANA_MASTER_KEY``/``_FILE`` or generated into the data
dir) -> per-artifact data keys (``DataKey`` rows, stored wrapped) -> blobs (segmented AES-256-GCM
files under ``BLOB_DIR/<key id>/``). See docs/security.md.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import envelope
from audit.services import Actor, record_event
from vault.models import DataKey


class KeyDestroyedError(Exception):
    """The data key was destroyed (crypto-shredded); its data can no longer be read."""


@lru_cache(maxsize=4)
def _provider_for(key_value: str | None, key_path: str) -> envelope.MasterKeyProvider:
    if key_value:
        return envelope.LocalMasterKeyProvider.from_string(key_value)
    return envelope.LocalMasterKeyProvider.from_file(key_path, create=True)


def master_key_provider() -> envelope.MasterKeyProvider:
    """The configured master key provider (cached per configuration)."""
    return _provider_for(settings.MASTER_KEY, str(settings.MASTER_KEY_PATH))


def create_data_key(purpose: str, *, parent: DataKey | None = None) -> tuple[DataKey, bytes]:
    """Generate a data key, store it wrapped, return the row and the raw key (keep it in memory)."""
    raw = envelope.generate_data_key()
    provider = master_key_provider()
    row = DataKey(purpose=purpose, parent=parent, master_key_id=provider.key_id)
    row.wrapped_key = provider.wrap(raw, context=row.artifact_id)
    row.save()
    return row, raw


def unwrap_data_key(row: DataKey) -> bytes:
    """Return the raw data key. Raises KeyDestroyedError after crypto-shredding."""
    if row.is_destroyed or row.wrapped_key is None:
        raise KeyDestroyedError(f"Data key {row.id} was destroyed; its data is gone.")
    return master_key_provider().unwrap(bytes(row.wrapped_key), context=row.artifact_id)


def blob_dir(row: DataKey) -> Path:
    """Folder holding every blob encrypted under ``row``."""
    return Path(settings.BLOB_DIR) / row.artifact_id


def blob_path(row: DataKey, name: str) -> Path:
    """Path of the blob ``name`` under ``row``; ``name`` is a plain file name."""
    if "/" in name or name.startswith("."):
        raise ValueError(f"Invalid blob name {name!r}.")
    return blob_dir(row) / name


def write_blob(row: DataKey, name: str, data: bytes) -> Path:
    """Encrypt ``data`` under ``row`` into the named blob, atomically."""
    path = blob_path(row, name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    envelope.write_encrypted_bytes(
        path, data, unwrap_data_key(row), key_id=row.artifact_id, artifact_id=row.artifact_id
    )
    return path


def read_blob(row: DataKey, name: str) -> bytes:
    """Decrypt and return the named blob; raises envelope errors on tampering."""
    return envelope.read_encrypted_bytes(
        blob_path(row, name), unwrap_data_key(row), artifact_id=row.artifact_id
    )


@contextmanager
def blob_writer(row: DataKey, name: str) -> Iterator[envelope.EncryptedWriter]:
    """Stream plaintext into an encrypted blob; the file appears only when the block succeeds."""
    path = blob_path(row, name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = unwrap_data_key(row)
    with envelope.EncryptedWriter(
        path, key, key_id=row.artifact_id, artifact_id=row.artifact_id
    ) as writer:
        yield writer


def open_blob(row: DataKey, name: str) -> IO[bytes]:
    """A readable binary stream decrypting the blob segment by segment."""
    return envelope.open_decrypted(
        blob_path(row, name), unwrap_data_key(row), artifact_id=row.artifact_id
    )


def discard_data_key(row: DataKey) -> None:
    """Delete a key that nothing references yet (a refused upload) together with its blobs."""
    shutil.rmtree(blob_dir(row), ignore_errors=True)
    row.delete()


def destroy_data_key(actor: Actor, row: DataKey, *, reason: str) -> list[str]:
    """Crypto-shred ``row`` and every key derived from it; delete their blobs. Audited.

    Returns the ids of the destroyed keys.
    """
    destroyed: list[str] = []
    with transaction.atomic():
        for key in _with_descendants(row):
            DataKey.objects.filter(pk=key.pk).update(wrapped_key=None, destroyed_at=timezone.now())
            destroyed.append(key.artifact_id)
        record_event(actor, "key.destroy", obj=row, details={"keys": destroyed, "reason": reason})
    for key_id in destroyed:
        shutil.rmtree(Path(settings.BLOB_DIR) / key_id, ignore_errors=True)
    return destroyed


def _with_descendants(row: DataKey) -> list[DataKey]:
    found, frontier = [row], [row]
    while frontier:
        children = list(DataKey.objects.filter(parent__in=frontier, destroyed_at__isnull=True))
        found.extend(children)
        frontier = children
    return found


def rotate_master_key(
    actor: Actor, old: envelope.MasterKeyProvider, new: envelope.MasterKeyProvider
) -> int:
    """Re-wrap every live data key from ``old`` to ``new`` in one transaction. Data is untouched.

    Returns the number of keys re-wrapped. Raises envelope.WrongKeyError if ``old`` is wrong.
    """
    count = 0
    with transaction.atomic():
        live = DataKey.objects.select_for_update().filter(destroyed_at__isnull=True)
        for row in live.exclude(wrapped_key=None):
            raw = old.unwrap(bytes(row.wrapped_key), context=row.artifact_id)
            row.wrapped_key = new.wrap(raw, context=row.artifact_id)
            row.master_key_id = new.key_id
            row.save(update_fields=["wrapped_key", "master_key_id"])
            count += 1
        record_event(
            actor,
            "key.rotate_master",
            details={"rewrapped": count, "old": old.key_id, "new": new.key_id},
        )
    _provider_for.cache_clear()
    return count
