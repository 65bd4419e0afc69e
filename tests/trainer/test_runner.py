"""The runner: a claimed job trains in-process on a tiny model, records its model version and
queues its evaluation (a task of its own, run here by calling it)."""

from __future__ import annotations

from typing import Any

import pytest

from audit.services import Actor
from trainer import evaluations, runner, services
from trainer import lease as leases
from trainer.checkpoints import list_checkpoints
from trainer.models import JobStatus, ModelVersion, TrainingJob
from trainer.tasks import evaluate_model_version


@pytest.mark.django_db(transaction=True)
def test_claimed_job_trains_stores_a_model_version_then_its_evaluation_task_scores_it(
    make_job: Any,
    sent_evaluations: list[int],
    run_job: Any,
) -> None:
    job = run_job(make_job())
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.progress["step"] == 6 and job.progress["loss"] > 0
    assert job.evaluation_status == "pending" and job.evaluation == {}
    version = ModelVersion.objects.get(job=job)
    assert sent_evaluations == [version.pk]
    assert version.lineage["dataset_content_hash"] == job.dataset_version.content_hash
    steps = [c["step"] for c in list_checkpoints(job)]
    assert 6 in steps
    kinds = list(job.events.values_list("kind", flat=True))
    assert kinds[:2] == ["queued", "started"] and "metrics" in kinds and kinds[-1] == "succeeded"

    evaluate_model_version(version.pk)
    job.refresh_from_db()
    version.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.evaluation_status == "done"
    assert job.evaluation["base"]["perplexity"] > 0 and job.evaluation["tuned"]["perplexity"] > 0
    assert version.metrics == job.evaluation
    assert "samples" not in job.evaluation  # generations hold data: stored encrypted only
    assert job.events.last().kind == "evaluated"


@pytest.mark.django_db(transaction=True)
def test_cancel_requested_before_the_first_step_stops_the_run_keeping_a_checkpoint(
    make_job: Any, cast: Any
) -> None:
    job = make_job(max_steps=200)
    lease = leases.claim_job(job.pk, "test")
    services.request_cancel(Actor(user=cast.engineer), job)
    runner.run_claimed_job(lease)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert job.progress.get("step", 0) < 200
    last = job.events.last()
    assert last.kind == "cancelled" and "last checkpoint was kept" in last.message


@pytest.mark.django_db(transaction=True)
def test_job_whose_dataset_was_shredded_fails_with_a_readable_reason(
    make_job: Any,
    cast: Any,
    run_job: Any,
) -> None:
    from vault.services import destroy_data_key

    job = make_job()
    destroy_data_key(Actor(user=cast.owner), job.dataset_version.dataset.raw_key, reason="test")
    job = run_job(job)
    assert job.status == JobStatus.FAILED
    assert "deleted" in job.error and "Traceback" not in job.error
    assert "Traceback" in job.error_detail


@pytest.mark.django_db(transaction=True)
def test_sigterm_checkpoints_and_hands_the_job_back_to_the_queue(
    make_job: Any, monkeypatch: Any
) -> None:
    import os
    import signal
    import threading

    from tests.e2e.procs import wait_for

    monkeypatch.setattr(signal, "raise_signal", lambda _signum: None)  # keep pytest alive
    job = make_job(max_steps=500)
    lease = leases.claim_job(job.pk, "test")

    def stop_when_training() -> None:
        wait_for(
            lambda: TrainingJob.objects.filter(pk=job.pk, progress__step__gte=1).exists(),
            timeout=120,
            what="first step",
        )
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=stop_when_training)
    killer.start()
    runner.run_claimed_job(lease)
    killer.join()
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.lease_owner == ""
    assert job.events.last().kind == "released"
    assert list_checkpoints(job)
    assert signal.getsignal(signal.SIGTERM) is not None


def test_metrics_are_stored_without_nan_for_postgresql() -> None:
    evaluation, samples = evaluations.split_samples(
        {
            "test_records": 0,
            "base": {"loss": float("nan"), "perplexity": float("inf")},
            "samples": [{"prompt": "x"}],
        }
    )
    assert evaluation["base"] == {"loss": None, "perplexity": None}
    assert samples == [{"prompt": "x"}]


@pytest.mark.django_db(transaction=True)
def test_a_dataset_without_test_records_is_evaluated_on_validation(
    cast: Any,
    tiny_base_model: Any,
    monkeypatch: Any,
    tiny_hyperparameters: dict,
    version_from_records: Any,
    run_job: Any,
) -> None:
    monkeypatch.setattr(services, "enqueue_job", lambda _id: None)
    monkeypatch.setattr(evaluations, "enqueue_evaluation", lambda _id: None)
    records = [
        r | {"split": "validation" if r["split"] == "test" else r["split"]}
        for r in version_from_records.default_records()
    ]
    version = version_from_records(records)
    job = services.create_job(
        Actor(user=cast.engineer),
        version,
        base_model=tiny_base_model,
        method="lora",
        hyperparameters=tiny_hyperparameters,
    )
    job = run_job(job)
    assert job.status == JobStatus.SUCCEEDED, job.error
    evaluate_model_version(ModelVersion.objects.get(job=job).pk)
    job.refresh_from_db()
    assert job.evaluation["split"] == "validation" and job.evaluation["tuned"]["perplexity"] > 0
