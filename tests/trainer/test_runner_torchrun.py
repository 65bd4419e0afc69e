"""The runner over several processes: torchrun with two gloo processes on the CPU (DDP).

Each test launches real engine processes on the tiny model; the job row, its events, its
checkpoints and the model version must come out as they do in-process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import torch

from audit.services import Actor
from tests.e2e.procs import wait_for
from trainer import engine_io, launcher, runner, services
from trainer.checkpoints import list_checkpoints
from trainer.models import JobStatus, ModelVersion, TrainingJob

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def two_processes(settings: Any) -> None:
    """The worker offers two processes; on this CPU-only host torchrun runs two gloo ranks."""
    settings.TRAINING_PROCESSES = 2


@pytest.fixture
def when_step_reached() -> Iterator[Callable[[TrainingJob, int, Callable[[], Any]], None]]:
    """``when(job, step, action)``: run ``action`` in a thread once the job row reports
    ``step``, so a test can stop a run that is really training."""
    threads: list[threading.Thread] = []

    def when(job: TrainingJob, step: int, action: Callable[[], Any]) -> None:
        def wait_then_act() -> None:
            wait_for(
                lambda: TrainingJob.objects.filter(pk=job.pk, progress__step__gte=step).exists(),
                timeout=300,
                what=f"step {step}",
            )
            action()

        thread = threading.Thread(target=wait_then_act, daemon=True)
        thread.start()
        threads.append(thread)

    yield when
    for thread in threads:
        thread.join(timeout=60)


def _engine_files(job: TrainingJob) -> list[str]:
    from vault.services import blob_dir

    names = (runner.ENGINE_DATASET_BLOB, runner.ENGINE_JOB_FILE)
    return [name for name in names if (blob_dir(job.data_key) / name).exists()]


def test_two_gloo_processes_train_a_job_to_a_model_version_whose_weights_load(
    make_job: Callable[..., TrainingJob],
    sent_evaluations: list[int],
    run_job: Any,
) -> None:
    from trainer.engine import load_final_model

    job = run_job(make_job())
    assert job.status == JobStatus.SUCCEEDED, job.error + job.error_detail[-3000:]
    assert job.progress["step"] == 6 and job.progress["processes"] == 2
    assert job.progress["loss"] > 0 and job.evaluation_status == "pending"
    events = list(job.events.values_list("kind", "message"))
    assert ("started", "Training started (attempt 1) on 2 processes.") in events
    assert [kind for kind, _ in events].count("start") == 1  # only rank 0 reports
    assert any(kind == "metrics" for kind, _ in events)
    version = ModelVersion.objects.get(job=job)
    assert sent_evaluations == [version.pk]
    assert 6 in [c["step"] for c in list_checkpoints(job)]
    model, tokenizer, config = load_final_model(engine_io.open_checkpoint_store(job, keep_last=2))
    assert config.method == "lora"
    ids = tokenizer("the quick brown fox", return_tensors="pt")["input_ids"]
    assert torch.isfinite(model(input_ids=ids).logits).all()
    assert _engine_files(job) == []  # the run's dataset copy is gone


def test_the_engine_gets_the_dataset_encrypted_under_the_job_key_only(
    make_job: Callable[..., TrainingJob],
) -> None:
    from envelope import WrongKeyError, generate_data_key, read_encrypted_bytes
    from trainer.engine.cli import load_dataset, load_job
    from vault.services import unwrap_data_key

    job = make_job()
    config = services.build_engine_config(
        job.dataset_version, job.base_model, job.method, job.hyperparameters
    )
    spec = load_job(runner.write_engine_inputs(job, config))
    raw = Path(spec["dataset_path"]).read_bytes()
    assert b"quick brown fox" not in raw and b'"split"' not in raw  # no plaintext at rest
    data = load_dataset(spec["dataset_path"], unwrap_data_key(job.data_key), spec["key_id"])
    # The training split and the job's canaries (privacy audit), appended to train only.
    from trainer.canaries import read_plan

    planted = len(read_plan(job).training_records())
    assert planted > 0
    assert len(data.train) == job.dataset_version.split_counts["train"] + planted
    assert spec["evaluate"] is False and spec["config"]["max_steps"] == 6
    with pytest.raises(WrongKeyError):
        read_encrypted_bytes(spec["dataset_path"], generate_data_key(), artifact_id=spec["key_id"])
    runner.remove_engine_inputs(job)
    assert _engine_files(job) == []


def test_worker_shutdown_stops_every_rank_at_a_checkpoint_and_the_job_resumes_to_the_end(
    make_job: Callable[..., TrainingJob],
    when_step_reached: Any,
    monkeypatch: Any,
    run_job: Any,
) -> None:
    monkeypatch.setattr(signal, "raise_signal", lambda _signum: None)  # keep pytest alive
    job = make_job(max_steps=40, checkpoint_every=2, eval_every=100, log_interval_s=0)
    when_step_reached(job, 2, lambda: os.kill(os.getpid(), signal.SIGTERM))
    job = run_job(job)
    assert job.status == JobStatus.QUEUED and job.lease_owner == ""
    released = job.events.last()
    assert released.kind == "released", released.message
    stopped_at = max(c["step"] for c in list_checkpoints(job))
    assert 2 <= stopped_at < 40 and f"resume from step {stopped_at}" in released.message

    job = run_job(job)
    assert job.status == JobStatus.SUCCEEDED, job.error + job.error_detail[-3000:]
    assert job.attempts == 2 and job.progress["step"] == 40
    resumed = job.events.get(kind="resumed")
    assert resumed.data == {"step": stopped_at, "processes": 2}


def test_cancelling_a_multi_process_job_stops_it_and_keeps_its_checkpoint(
    make_job: Callable[..., TrainingJob],
    cast: Any,
    when_step_reached: Any,
    run_job: Any,
) -> None:
    # Enough steps that the cancel (read at most once a second) lands before the end.
    job = make_job(max_steps=400, checkpoint_every=2, eval_every=1000, log_interval_s=0)
    when_step_reached(job, 2, lambda: services.request_cancel(Actor(user=cast.engineer), job))
    job = run_job(job)
    assert job.status == JobStatus.CANCELLED, job.error + job.error_detail[-3000:]
    assert 2 <= job.progress["step"] < 400
    assert list_checkpoints(job)
    last = job.events.last()
    assert last.kind == "cancelled" and "last checkpoint was kept" in last.message
    assert not ModelVersion.objects.filter(job=job).exists()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        # Refused by the engine (exit status 2, its error event on stdout).
        ("remove", "Invalid configuration: base_model_dir: "),
        # An uncaught exception (a traceback on stderr).
        ("garble", "Training failed: "),
    ],
)
def test_a_failing_engine_fails_the_job_with_its_last_error_line(
    make_job: Callable[..., TrainingJob],
    tiny_model_dir: Path,
    tmp_path: Path,
    damage: str,
    reason: str,
    run_job: Any,
) -> None:
    from trainer.base_models import register_base_model

    broken_dir = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken_dir)
    job = make_job(base_model=register_base_model("broken", broken_dir, source="tests"))
    for weights in broken_dir.glob("*.safetensors"):  # after submission, which checks them
        if damage == "remove":
            weights.unlink()
        else:
            weights.write_bytes(b"not safetensors at all")
    job = run_job(job)
    assert job.status == JobStatus.FAILED
    assert job.error.startswith(reason), job.error
    assert "Error" in job.error or "weights" in job.error
    assert "Traceback" not in job.error and "ChildFailedError" not in job.error
    assert "exitcode" in job.error_detail  # torchrun's stderr, for admins
    assert job.events.last().kind == "failed"
    assert _engine_files(job) == []


def test_a_worker_that_loses_its_lease_kills_its_engine_processes_and_writes_nothing(
    make_job: Callable[..., TrainingJob],
    when_step_reached: Any,
    run_job: Any,
) -> None:
    job = make_job(max_steps=40, checkpoint_every=2, eval_every=100, log_interval_s=0)

    def steal_lease() -> None:
        TrainingJob.objects.filter(pk=job.pk).update(lease_owner="other-worker:1")

    when_step_reached(job, 2, steal_lease)
    # Processes an earlier test left on purpose (the PII detector's forked workers, kept by
    # its cache) are not this job's: only what the run started must be gone.
    before = set(psutil.Process().children(recursive=True))
    job = run_job(job)
    assert job.status == JobStatus.RUNNING and job.lease_owner == "other-worker:1"
    assert not job.events.filter(kind__in=["failed", "cancelled", "released"]).exists()
    left = set(psutil.Process().children(recursive=True)) - before
    assert left == set()  # torchrun and its ranks are gone


def test_the_last_exception_line_skips_torchruns_own_summary() -> None:
    stderr = [
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in <module>',
        "[rank0]: safetensors.SafetensorError: Error while deserializing header",
        "E1127 12:00:00 torch/distributed/elastic/multiprocessing/api.py] failed (exitcode: 1)",
        "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: ",
        "============================================================",
    ]
    assert launcher.last_exception_line(stderr) == (
        "safetensors.SafetensorError: Error while deserializing header"
    )
    assert launcher.last_exception_line(["just noise"]) == ""


def test_the_job_may_ask_for_fewer_processes_than_the_worker_offers(
    make_job: Callable[..., TrainingJob],
) -> None:
    job = make_job(max_processes=1)
    config = services.build_engine_config(
        job.dataset_version, job.base_model, job.method, job.hyperparameters
    )
    assert runner.training_processes(job, config) == 1
    job.hyperparameters["max_processes"] = 0
    config = services.build_engine_config(
        job.dataset_version, job.base_model, job.method, job.hyperparameters
    )
    assert runner.training_processes(job, config) == 2
    job.progress = {"step": 4, "processes": 1}  # resumed: keep the count that wrote it
    assert runner.training_processes(job, config) == 1


def test_engine_progress_lines_are_parsed_and_other_output_ignored() -> None:
    line = json.dumps({"type": "log", "step": 3, "loss": 1.5})
    assert launcher._parse_line(line + "\n") == {"type": "log", "step": 3, "loss": 1.5}
    assert launcher._parse_line("warning: something\n") is None
    assert launcher._parse_line("{not json\n") is None


def test_a_stop_that_lands_after_the_result_line_does_not_undo_a_finished_run() -> None:
    finished = {"type": "result", "step": 40, "stopped": False}
    # The ranks printed their result, then died of the SIGTERM a late cancel sent them.
    late = launcher.EngineRun(returncode=1, summary=finished, stop_requested=True)
    assert late.succeeded and not late.stopped
    # Without a stop request, a non-zero exit after the result line is still a failure.
    assert not launcher.EngineRun(returncode=1, summary=finished).succeeded
    # Asked to stop before any result: stopped, not failed and not finished.
    early = launcher.EngineRun(returncode=1, stop_requested=True)
    assert early.stopped and not early.succeeded
