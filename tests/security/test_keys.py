"""Master key rotation and crypto-shredding, through vault.services and the management command.

Rotation re-wraps every live data key under the new master key; blobs are not rewritten. After
it, data reads with the new key and not with the old one. Destroying a data key destroys every
key derived from it and deletes their blobs; what is left (copies, backups of blobs) cannot be
decrypted any more.
"""

from __future__ import annotations

import io
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from security_world import make_approved_dataset, make_job

import envelope
from audit.models import AuditEvent
from audit.services import SYSTEM, Actor
from datasets_app.models import DatasetStatus
from vault import services as vault
from vault.models import DataKey


@pytest.fixture
def fresh_master_key(db: Any, settings: Any, tmp_path: Path) -> Iterator[Path]:
    """An embedded master key file of this test's own (the provider cache is cleared around)."""
    settings.MASTER_KEY = None
    settings.MASTER_KEY_PATH = tmp_path / "master.key"
    vault._provider_for.cache_clear()
    yield settings.MASTER_KEY_PATH
    vault._provider_for.cache_clear()


def _key_chain() -> dict[str, tuple[DataKey, bytes]]:
    """upload -> dataset-records -> dataset-version -> job, each with a blob."""
    chain: dict[str, tuple[DataKey, bytes]] = {}
    parent = None
    for purpose in ("upload", "dataset-records", "dataset-version", "job"):
        row, _ = vault.create_data_key(purpose, parent=parent)
        plaintext = f"secret text of the {purpose} ".encode() * 50
        vault.write_blob(row, "data.bin", plaintext)
        chain[purpose] = (row, plaintext)
        parent = row
    return chain


def _reload(row: DataKey) -> DataKey:
    return DataKey.objects.get(pk=row.pk)


def test_rotation_rewraps_every_key_and_data_reads_only_with_the_new_key(
    fresh_master_key: Path,
) -> None:
    chain = _key_chain()
    shredded, _ = vault.create_data_key("upload")
    vault.destroy_data_key(SYSTEM, shredded, reason="gone before the rotation")
    old = vault.master_key_provider()
    blob_bytes = {p: vault.blob_path(r, "data.bin").read_bytes() for p, (r, _) in chain.items()}

    call_command("rotate_master_key", stdout=io.StringIO())

    new = vault.master_key_provider()
    assert new.key_id != old.key_id
    for purpose, (row, plaintext) in chain.items():
        current = _reload(row)
        assert current.master_key_id == new.key_id
        assert vault.read_blob(current, "data.bin") == plaintext
        assert vault.blob_path(row, "data.bin").read_bytes() == blob_bytes[purpose]  # untouched
        with pytest.raises(envelope.WrongKeyError):
            old.unwrap(bytes(current.wrapped_key), context=current.artifact_id)
    assert _reload(shredded).wrapped_key is None
    event = AuditEvent.objects.get(action="key.rotate_master")
    assert event.details == {"rewrapped": 4, "old": old.key_id, "new": new.key_id}


def test_rotation_swaps_the_key_files_and_the_old_key_no_longer_opens_data(
    fresh_master_key: Path,
) -> None:
    chain = _key_chain()
    old_id = vault.master_key_provider().key_id
    call_command("rotate_master_key", stdout=io.StringIO())
    kept = fresh_master_key.with_suffix(".old")
    assert envelope.LocalMasterKeyProvider.from_file(kept).key_id == old_id
    assert stat.S_IMODE(fresh_master_key.stat().st_mode) == 0o600
    assert not fresh_master_key.with_suffix(".new").exists()
    # An operator who restores the old key file (a stale backup) reads nothing.
    shutil.copyfile(kept, fresh_master_key)
    vault._provider_for.cache_clear()
    row, _ = chain["dataset-version"]
    with pytest.raises(envelope.WrongKeyError):
        vault.read_blob(_reload(row), "data.bin")


def test_rotation_with_the_key_in_the_environment_takes_a_new_key_file(
    db: Any, settings: Any, tmp_path: Path
) -> None:
    old_value, new_value = secrets.token_bytes(32).hex(), secrets.token_bytes(32).hex()
    settings.MASTER_KEY = old_value
    vault._provider_for.cache_clear()
    try:
        chain = _key_chain()
        with pytest.raises(CommandError, match="--new-key-file"):
            call_command("rotate_master_key")
        new_file = tmp_path / "new.key"
        new_file.write_text(new_value)
        new_file.chmod(0o600)
        call_command("rotate_master_key", new_key_file=str(new_file), stdout=io.StringIO())
        row, plaintext = chain["job"]
        settings.MASTER_KEY = new_value  # the operator updates SOBERANA_MASTER_KEY
        assert vault.read_blob(_reload(row), "data.bin") == plaintext
        settings.MASTER_KEY = old_value
        with pytest.raises(envelope.WrongKeyError):
            vault.read_blob(_reload(row), "data.bin")
    finally:
        vault._provider_for.cache_clear()


