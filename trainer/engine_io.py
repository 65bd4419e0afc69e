"""What the Django side hands the engine and reads back from it, for every task that runs it
on a job (training in ``trainer.runner``, evaluation in ``trainer.evaluations``, and any
later one): the engine config of a job, the approved records decrypted into memory, the job's
encrypted checkpoint store with its audited decryption, JSON fit for a row, and failures
turned into reasons a user can act on.

Nothing here writes the job row: that is ``trainer.lease``'s (fenced) and ``trainer.services``'.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from audit.services import SYSTEM, record_event
from datasets_app.versioning import iter_version_records
from trainer import checkpoints, services
from trainer.models import TrainingJob
from vault import services as vault

if TYPE_CHECKING:
    from trainer.engine.checkpoint import CheckpointStore
    from trainer.engine.config import TrainConfig
    from trainer.engine.data import TrainData


def engine_config(job: TrainingJob) -> TrainConfig:
    """The engine's validated ``TrainConfig`` for ``job`` (its model, method and settings);
    raises ``services.JobRequestError`` naming the field when they no longer validate."""
    return services.build_engine_config(
        job.dataset_version, job.base_model, job.method, job.hyperparameters
    )


def iter_engine_records(job: TrainingJob) -> Iterator[dict[str, Any]]:
    """The approved version's records as the engine takes them: with their ``split``, without
    the ingestion's bookkeeping (language, source).

    With a separate validation version (OpenAI's ``validation_file``), every record of that
    version validates, and the training version's own validation split trains too; its test
    split still serves the evaluation."""
    separate = job.validation_version is not None
    for record in iter_version_records(job.dataset_version):
        record = _engine_record(record)
        if separate and record["split"] == "validation":
            record["split"] = "train"
        yield record
    if separate:
        for record in iter_version_records(job.validation_version):
            yield {**_engine_record(record), "split": "validation"}


def _engine_record(record: dict[str, Any]) -> dict[str, Any]:
    record.pop("lang", None)
    record.pop("source", None)
    record.setdefault("split", "train")
    return record


def load_training_data(job: TrainingJob) -> TrainData:
    """The approved version's records, decrypted into memory, split into train/val/test."""
    from trainer.engine import TrainData

    splits: dict[str, list[dict[str, Any]]] = {"train": [], "validation": [], "test": []}
    for record in iter_engine_records(job):
        splits.setdefault(record.pop("split"), []).append(record)
    if not splits["train"]:
        raise no_training_records()
    # A small dataset can hash no record into the test split: evaluate on validation instead
    # (the evaluation says which split it used).
    test = splits["test"] or splits["validation"]
    return TrainData(train=splits["train"], validation=splits["validation"], test=test)


def no_training_records() -> services.JobRequestError:
    return services.JobRequestError("dataset", "the dataset version has no training records")


def open_checkpoint_store(job: TrainingJob, keep_last: int) -> CheckpointStore:
    """The job's encrypted checkpoint store (the same layout the engine CLI opens)."""
    return checkpoints.open_store(
        checkpoints.checkpoint_dir(job), job.data_key, keep_last=keep_last
    )


def audit_decryption(job: TrainingJob, purpose: str, step: int) -> None:
    """Decrypting training data, checkpoints or the trained model is an audited access:
    ``purpose`` says why (``train``, ``resume``, ``evaluate`` …), ``step`` from where."""
    record_event(
        SYSTEM,
        "checkpoint.decrypt" if purpose != "train" else "dataset.decrypt",
        obj=job,
        details={
            "purpose": purpose,
            "step": step,
            "dataset_version": job.dataset_version_id,
            "validation_version": job.validation_version_id,
        },
    )


def finite_json(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None, recursively: JSON has no
    NaN, and PostgreSQL refuses it in a JSON column."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {key: finite_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(item) for item in value]
    return value


class EngineProcessError(RuntimeError):
    """The torchrun processes failed; the message is the engine's last error line and
    ``detail`` the tail of their stderr (for admins)."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


def explain_failure(exc: BaseException, activity: str = "Training") -> str:
    """A reason a user can act on, from an exception raised while training (or evaluating)."""
    from trainer.engine import ConfigError

    text = str(exc)
    if isinstance(exc, EngineProcessError) and text.startswith("ConfigError: "):
        return f"Invalid configuration: {text.removeprefix('ConfigError: ')}"
    if isinstance(exc, ConfigError | services.JobRequestError):
        return f"Invalid configuration: {text}"
    if isinstance(exc, MemoryError) or "out of memory" in text.lower():
        return (
            "The job ran out of memory. Lower batch_size or seq_len, enable "
            "gradient_checkpointing, or use LoRA instead of a full fine-tune."
        )
    if isinstance(exc, vault.KeyDestroyedError):
        return "The dataset behind this job was deleted and its data destroyed."
    if isinstance(exc, EngineProcessError):
        return f"{activity} failed: {text[:300]}"
    return f"{activity} failed: {type(exc).__name__}: {text[:300]}"
