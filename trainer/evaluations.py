"""Evaluation of a trained model version, as a task of its own (``evaluate_model_version``).

The evaluation state lives on the job row beside the training state (see ``trainer.models``):
the runner sets it to ``pending`` when training succeeds and sends the message; the task claims
it with ``UPDATE ... WHERE evaluation_status='pending'``, so a duplicate message evaluates
nothing twice. The result (perplexity base vs tuned, exact match, BLEU, ROUGE-L) goes to the
job's ``evaluation`` and the model version's ``metrics``; the sample generations hold data and
are stored encrypted. A failed evaluation records a readable reason and leaves the job
succeeded: the trained model is usable whatever its scores.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from ops.signals import send_on_commit
from trainer import services, signals
from trainer.engine_io import (
    audit_decryption,
    engine_config,
    explain_failure,
    finite_json,
    load_training_data,
    open_checkpoint_store,
)
from trainer.lease import EVALUATION, Heartbeat, claim_stage, finish_stage, renew_stage
from trainer.models import EvaluationStatus, ModelVersion, TrainingJob
from vault import services as vault

logger = logging.getLogger(__name__)
SAMPLES_BLOB = "samples.json"
WORKER_LOST = (
    "The worker evaluating this model stopped answering (for example it ran out of memory). "
    "The trained model is unaffected."
)


@dataclass(frozen=True)
class EvaluationClaim:
    """Proof that this worker runs the evaluation of one model version."""

    job_id: int
    version_id: int


class EvaluationReporter:
    """The engine's reporter during evaluation: events to the job's history, nothing else."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id

    def log(self, step: int, metrics: dict[str, float]) -> None:
        """Evaluation reports no training progress."""

    def event(self, kind: str, message: str) -> None:
        services.add_event(self.job_id, kind, message)

    def should_stop(self) -> bool:
        return False


def enqueue_evaluation(version_id: int) -> None:
    """Send the evaluation message (ids only). A broker error is logged, not raised: training
    already succeeded, and the sweeper sends the message again once it counts as lost."""
    from trainer.tasks import evaluate_model_version

    try:
        evaluate_model_version.delay(version_id)
    except Exception:  # kombu's connection errors have no common base worth naming
        logger.warning(
            "could not send the evaluation of model version %s", version_id, exc_info=True
        )


def claim_evaluation(version_id: int) -> EvaluationClaim | None:
    """Take a pending evaluation; None when there is none (done, running elsewhere, unknown)."""
    job_id = ModelVersion.objects.filter(pk=version_id).values_list("job_id", flat=True).first()
    if job_id is None or not claim_stage(EVALUATION, job_id):
        return None
    return EvaluationClaim(job_id=job_id, version_id=version_id)


def renew_evaluation(claim: EvaluationClaim) -> bool:
    """Extend the running evaluation's lease; False when the sweeper gave up on it."""
    return renew_stage(EVALUATION, claim.job_id)


def run_claimed_evaluation(claim: EvaluationClaim) -> None:
    """Evaluate and record a claimed model version. Never raises for evaluation errors: they
    become ``evaluation_status='failed'`` with a reason; the job stays succeeded."""
    job = TrainingJob.objects.select_related(
        "dataset_version__data_key", "base_model", "data_key"
    ).get(pk=claim.job_id)
    lost = threading.Event()
    heartbeat = Heartbeat(f"evaluation-{job.pk}", lambda: renew_evaluation(claim), lost)
    heartbeat.start()
    try:
        evaluation, samples = _evaluate(job)
        _record(claim, job, evaluation, samples)
    except Exception as exc:
        logger.exception("evaluation of job %s failed", job.pk)
        _fail(claim, explain_failure(exc, "Evaluation"), traceback.format_exc())
    finally:
        heartbeat.stopped.set()


