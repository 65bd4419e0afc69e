"""The per-project limit on running jobs holds when two workers claim two jobs of one project
at the same moment (two threads, two database connections; PostgreSQL in CI's second run)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection

from trainer import lease as leases
from trainer import services
from trainer.models import JobStatus, TrainingJob

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_simultaneous_claims_in_one_project_respect_its_limit(
    cast: Any,
    tiny_base_model: Any,
    approved_version: Any,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    from audit.services import Actor

    settings.MAX_RUNNING_JOBS_PER_PROJECT = 1
    monkeypatch.setattr(services, "enqueue_job", lambda _id: None)
    jobs = [
        services.create_job(
            Actor(user=cast.engineer),
            approved_version,
            base_model=tiny_base_model,
            method="lora",
            hyperparameters={"max_steps": 4, "device": "cpu"},
        )
        for _ in range(2)
    ]
    # Widen the window between counting the running jobs and the UPDATE that adds one, so
    # that without the project's lock both claims would count zero and both would win.
    counted = leases.running_jobs
    both_counting = threading.Barrier(2, timeout=5)

    def slow_count(project_id: int) -> int:
        value = counted(project_id)
        try:
            both_counting.wait()  # only reached together when nothing serializes the claims
        except threading.BrokenBarrierError:
            pass
        time.sleep(0.2)
        return value

    monkeypatch.setattr(leases, "running_jobs", slow_count)
    won: list[Any] = []

    def claim(job: TrainingJob, worker: str) -> None:
        try:
            won.append(leases.claim_job(job.pk, worker))
        finally:
            connection.close()  # each thread has its own connection

    threads = [
        threading.Thread(target=claim, args=(job, f"worker-{i}")) for i, job in enumerate(jobs)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len([lease for lease in won if lease is not None]) == 1
    assert TrainingJob.objects.filter(status=JobStatus.RUNNING).count() == 1
    assert TrainingJob.objects.filter(status=JobStatus.QUEUED).count() == 1
