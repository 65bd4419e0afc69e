"""How the OpenAI-compatible layer follows datasets and training: receivers of the signals
those apps declare (``datasets_app.signals``, ``trainer.signals``), connected in
``OpenAIApiConfig.ready``.

* ``ingestion_finished``: a fine-tune file is approved where its project allows it
  (``auto_approve_redaction``) and the fine-tuning jobs waiting for it move on (or fail with it).
* ``dataset_approved``: the fine-tuning jobs waiting for that file move on.
* ``model_version_stored``: the fine-tuning job behind the training job, if any, is deployed
  under its ``fine_tuned_model`` name.
* ``serving.release.release_cleared``: a version a release check held back (its privacy audit
  had not passed yet) is deployed as above once the check clears it.

Each runs after the producer's transaction committed, in the producer's process (a worker, or
the web process of a steward's approval); a receiver that raises is logged and never undoes
ingestion, approval or training (``ops.signals.send_on_commit``).
"""

from __future__ import annotations

from typing import Any

from datasets_app.signals import dataset_approved, ingestion_finished
from openai_api.files import auto_approve
from openai_api.fine_tuning import advance_fine_tunes_for_dataset, deploy_finished
from serving.release import release_cleared
from trainer.signals import model_version_stored


def connect() -> None:
    """Connect the receivers (called from ``OpenAIApiConfig.ready``)."""
    ingestion_finished.connect(follow_ingestion, dispatch_uid="openai-api-ingestion-finished")
    dataset_approved.connect(follow_approval, dispatch_uid="openai-api-dataset-approved")
    model_version_stored.connect(deploy_model_version, dispatch_uid="openai-api-model-version")
    release_cleared.connect(deploy_cleared_version, dispatch_uid="openai-api-release-cleared")


def follow_ingestion(sender: Any, dataset_id: int, outcome: str, **_: Any) -> None:
    """Ingestion ended: approve the file where its project allows it, then move on (or fail)
    the jobs waiting for it."""
    if outcome == "needs_review":
        auto_approve(dataset_id)
    advance_fine_tunes_for_dataset(dataset_id)


def follow_approval(sender: Any, dataset: Any, version: Any, **_: Any) -> None:
    """A file was approved: the fine-tuning jobs waiting for it move on."""
    advance_fine_tunes_for_dataset(dataset.pk)


def deploy_cleared_version(sender: Any, model_version: Any, **_: Any) -> None:
    """A release check now lets the version out: serve it if a fine-tuning job waits for it."""
    deploy_finished(model_version)


def deploy_model_version(sender: Any, model_version: Any, job: Any, **_: Any) -> None:
    """A fine-tuning job's model is trained: serve it under its ``fine_tuned_model`` name."""
    deploy_finished(model_version)