def _evaluate(job: TrainingJob) -> tuple[dict[str, Any], list[Any]]:
    """Score base and tuned model on the test split (validation when the test split is empty)."""
    from trainer.engine import evaluate

    config = engine_config(job)
    services.add_event(job, "evaluating", "Evaluating the trained model on the test split.")
    data = load_training_data(job)
    store = open_checkpoint_store(job, config.keep_last)
    audit_decryption(job, "evaluate", (job.progress or {}).get("step", 0))
    evaluation, samples = split_samples(evaluate(config, data, store, EvaluationReporter(job.pk)))
    evaluation["split"] = "test" if job.dataset_version.split_counts.get("test") else "validation"
    return evaluation, samples


def split_samples(metrics: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """(metrics fit for the database, samples). Sample generations contain data: they are
    stored encrypted, never in a row. NaN and infinities become None (JSON has neither)."""
    evaluation = finite_json(dict(metrics))
    samples = evaluation.pop("samples", []) or []
    return evaluation, samples


def _record(
    claim: EvaluationClaim, job: TrainingJob, evaluation: dict[str, Any], samples: list[Any]
) -> None:
    """Store the samples (encrypted), then the metrics on job and model version, fenced: an
    evaluation the sweeper gave up on writes nothing."""
    vault.write_blob(job.data_key, SAMPLES_BLOB, json.dumps(samples).encode())
    with transaction.atomic():
        if not finish_stage(EVALUATION, claim.job_id, EvaluationStatus.DONE, evaluation=evaluation):
            return
        ModelVersion.objects.filter(pk=claim.version_id).update(metrics=evaluation)
        perplexity = {
            name: (evaluation.get(name) or {}).get("perplexity") for name in ("base", "tuned")
        }
        services.add_event(job, "evaluated", "Evaluation finished.", data=perplexity)
        _send_evaluation_finished(claim.version_id, "done")


def _fail(claim: EvaluationClaim, reason: str, detail: str) -> None:
    with transaction.atomic():
        if finish_stage(EVALUATION, claim.job_id, EvaluationStatus.FAILED, error=reason):
            logger.warning("evaluation of job %s failed: %s", claim.job_id, detail[-2000:])
            services.add_event(claim.job_id, "evaluation_failed", reason, level="warning")
            _send_evaluation_finished(claim.version_id, "failed")


def _send_evaluation_finished(version_id: int, outcome: str) -> None:
    """``evaluation_finished`` for the evaluation whose end the caller's transaction writes."""
    version = ModelVersion.objects.get(pk=version_id)
    send_on_commit(
        signals.evaluation_finished, sender=ModelVersion, model_version=version, outcome=outcome
    )


def sweep_evaluations() -> list[int]:
    """Beat: fail running evaluations whose worker stopped answering (no retry: an evaluation
    that kills its worker would do it again), and return the model version ids of pending
    evaluations whose message counts as lost, with their deadline pushed back (the caller
    sends the messages again)."""
    now = timezone.now()
    dead = TrainingJob.objects.filter(
        evaluation_status=EvaluationStatus.RUNNING, evaluation_expires_at__lt=now
    )
    for job_id, version_id in list(dead.values_list("pk", "model_version")):
        with transaction.atomic():
            if dead.filter(pk=job_id).update(
                evaluation_status=EvaluationStatus.FAILED,
                evaluation_error=WORKER_LOST,
                evaluation_expires_at=None,
            ):
                services.add_event(job_id, "evaluation_failed", WORKER_LOST, level="warning")
                if version_id is not None:
                    _send_evaluation_finished(version_id, "failed")
    lost = TrainingJob.objects.filter(
        evaluation_status=EvaluationStatus.PENDING, evaluation_expires_at__lt=now
    )
    ids = list(ModelVersion.objects.filter(job__in=lost).values_list("pk", flat=True)[:50])
    lost.filter(model_version__in=ids).update(
        evaluation_expires_at=services.pending_evaluation_deadline()
    )
    return ids
