"""Files of the OpenAI-compatible API: each file is a ``Dataset``.

``POST /v1/files`` registers the encrypted upload through ``datasets_app.services.create_dataset``
(the same ingestion: cleaning, PII detection, steward review) with purpose ``fine-tune``.
When the project has ``auto_approve_redaction``, such a file is approved as soon as ingestion
ends, pending findings redacted, without a human review (audited as an automatic approval).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from audit.services import SYSTEM, Actor
from datasets_app import services as datasets
from datasets_app.models import Dataset, DatasetStatus
from datasets_app.options import IngestOptions
from datasets_app.services import DatasetStateError, freeze_reviewed_version
from datasets_app.uploads import EncryptedUpload
from openai_api.naming import file_id

logger = logging.getLogger(__name__)
FINE_TUNE_PURPOSE = "fine-tune"
PURPOSES = (FINE_TUNE_PURPOSE,)


def create_file(actor: Actor, project: Any, upload: EncryptedUpload) -> Dataset:
    """Register an uploaded JSONL file (chat or prompt/completion records) for fine-tuning.
    Needs UPLOAD_DATA in ``project``; ingestion is queued when the transaction commits."""
    return datasets.create_dataset(
        actor,
        project,
        name=upload.name,
        upload=upload,
        options=IngestOptions(),
        purpose=FINE_TUNE_PURPOSE,
    )


def delete_file(actor: Actor, dataset: Dataset) -> None:
    """Crypto-shred the file and everything derived from it. Needs DELETE_DATASET."""
    datasets.delete_dataset(actor, dataset)


def auto_approvable(dataset: Dataset) -> bool:
    """A fine-tune file waiting for review in a project that approves such files itself."""
    return (
        dataset.status == DatasetStatus.NEEDS_REVIEW
        and dataset.purpose == FINE_TUNE_PURPOSE
        and dataset.project.auto_approve_redaction
    )


def auto_approve(dataset_id: int) -> bool:
    """Approve a fine-tune file after automatic redaction of every pending finding, when its
    project allows it. Returns True when a version was created. Audited (``automatic``).

    The dataset row is locked and re-checked, so concurrent callers approve it once.
    """
    with transaction.atomic():
        dataset = (
            Dataset.objects.select_for_update().select_related("project").filter(pk=dataset_id)
        ).first()
        if dataset is None or not auto_approvable(dataset):
            return False
        try:
            freeze_reviewed_version(SYSTEM, dataset, automatic=True)
        except DatasetStateError:  # the dataset's options demand a human review
            return False
    return True


def file_status(dataset: Dataset) -> str:
    """OpenAI's file status: uploaded while processing, error when failed, else processed."""
    if dataset.status == DatasetStatus.PROCESSING:
        return "uploaded"
    if dataset.status in (DatasetStatus.FAILED, DatasetStatus.DELETED):
        return "error"
    return "processed"


def file_object(dataset: Dataset) -> dict[str, Any]:
    """The ``file`` object; ``soberana_status`` tells whether review is still needed."""
    return {
        "id": file_id(dataset.pk),
        "object": "file",
        "bytes": dataset.raw_size,
        "created_at": int(dataset.created_at.timestamp()),
        "expires_at": None,
        "filename": dataset.source_name,
        "purpose": dataset.purpose if dataset.purpose in PURPOSES else FINE_TUNE_PURPOSE,
        "status": file_status(dataset),
        "status_details": dataset.error or None,
        "soberana_status": dataset.status,
        "records": dataset.record_count,
    }