def test_rotation_from_a_wrong_old_key_changes_nothing(fresh_master_key: Path) -> None:
    chain = _key_chain()
    before = {row.pk: bytes(_reload(row).wrapped_key) for row, _ in chain.values()}
    wrong = envelope.LocalMasterKeyProvider(secrets.token_bytes(32))
    new = envelope.LocalMasterKeyProvider(secrets.token_bytes(32))
    with pytest.raises(envelope.WrongKeyError):
        vault.rotate_master_key(SYSTEM, wrong, new)
    assert {pk: bytes(DataKey.objects.get(pk=pk).wrapped_key) for pk in before} == before
    assert not AuditEvent.objects.filter(action="key.rotate_master").exists()


def test_destroying_a_key_shreds_its_descendants_and_their_blobs(db: Any) -> None:
    chain = _key_chain()
    bystander, _ = vault.create_data_key("upload")
    vault.write_blob(bystander, "data.bin", b"another dataset")
    root = chain["upload"][0]
    backup = vault.blob_path(chain["dataset-version"][0], "data.bin").read_bytes()

    destroyed = vault.destroy_data_key(Actor(user_agent="test"), root, reason="dataset deleted")

    assert sorted(destroyed) == sorted(row.artifact_id for row, _ in chain.values())
    for row, _ in chain.values():
        current = _reload(row)
        assert current.is_destroyed and current.wrapped_key is None
        assert not vault.blob_dir(row).exists()
        with pytest.raises(vault.KeyDestroyedError):
            vault.read_blob(current, "data.bin")
    # A copy of a blob taken before (a backup of the blob store) is unreadable too.
    version_row = chain["dataset-version"][0]
    vault.blob_dir(version_row).mkdir(parents=True)
    vault.blob_path(version_row, "data.bin").write_bytes(backup)
    with pytest.raises(vault.KeyDestroyedError):
        vault.read_blob(_reload(version_row), "data.bin")
    assert vault.read_blob(_reload(bystander), "data.bin") == b"another dataset"
    event = AuditEvent.objects.get(action="key.destroy")
    assert event.details == {"keys": destroyed, "reason": "dataset deleted"}
    assert event.object_id == root.artifact_id


def _dataset_keys(dataset: Any, job: Any) -> list[DataKey]:
    version = dataset.latest_version
    return [dataset.raw_key, dataset.data_key, version.data_key, job.data_key]


def test_steward_deleting_a_dataset_over_the_api_shreds_it(
    cast: Any, api_client_for: Any, tiny_base_model_row: Any
) -> None:
    dataset = make_approved_dataset(cast.project, cast.steward)
    job = make_job(dataset.latest_version, tiny_base_model_row, cast.engineer, "succeeded")
    keys = _dataset_keys(dataset, job)
    steward = api_client_for(cast.steward)

    assert steward.delete(f"/api/v1/datasets/{dataset.pk}/").status_code == 204

    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.DELETED
    for key in keys:
        assert _reload(key).is_destroyed and not vault.blob_dir(key).exists()
        with pytest.raises(vault.KeyDestroyedError):
            vault.read_blob(_reload(key), "records.jsonl")
    assert steward.get(f"/api/v1/datasets/{dataset.pk}/").status_code == 404
    assert steward.get(f"/api/v1/jobs/{job.pk}/checkpoints/").json() == {"results": []}
    destroy = AuditEvent.objects.get(action="key.destroy")
    assert set(destroy.details["keys"]) >= {k.artifact_id for k in keys}
    assert AuditEvent.objects.filter(
        action="dataset.delete", object_id=str(dataset.pk), actor_username="steward"
    ).exists()
    call_command("verify_audit_log", stdout=io.StringIO())


def test_engineer_cannot_delete_a_dataset_and_nothing_is_destroyed(
    cast: Any, api_client_for: Any
) -> None:
    dataset = make_approved_dataset(cast.project, cast.steward)
    response = api_client_for(cast.engineer).delete(f"/api/v1/datasets/{dataset.pk}/")
    assert response.status_code == 403
    assert not DataKey.objects.filter(destroyed_at__isnull=False).exists()
    assert AuditEvent.objects.filter(action="denied.delete_dataset", outcome="denied").exists()


@pytest.fixture
def tiny_base_model_row(db: Any) -> Any:
    """A base model row (never loaded: jobs here are rows only)."""
    from trainer.models import BaseModel

    return BaseModel.objects.create(name="keys-test", path="/nonexistent", max_seq_len=512)
