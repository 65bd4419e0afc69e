"""Finished training runs made in the database without training (fast): a job with its
"metrics" events (loss, validation loss, learning rate, throughput), checkpoints metadata
aside, and the model version it produced. For page tests and screenshots."""

from __future__ import annotations

import math
from typing import Any


def metric_rows(
    steps: int, *, start_loss: float, floor: float, peak_lr: float = 2e-4, eval_every: int = 10
) -> list[dict]:
    """Plausible metrics: loss decaying towards ``floor``, validation loss every
    ``eval_every`` steps, cosine learning rate after a short warm-up, steady throughput."""
    rows = []
    for step in range(1, steps + 1):
        progress = step / steps
        loss = floor + (start_loss - floor) * math.exp(-4 * progress) + 0.05 * math.sin(step)
        lr = peak_lr * min(1.0, step / 5) * 0.5 * (1 + math.cos(math.pi * progress))
        row = {
            "step": step,
            "loss": round(loss, 4),
            "lr": lr,
            "tokens_per_s": 1800 + 40 * math.cos(step / 3),
            "eta_s": 0.5 * (steps - step),
            "total_steps": steps,
        }
        if step % eval_every == 0 or step == steps:
            row["val_loss"] = round(loss + 0.12, 4)
        rows.append(row)
    return rows


def make_finished_run(
    version: Any,
    *,
    name: str,
    base_model: Any = None,
    method: str = "lora",
    steps: int = 60,
    start_loss: float = 3.2,
    floor: float = 1.4,
    hyperparameters: dict[str, Any] | None = None,
) -> Any:
    """A succeeded job on ``version`` with metrics events and an evaluated model version."""
    from trainer.models import JobEvent, ModelVersion, TrainingJob
    from vault.services import create_data_key

    key, _ = create_data_key("job", parent=version.data_key)
    settings = {
        "objective": "supervised",
        "max_steps": steps,
        "learning_rate": 2e-4,
        "batch_size": 2,
        "seq_len": 256,
        "lora_r": 8,
        "seed": 1234,
        **(hyperparameters or {}),
    }
    rows = metric_rows(
        steps, start_loss=start_loss, floor=floor, peak_lr=float(settings["learning_rate"])
    )
    final = rows[-1]
    job = TrainingJob.objects.create(
        project_id=version.dataset.project_id,
        dataset_version=version,
        base_model=base_model,
        method=method,
        hyperparameters=settings,
        data_key=key,
        status="succeeded",
        evaluation_status="done",
        progress={"step": steps, "total_steps": steps, "loss": final["loss"]},
    )
    JobEvent.objects.bulk_create(
        JobEvent(job=job, kind="metrics", message=f"step {row['step']}", data=row) for row in rows
    )
    evaluation = {
        "base": {"perplexity": 31.5, "loss": 3.45, "target_tokens": 4200},
        "tuned": {"perplexity": round(math.exp(final["val_loss"]), 2), "loss": final["val_loss"]},
        "test_records": 12,
        "split": "test",
    }
    TrainingJob.objects.filter(pk=job.pk).update(evaluation=evaluation)
    return ModelVersion.objects.create(
        project_id=job.project_id,
        job=job,
        name=name,
        data_key=key,
        artifact_dir="",
        metrics=evaluation,
        lineage={
            "dataset_version": version.pk,
            "dataset_content_hash": version.content_hash,
            "validation_version": None,
            "base_model": base_model.name if base_model else None,
            "method": method,
            "hyperparameters": job.hyperparameters,
        },
    )
