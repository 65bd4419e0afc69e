"""QLoRA is accepted when a training worker can run it, whatever the web server's own machine.

The web process usually has no GPU and no bitsandbytes (docker-compose's web image), so the
answer comes from the training workers' heartbeats, which carry what each worker measured when
it started (`trainer.services.worker_capabilities`).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ops.models import WorkerHeartbeat
from trainer.services import QLORA_NO_WORKER, JobRequestError, worker_capabilities


def _heartbeat(name: str, queues: str, qlora: bool, age: timedelta = timedelta(0)) -> None:
    WorkerHeartbeat.objects.create(
        name=name,
        queues=queues,
        last_seen=timezone.now() - age,
        capabilities={"cuda_devices": 1, "qlora": qlora},
    )


def test_qlora_is_refused_naming_method_while_no_gpu_worker_can_run_it(make_job, db):
    _heartbeat("cpu@a", "training", qlora=False)
    with pytest.raises(JobRequestError) as caught:
        make_job(method="qlora")
    assert caught.value.field == "method"
    assert caught.value.message == QLORA_NO_WORKER


def test_qlora_is_accepted_when_a_training_worker_reports_it(make_job, db):
    _heartbeat("gpu@a", "training", qlora=True)
    job = make_job(method="qlora")
    assert job.method == "qlora" and job.status == "queued"


def test_a_stale_training_worker_or_a_non_training_one_does_not_count(make_job, db):
    _heartbeat("gpu@gone", "training", qlora=True, age=timedelta(hours=1))
    _heartbeat("ingest@a", "ingestion", qlora=True)
    with pytest.raises(JobRequestError):
        make_job(method="qlora")


def test_over_the_api_the_refusal_is_a_400_naming_method(
    cast, api_client_for, approved_version, tiny_base_model
):
    client = api_client_for(cast.engineer)
    body = {"dataset": approved_version.dataset_id, "method": "qlora"}
    response = client.post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["detail"]["method"] == [QLORA_NO_WORKER]
    _heartbeat("gpu@a", "training", qlora=True)
    assert client.post("/api/v1/jobs/", body, format="json").status_code == 201


def test_only_training_workers_measure_what_they_can_run():
    assert worker_capabilities(["ingestion", "default"]) == {}  # no torch import needed
    measured = worker_capabilities(["training"])
    assert measured == {"cuda_devices": 0, "qlora": False, "processes": 1}  # no GPU here


def test_the_memory_estimate_counts_the_gpus_fsdp_shards_over(db, tiny_base_model):
    """Full fine-tuning shards over the processes a worker offers: the fewest offered by any
    fresh training worker (any may take the job), capped by the job's max_processes."""
    from trainer.engine import TrainConfig
    from trainer.services import processes_for_estimate

    cfg = TrainConfig(method="full", base_model_dir=tiny_base_model.path)
    assert processes_for_estimate(cfg) == 1  # nobody reported
    WorkerHeartbeat.objects.create(name="big", queues="training", capabilities={"processes": 8})
    WorkerHeartbeat.objects.create(name="small", queues="training", capabilities={"processes": 4})
    assert processes_for_estimate(cfg) == 4
    capped = TrainConfig(method="full", base_model_dir=tiny_base_model.path, max_processes=2)
    assert processes_for_estimate(capped) == 2
