"""GPU check of FSDP: `torchrun --nproc-per-node 1` with parallelism fsdp (bench/gpu_check.sh fsdp).

Trains a small model six ways under one torchrun launch (whole, stopped at 4 + resumed,
no FSDP, gradient checkpointing, not compiled), then the engine CLI end to end with evaluation;
writes report.json (loss differences, clipping norms, the final model loads) to $OUT. A check
script for a GPU machine, not a test and not a benchmark.
"""

# ruff: noqa: E402  (the test kit is importable only after the sys.path line)
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path.cwd()
OUT = Path(os.environ.get("OUT", "/tmp/out"))
sys.path.insert(0, str(ROOT / "tests/trainer/engine"))
import peft
import torch
import transformers
from engine_testkit import QA, TEXTS, make_small_config, text_splits

from envelope import generate_data_key, write_encrypted_bytes
from trainer.engine import CheckpointStore, build_tiny_model, load_final_model

work = Path("/tmp/gpucheck")
shutil.rmtree(work, ignore_errors=True)
work.mkdir()
report = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name()}
report["transformers"], report["peft"] = transformers.__version__, peft.__version__
print(report, flush=True)
corpus = TEXTS + [q["prompt"] + " " + q["completion"] for q in QA]
model_dir = str(build_tiny_model(work / "m", vocab_corpus=corpus, hidden=128, layers=4, kv_heads=2))
key = generate_data_key()
env = dict(os.environ, PYTHONPATH=f"/tmp/site:{ROOT}")
torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=1"]
settings = dict(
    method="full",
    parallelism="fsdp",
    max_steps=8,
    grad_accum=2,
    max_grad_norm=0.5,
    eval_every=4,
    checkpoint_every=4,
    device="cuda",
)
spec = {
    "config": make_small_config(model_dir, **settings).to_dict(),
    "data": dataclasses.asdict(text_splits()),
    "runs": [
        {"checkpoint_dir": str(work / "whole")},
        {"checkpoint_dir": str(work / "stopped"), "stop_after": 4},
        {"checkpoint_dir": str(work / "stopped")},
        {"checkpoint_dir": str(work / "single"), "config": {"parallelism": "auto"}},
        {"checkpoint_dir": str(work / "gc"), "config": {"gradient_checkpointing": True}},
        {"checkpoint_dir": str(work / "nocompile"), "config": {"compile": "off"}},
    ],
    "result": str(work / "result.json"),
}
(work / "spec.json").write_text(json.dumps(spec))


def launch(args: list[str], timeout: int) -> tuple[subprocess.CompletedProcess, float]:
    """Run `args` under torchrun (one rank), the data key on stdin; (process, seconds)."""
    start = time.time()
    proc = subprocess.run(
        torchrun + args,
        input=key.hex() + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    return proc, round(time.time() - start, 1)


proc, report["driver_s"] = launch(
    ["tests/trainer/engine/torchrun_train.py", str(work / "spec.json")], 400
)
report["driver_rc"] = proc.returncode
(OUT / "driver_stderr.txt").write_text(proc.stderr[-200000:])
if proc.returncode == 0:
    res = json.loads((work / "result.json").read_text())
    names = ["whole", "stopped", "resumed", "single", "gc", "nocompile"]
    runs = dict(zip(names, res["runs"], strict=True))
    report["runs"] = {
        n: {"losses": r["losses"], "val": r["val_losses"], "start": r["events"][0][1]}
        for n, r in runs.items()
    }
    w = runs["whole"]["losses"]
    report["max_diff"] = {
        n: max(abs(a - b) for a, b in zip(w, runs[n]["losses"], strict=False)) for n in names[2:]
    }
    report["clip"] = res["clip"]
    store = CheckpointStore(work / "whole", key, key_id="test-key", artifact_id="job-1")
    model, tok, cfg = load_final_model(store, device="cuda")
    ids = tok("Invoice 3: the customer", return_tensors="pt")["input_ids"].cuda()
    report["final_logits_finite"] = bool(torch.isfinite(model(input_ids=ids).logits).all())
    ck = store.load(store.latest()).tensors["trainable"]
    report["ckpt_shapes_full"] = all(
        tuple(ck[n].shape) == tuple(p.shape) for n, p in model.named_parameters()
    )
# The CLI under torchrun --nproc-per-node 1 (env:// one-rank group made and destroyed by train()).
records = [{"text": t, "split": "train"} for t in TEXTS[:20]] + [
    {"text": TEXTS[30], "split": "validation"}
]
records += [{"prompt": "What is 1 plus 1?", "completion": "It is 2.", "split": "test"}]
write_encrypted_bytes(
    work / "ds.enc",
    "\n".join(json.dumps(r) for r in records).encode(),
    key,
    key_id="k1",
    artifact_id="ds",
)
cfg = make_small_config(
    model_dir,
    method="full",
    parallelism="fsdp",
    max_steps=4,
    checkpoint_every=2,
    eval_every=2,
    device="cuda",
).to_dict()
job = {
    "config": cfg,
    "dataset_path": str(work / "ds.enc"),
    "dataset_artifact_id": "ds",
    "checkpoint_dir": str(work / "cli"),
    "key_id": "k1",
    "artifact_id": "job-9",
    "evaluate": True,
}
(work / "job.json").write_text(json.dumps(job))
proc, report["cli_s"] = launch(["-m", "trainer.engine", "--config", str(work / "job.json")], 300)
report["cli_rc"] = proc.returncode
report["cli_lines"] = [line for line in proc.stdout.splitlines() if line.startswith("{")][:2] + [
    line for line in proc.stdout.splitlines() if line.startswith("{")
][-2:]
(OUT / "cli_stderr.txt").write_text(proc.stderr[-200000:])
(OUT / "report.json").write_text(json.dumps(report, indent=1))
print(json.dumps(report, indent=1))
