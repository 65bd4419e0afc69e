"""Hooks that let serving follow the other apps without them knowing about it.

* When the ingestion task of a dataset ends (Celery ``task_postrun`` in the worker), a
  fine-tune file is approved where its project allows it and waiting jobs move on.
* When a ``ModelVersion`` is created (the training runner stores it), the fine-tuning job
  behind it, if any, is deployed under its ``fine_tuned_model`` name.

Both run inside other apps' code paths (the worker, the training runner): a failure here is
logged and never breaks ingestion or training.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import task_postrun
from django.db import DatabaseError, transaction
from django.db.models.signals import post_save

logger = logging.getLogger(__name__)
INGESTION_TASK = "datasets_app.tasks.ingest_dataset"


def connect() -> None:
    """Connect the receivers (called from ``ServingConfig.ready``)."""
    from trainer.models import ModelVersion

    task_postrun.connect(ingestion_finished, weak=False, dispatch_uid="serving-ingestion")
    post_save.connect(
        model_version_saved, sender=ModelVersion, weak=False, dispatch_uid="serving-model-version"
    )


def ingestion_finished(sender: Any = None, args: Any = None, **_: Any) -> None:
    """After ``ingest_dataset(dataset_id)``: auto-approval and waiting fine-tuning jobs."""
    if getattr(sender, "name", "") != INGESTION_TASK or not args:
        return
    from serving.files import after_ingestion

    try:
        after_ingestion(int(args[0]))
    except (DatabaseError, ValueError, OSError):
        logger.exception("serving: follow-up of the ingestion of dataset %s failed", args[0])


def model_version_saved(sender: Any, instance: Any, created: bool, **_: Any) -> None:
    """A new model version: deploy it if a fine-tuning job asked for it (after commit)."""
    if not created:
        return
    transaction.on_commit(lambda: _deploy(instance))


def _deploy(version: Any) -> None:
    from serving.fine_tuning import deploy_finished

    try:
        deploy_finished(version)
    except (DatabaseError, ValueError, OSError):
        logger.exception("serving: deploying model version %s failed", version.pk)
