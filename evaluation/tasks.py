"""Thin Celery tasks on the training queue: claim the run row, run it. Ids only."""

from __future__ import annotations

from celery import shared_task

from evaluation import lease, services


@shared_task(acks_late=True, ignore_result=True, bind=True)
def run_evaluation(self: object, run_id: int) -> None:
    """Claim and run one evaluation run; a duplicate or late message finds nothing to claim."""
    claimed = lease.claim_run(run_id, worker=getattr(self.request, "hostname", "") or "worker")
    if claimed is not None:
        # Imported here: the runner loads PyTorch, which an ingestion worker (the same task
        # modules, another queue) must never load (tests/datasets_app/test_worker_imports.py).
        from evaluation import runner

        runner.run_claimed(claimed)


@shared_task(ignore_result=True)
def requeue_expired_evaluations() -> list[int]:
    """Beat: runs of dead workers go back to the queue and their messages are sent again."""
    run_ids = lease.requeue_expired()
    for run_id in run_ids:
        services.enqueue_run(run_id)
    return run_ids


@shared_task(acks_late=True, ignore_result=True)
def run_judge(run_id: int) -> None:
    """Claim and grade one judge run; a duplicate message finds nothing to claim."""
    from evaluation import judging

    if judging.claim_judge_run(run_id):
        judging.run_claimed_judge(run_id)
