"""Fixtures of the runner and evaluation tests: jobs on the tiny model, run as a worker would.

Django is imported inside the fixtures, not here: this file is also collected for the engine
tests in engine/, which run on GPU machines that have torch but no Django (bench/gpu_check.sh).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from trainer.models import TrainingJob


@pytest.fixture
def sent_evaluations(monkeypatch: Any) -> list[int]:
    """Model version ids of the evaluation messages the runner sent (none reach a broker)."""
    from trainer import evaluations

    sent: list[int] = []
    monkeypatch.setattr(evaluations, "enqueue_evaluation", sent.append)
    return sent


@pytest.fixture
def make_job(
    cast: Any,
    tiny_base_model: Any,
    approved_version: Any,
    monkeypatch: Any,
    tiny_hyperparameters: dict,
    sent_evaluations: list[int],
) -> Callable[..., TrainingJob]:
    """``make(base_model=None, method="lora", **hyperparameters)``: a queued job on the
    approved fixture version (no message is sent)."""
    from audit.services import Actor
    from trainer import services

    monkeypatch.setattr(services, "enqueue_job", lambda _id: None)

    def make(base_model: Any = None, method: str = "lora", **overrides: Any) -> TrainingJob:
        return services.create_job(
            Actor(user=cast.engineer),
            approved_version,
            base_model=base_model or tiny_base_model,
            method=method,
            hyperparameters=tiny_hyperparameters | overrides,
        )

    return make


@pytest.fixture
def run_job() -> Callable[[TrainingJob], TrainingJob]:
    """``run(job)``: claim the job as worker "test", run it to the end, return the row."""
    from trainer import lease as leases
    from trainer import runner

    def run(job: TrainingJob) -> TrainingJob:
        lease = leases.claim_job(job.pk, "test")
        assert lease is not None
        runner.run_claimed_job(lease)
        job.refresh_from_db()
        return job

    return run
