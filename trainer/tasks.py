"""Thin Celery tasks: claim the job row, call the runner, done. Messages carry ids only.

Training is never auto-retried by Celery: a job whose worker died is put back in the queue by
the lease sweeper and resumes from its last checkpoint.
"""

from __future__ import annotations

from celery import shared_task

from trainer import evaluations, runner, services
from trainer import lease as leases


@shared_task(acks_late=True, ignore_result=True, bind=True)
def run_training_job(self: object, job_id: int) -> None:
    """Claim and run one training job; a duplicate or late message finds nothing to claim."""
    lease = leases.claim_job(job_id, worker=getattr(self.request, "hostname", "") or "worker")
    if lease is None:
        return
    runner.run_claimed_job(lease)


@shared_task(acks_late=True, ignore_result=True)
def evaluate_model_version(model_version_id: int) -> None:
    """Evaluate a trained model version once; a duplicate message finds nothing to claim."""
    claim = evaluations.claim_evaluation(model_version_id)
    if claim is None:
        return
    evaluations.run_claimed_evaluation(claim)


@shared_task(acks_late=True, ignore_result=True)
def screen_perplexity(dataset_id: int) -> None:
    """Flag a dataset's perplexity outliers under the default base model (training queue:
    it loads PyTorch and the model); a dataset no longer in review is left alone."""
    from trainer.perplexity_screen import screen_dataset_perplexity

    screen_dataset_perplexity(dataset_id)


@shared_task(ignore_result=True)
def requeue_expired_jobs() -> list[int]:
    """Beat: return jobs of dead workers to the queue and re-send their messages; the same for
    evaluations whose message was lost (those of dead workers fail)."""
    job_ids = services.requeue_expired_jobs()
    for job_id in job_ids:
        services.enqueue_job(job_id)
    for version_id in evaluations.sweep_evaluations():
        evaluations.enqueue_evaluation(version_id)
    return job_ids
