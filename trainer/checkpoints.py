"""Opening encrypted checkpoint stores (jobs, model versions) and listing a job's checkpoints
for the API and the job page."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer.models import ModelVersion, TrainingJob
from vault import services as vault
from vault.models import DataKey

if TYPE_CHECKING:
    from trainer.engine.checkpoint import CheckpointStore


def open_store(directory: Path | str, key: DataKey, **options: Any) -> CheckpointStore:
    """The engine's ``CheckpointStore`` in ``directory``, encrypted under the data key ``key``
    (its artifact id binds each file to the key); ``options`` go to the store (``keep_last``)."""
    from trainer.engine import CheckpointStore

    return CheckpointStore(
        directory,
        data_key=vault.unwrap_data_key(key),
        key_id=key.artifact_id,
        artifact_id=key.artifact_id,
        **options,
    )


def checkpoint_dir(job: TrainingJob) -> Path:
    """Where a job's encrypted checkpoints live (beside its other blobs)."""
    return vault.blob_dir(job.data_key) / "checkpoints"


def open_version_store(version: ModelVersion) -> CheckpointStore:
    """The store holding a model version's final weights."""
    return open_store(version.artifact_dir, version.data_key)


def list_checkpoints(job: TrainingJob) -> list[dict[str, Any]]:
    """Step, losses and best flag of each kept checkpoint (reads the store's plaintext index of
    non-sensitive metadata; the checkpoints themselves stay encrypted)."""
    if job.data_key is None or job.data_key.is_destroyed:
        return []
    directory = checkpoint_dir(job)
    if not directory.exists():
        return []
    store = open_store(directory, job.data_key)
    return [
        {
            "step": info.step,
            "train_loss": info.train_loss,
            "val_loss": info.val_loss,
            "is_best": info.is_best,
        }
        for info in store.list()
    ]
