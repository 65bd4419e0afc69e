"""A model version of a finished training job, made in the database (no training)."""

from __future__ import annotations

from typing import Any

from trainer.models import JobEvent, ModelVersion, TrainingJob


def make_model_version(
    approved_version: Any, base_model: Any, name: str = "support model"
) -> ModelVersion:
    """A succeeded LoRA job on ``approved_version`` from ``base_model``, one metrics event
    (step 1, loss 2.5), and its model version (perplexity 12.5)."""
    from vault.services import create_data_key

    key, _ = create_data_key("job", parent=approved_version.data_key)
    job = TrainingJob.objects.create(
        project_id=approved_version.dataset.project_id,
        dataset_version=approved_version,
        base_model=base_model,
        method="lora",
        hyperparameters={"max_steps": 2},
        data_key=key,
        status="succeeded",
    )
    JobEvent.objects.create(
        job=job, kind="metrics", message="step 1", data={"step": 1, "loss": 2.5}
    )
    return ModelVersion.objects.create(
        project_id=job.project_id,
        job=job,
        name=name,
        data_key=key,
        artifact_dir="",
        metrics={"perplexity": 12.5},
    )
