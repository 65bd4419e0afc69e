"""python -m trainer.engine: key from stdin only, JSON-lines progress, torchrun (gloo) on CPU."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from engine_testkit import TEXTS

from envelope import write_encrypted_bytes
from trainer.engine.cli import main, read_key_from_stdin

ROOT = Path(__file__).resolve().parents[3]


def _job(tmp_path, tiny_model_dir, key, **config) -> Path:
    records = [{"text": t, "split": "train"} for t in TEXTS[:20]]
    records += [{"text": TEXTS[30], "split": "validation"}]
    records += [{"prompt": "What is 1 plus 1?", "completion": "It is 2.", "split": "test"}]
    dataset = tmp_path / "dataset.enc"
    lines = "\n".join(json.dumps(r) for r in records).encode()
    write_encrypted_bytes(dataset, lines, key, key_id="k1", artifact_id="dataset-9")
    settings = {
        "method": "lora",
        "base_model_dir": tiny_model_dir,
        "max_steps": 4,
        "batch_size": 2,
        "seq_len": 96,
        "checkpoint_every": 2,
        "eval_every": 2,
        "log_interval_s": 0,
        "device": "cpu",
    }
    job = {
        "config": settings | config,
        "dataset_path": str(dataset),
        "dataset_artifact_id": "dataset-9",
        "checkpoint_dir": str(tmp_path / "ckpt"),
        "key_id": "k1",
        "artifact_id": "job-9",
        "evaluate": True,
    }
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    return path


def _env() -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))


def _lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def _main_in_process(monkeypatch, capsys, job, stdin: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    status = main(["--config", str(job)])
    return status, capsys.readouterr().out


def test_cli_trains_from_an_encrypted_dataset_with_the_key_on_stdin(
    tmp_path, tiny_model_dir, data_key, monkeypatch, capsys
):
    job = _job(tmp_path, tiny_model_dir, data_key)
    status, out = _main_in_process(monkeypatch, capsys, job, data_key.hex() + "\n")
    assert status == 0
    lines = _lines(out)
    assert lines[0]["kind"] == "start" and lines[-1]["type"] == "result"
    assert [line["step"] for line in lines if line["type"] == "log"] == [1, 2, 3, 4]
    assert lines[-1]["step"] == 4 and lines[-1]["perplexity"]["tuned"] > 1
    assert "What is 1 plus 1" not in out  # no record data on stdout
    assert (tmp_path / "ckpt" / "final" / "model.enc").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


def test_cli_refuses_a_wrong_key_without_training(
    tmp_path, tiny_model_dir, data_key, monkeypatch, capsys
):
    job = _job(tmp_path, tiny_model_dir, data_key)
    status, out = _main_in_process(monkeypatch, capsys, job, "00" * 32 + "\n")
    assert status == 2
    assert _lines(out)[-1]["kind"] == "error" and "WrongKeyError" in out
    assert not (tmp_path / "ckpt").exists()


def test_cli_reports_a_bad_setting_by_name(tmp_path, tiny_model_dir, data_key, monkeypatch, capsys):
    job = _job(tmp_path, tiny_model_dir, data_key, learning_rate=7)
    status, out = _main_in_process(monkeypatch, capsys, job, data_key.hex() + "\n")
    assert status == 2 and "learning_rate" in _lines(out)[-1]["message"]


def test_key_must_be_32_bytes_of_hex(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("abcd\n"))
    with pytest.raises(ValueError, match="32 bytes"):
        read_key_from_stdin()
    monkeypatch.setattr(sys, "stdin", io.StringIO("not hex\n"))
    with pytest.raises(ValueError, match="hex"):
        read_key_from_stdin()


@pytest.mark.slow
def test_torchrun_with_two_gloo_processes(tmp_path, tiny_model_dir, data_key):
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    job = _job(tmp_path, tiny_model_dir, data_key, max_steps=3)
    proc = subprocess.run(
        [
            torchrun,
            "--nproc_per_node=2",
            "--master_port=29561",
            "-m",
            "trainer.engine",
            "--config",
            str(job),
        ],
        input=data_key.hex() + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(),
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = _lines(proc.stdout)
    assert sum(1 for line in lines if line.get("kind") == "start") == 1  # only rank 0 reports
    assert lines[-1]["type"] == "result" and lines[-1]["step"] == 3
    assert [p.name for p in sorted((tmp_path / "ckpt").glob("step-*.ckpt"))] == [
        "step-000002.ckpt",
        "step-000003.ckpt",
    ]
