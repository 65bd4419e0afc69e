"""DPO over two gloo ranks under ONE torchrun launch (torchrun_train.py): LoRA under DDP
(uninterrupted, stopped, resumed) and full fine-tuning under FSDP (the reference pass spread
over the ranks), each compared with one process training the same global batch."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch
from engine_testkit import RecordingReporter, launch_ranks, make_small_config, pair_splits

from trainer.engine import CheckpointStore, load_final_model, train

STOP_AT = 3
DPO: dict[str, Any] = dict(
    objective="dpo", beta=0.5, max_steps=6, eval_every=3, checkpoint_every=3, grad_accum=2
)
FULL: dict[str, Any] = dict(method="full", learning_rate=3e-4)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory, tiny_model_dir, data_key) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("dpo-ranks")
    runs = [
        {"checkpoint_dir": str(tmp / "whole")},
        {"checkpoint_dir": str(tmp / "stopped"), "stop_after": STOP_AT},
        {"checkpoint_dir": str(tmp / "stopped")},
        {"checkpoint_dir": str(tmp / "full"), "config": FULL},
    ]
    spec = {
        "config": make_small_config(tiny_model_dir, **DPO).to_dict(),
        "data": dataclasses.asdict(pair_splits()),
        "runs": runs,
        "result": str(tmp / "result.json"),
    }
    result = launch_ranks(tmp, spec, data_key)["runs"]
    named = dict(zip(("whole", "stopped", "resumed", "full"), result, strict=True))
    return {"runs": named, "full_store": tmp / "full"}


def _one_process(tiny_model_dir, store, **overrides):
    """The same run in this process with twice the rows per micro-batch: the same pairs."""
    cfg = make_small_config(tiny_model_dir, **{**DPO, "batch_size": 4, **overrides})
    return train(cfg, pair_splits(), RecordingReporter(), store)


@pytest.mark.slow
def test_two_ddp_ranks_train_dpo_like_one_process_and_resume_to_the_same_curve(
    two_ranks, tiny_model_dir, make_store
):
    whole, stopped, resumed = (two_ranks["runs"][n] for n in ("whole", "stopped", "resumed"))
    assert "objective dpo" in whole["events"][0][1] and "ddp over 2" in whole["events"][0][1]
    single = _one_process(tiny_model_dir, make_store())
    assert whole["losses"][0] == pytest.approx(single.losses[0], abs=1e-6)
    torch.testing.assert_close(
        torch.tensor(whole["losses"]), torch.tensor(single.losses), atol=1e-5, rtol=0
    )
    assert whole["losses"][-1] < whole["losses"][0]
    assert stopped["stopped"] and stopped["step"] == STOP_AT
    assert resumed["resumed_from_step"] == STOP_AT and resumed["step"] == 6
    torch.testing.assert_close(
        torch.tensor(resumed["losses"]), torch.tensor(whole["losses"]), atol=1e-6, rtol=0
    )


@pytest.mark.slow
def test_two_fsdp_ranks_train_full_dpo_on_a_shared_reference_pass(
    two_ranks, tiny_model_dir, make_store, data_key
):
    full = two_ranks["runs"]["full"]
    assert "fsdp over 2" in full["events"][0][1] and full["final_model"]
    single = _one_process(tiny_model_dir, make_store(), **FULL)
    # Step 1: policy == reference, so both start at ln 2 whatever the reduction order.
    assert full["losses"][0] == pytest.approx(single.losses[0], abs=1e-6)
    torch.testing.assert_close(
        torch.tensor(full["losses"]), torch.tensor(single.losses), atol=1e-5, rtol=0
    )
    store = CheckpointStore(
        two_ranks["full_store"], data_key, key_id="test-key", artifact_id="job-1", keep_last=10
    )
    model, _, config = load_final_model(store)
    assert config.objective == "dpo" and config.method == "full"
