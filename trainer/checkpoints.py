"""Listing a job's encrypted checkpoints for the API and the job page."""

from __future__ import annotations

from typing import Any

from trainer.models import TrainingJob
from vault import services as vault


def list_checkpoints(job: TrainingJob) -> list[dict[str, Any]]:
    """Step, losses and best flag of each kept checkpoint (reads the store's plaintext index of
    non-sensitive metadata; the checkpoints themselves stay encrypted)."""
    from trainer.engine import CheckpointStore

    if job.data_key is None or job.data_key.is_destroyed:
        return []
    directory = vault.blob_dir(job.data_key) / "checkpoints"
    if not directory.exists():
        return []
    store = CheckpointStore(
        directory,
        data_key=vault.unwrap_data_key(job.data_key),
        key_id=job.data_key.artifact_id,
        artifact_id=job.data_key.artifact_id,
    )
    return [
        {
            "step": info.step,
            "train_loss": info.train_loss,
            "val_loss": info.val_loss,
            "is_best": info.is_best,
        }
        for info in store.list()
    ]
