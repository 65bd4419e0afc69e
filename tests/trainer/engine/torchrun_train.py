"""What each torchrun rank runs for the FSDP tests: several `train()` calls in one launch.

`torchrun --nproc-per-node N tests/trainer/engine/torchrun_train.py SPEC.json`, the data key as
hex on rank 0's stdin (sent to the other ranks over the process group, as the CLI does). SPEC
holds {"config": TrainConfig fields, "data": {split: records}, "runs": [{"checkpoint_dir",
"stop_after", "config": overrides}...], "result": path}. The runs go one after another in the same processes (so a
stopped run and its resumption cost one launch); rank 0 writes what each returned to "result"
as JSON, plus the gradient norms every rank computed in a small FSDP clipping check.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from engine_testkit import RecordingReporter
from torch import nn
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard

from trainer.engine import CheckpointStore, TrainConfig, TrainData, train
from trainer.engine.cli import read_key_from_stdin
from trainer.engine.distributed import DistContext, broadcast_bytes, init_process_group
from trainer.engine.fsdp import clip_gradients


def _run(spec: dict[str, Any], run: dict[str, Any], key: bytes) -> dict[str, Any]:
    store = CheckpointStore(
        run["checkpoint_dir"], key, key_id="test-key", artifact_id="job-1", keep_last=10
    )
    reporter = RecordingReporter(stop_after=run.get("stop_after"))
    cfg = TrainConfig.from_dict({**spec["config"], **run.get("config", {})})
    result = train(cfg, TrainData(**spec["data"]), reporter, store)
    return {
        "losses": result.losses,
        "val_losses": result.val_losses,
        "step": result.step,
        "stopped": result.stopped,
        "resumed_from_step": result.resumed_from_step,
        "events": reporter.events,
        "final_model": result.final_model is not None,
    }


def _clip_check(ctx: DistContext, device: torch.device) -> dict[str, Any]:
    """Clip the gradients of a sharded two-layer model; return every rank's norm and the
    unsharded reference (the same input on every rank, so FSDP's mean gradient is the local
    one)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 6), nn.Linear(6, 3)).to(device)
    inputs = torch.randn(4, 8).to(device)
    reference = copy.deepcopy(model)
    reference(inputs).square().sum().backward()
    expected = float(torch.nn.utils.clip_grad_norm_(reference.parameters(), 0.01))
    mesh = init_device_mesh(device.type, (ctx.world_size,))
    fully_shard(model[0], mesh=mesh)
    fully_shard(model, mesh=mesh)
    model(inputs).square().sum().backward()
    norm = clip_gradients(list(model.parameters()), 0.01)
    norms = [torch.zeros((), device=device) for _ in range(ctx.world_size)]
    dist.all_gather(norms, norm.reshape(()).detach().clone())
    clipped = [p.grad.full_tensor() for p in model.parameters()]
    same = all(
        torch.allclose(g, r.grad, atol=1e-7)
        for g, r in zip(clipped, reference.parameters(), strict=True)
    )
    return {
        "norms": [float(n) for n in norms],
        "expected": expected,
        "plain": type(norm) is torch.Tensor,
        "clipped_like_reference": same,
    }


def main(spec_path: str) -> None:
    torch.set_num_threads(1)
    spec = json.loads(Path(spec_path).read_text())
    ctx = DistContext.from_env()
    on_gpu = spec["config"].get("device") == "cuda"
    device = torch.device("cuda", ctx.local_rank) if on_gpu else torch.device("cpu")
    if on_gpu:
        torch.cuda.set_device(device)
    init_process_group(ctx, device, single_rank=True)  # one group for every run
    key = broadcast_bytes(read_key_from_stdin() if ctx.is_main else None, ctx, device)
    results = []
    for run in spec["runs"]:
        results.append(_run(spec, run, key))
        dist.barrier()  # rank 0 may still be writing what the next run resumes from
    clip = _clip_check(ctx, device)
    if ctx.is_main:
        Path(spec["result"]).write_text(json.dumps({"runs": results, "clip": clip}))


if __name__ == "__main__":
    main(sys.argv[1])
