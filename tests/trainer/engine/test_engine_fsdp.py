"""FSDP (`parallelism`): sharded full fine-tuning trains like the unsharded run, writes the same
full checkpoints and final model, and resumes exactly.

Two gloo ranks run under ONE torchrun launch (torchrun_train.py runs several `train()` calls in
the same processes): an uninterrupted FSDP run, the same run stopped after STOP_AT steps and
resumed, and the same run under DDP. One-rank FSDP runs in this process, on a private group.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
from engine_testkit import RecordingReporter, launch_ranks, make_small_config, text_splits

from trainer.engine import CheckpointStore, ConfigError, TrainConfig, load_final_model, train
from trainer.engine.config import resolve_parallelism
from trainer.engine.models import load_causal_lm

STOP_AT = 3
# Full fine-tuning with gradient accumulation (so FSDP's skipped gradient sync is exercised)
# and a clipping norm below the tiny model's gradient norms (so clipping acts on every step).
FSDP_SETTINGS: dict[str, Any] = dict(
    method="full",
    parallelism="auto",
    max_steps=6,
    grad_accum=2,
    max_grad_norm=0.5,
    eval_every=3,
    checkpoint_every=3,
)


@dataclass
class TwoRankLaunch:
    """What rank 0 reported for each run of the launch, and where each run's store is."""

    runs: dict[str, dict[str, Any]]
    clip: dict[str, Any]
    directories: dict[str, Path]


def _store(directory: Path, key: bytes) -> CheckpointStore:
    """The store torchrun_train.py wrote (same ids)."""
    return CheckpointStore(directory, key, key_id="test-key", artifact_id="job-1", keep_last=10)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory, tiny_model_dir, data_key) -> TwoRankLaunch:
    tmp = tmp_path_factory.mktemp("fsdp")
    directories = {name: tmp / name for name in ("whole", "stopped", "ddp")}
    runs = [
        {"checkpoint_dir": str(directories["whole"])},
        {"checkpoint_dir": str(directories["stopped"]), "stop_after": STOP_AT},
        {"checkpoint_dir": str(directories["stopped"])},  # resumes the stopped run
        {"checkpoint_dir": str(directories["ddp"]), "config": {"parallelism": "ddp"}},
    ]
    spec = {
        "config": make_small_config(tiny_model_dir, **FSDP_SETTINGS).to_dict(),
        "data": dataclasses.asdict(text_splits()),
        "runs": runs,
        "result": str(tmp / "result.json"),
    }
    result = launch_ranks(tmp, spec, data_key)
    named = dict(zip(("whole", "stopped", "resumed", "ddp"), result["runs"], strict=True))
    return TwoRankLaunch(named, result["clip"], directories)


def _in_process(
    tiny_model_dir: str | None, store: CheckpointStore, **overrides: Any
) -> tuple[Any, RecordingReporter]:
    """Train FSDP_SETTINGS (with `overrides`) in this process; (TrainResult, reporter)."""
    cfg = make_small_config(tiny_model_dir, **{**FSDP_SETTINGS, **overrides})
    reporter = RecordingReporter()
    return train(cfg, text_splits(), reporter, store), reporter


# -- two ranks --------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_fsdp_ranks_train_full_fine_tuning_to_full_checkpoints_and_a_loadable_model(
    two_ranks, tiny_model_dir, data_key
):
    whole = two_ranks.runs["whole"]
    assert whole["step"] == 6 and whole["final_model"]
    assert "fsdp over 2 process(es)" in whole["events"][0][1]  # auto picked FSDP for 'full'
    assert whole["losses"][-1] < whole["losses"][0] - 0.5
    store = _store(two_ranks.directories["whole"], data_key)
    assert [info.step for info in store.list()] == [3, 6]
    saved = store.load(store.latest()).tensors["trainable"]
    base = dict(load_causal_lm(tiny_model_dir, dtype=torch.float32).named_parameters())
    # Full tensors under the unsharded names: no shards, no wrapper prefixes.
    assert {name: t.shape for name, t in saved.items()} == {n: p.shape for n, p in base.items()}
    model, _, config = load_final_model(store)
    assert config.parallelism == "auto"
    final = dict(model.named_parameters())
    assert all(torch.equal(final[name], saved[name]) for name in saved)
    assert not torch.equal(final["lm_head.weight"], base["lm_head.weight"])  # it trained
    ids = torch.tensor([[1, 5, 9, 12]])
    assert torch.isfinite(model(input_ids=ids).logits).all()


@pytest.mark.slow
def test_fsdp_losses_match_ddp_and_one_process_with_the_same_global_batch(
    two_ranks, tiny_model_dir, make_store
):
    fsdp, ddp = two_ranks.runs["whole"], two_ranks.runs["ddp"]
    assert "ddp over 2 process(es)" in ddp["events"][0][1]
    # Same ranks, same reductions but for FSDP's reduce-scatter: equal to float rounding.
    torch.testing.assert_close(
        torch.tensor(fsdp["losses"]), torch.tensor(ddp["losses"]), atol=1e-5, rtol=0
    )
    # One process, twice the rows per micro-batch: the same rows in every step.
    single, _ = _in_process(tiny_model_dir, make_store(), batch_size=4)
    assert fsdp["losses"][0] == pytest.approx(single.losses[0], abs=1e-6)  # same weights
    # Afterwards fp32 summation order differs, and AdamW's first steps move each weight by
    # about lr * sign(gradient), so near-zero gradients amplify rounding into ~1e-3 of loss
    # (two single-process runs grouping the same rows differently differ about as much).
    torch.testing.assert_close(
        torch.tensor(fsdp["losses"]), torch.tensor(single.losses), atol=1e-2, rtol=0
    )
    assert [s for s, _ in fsdp["val_losses"]] == [s for s, _ in single.val_losses] == [3, 6]


@pytest.mark.slow
def test_a_stopped_fsdp_run_resumes_on_as_many_ranks_to_the_uninterrupted_curve(two_ranks):
    whole, stopped, resumed = (two_ranks.runs[n] for n in ("whole", "stopped", "resumed"))
    assert stopped["stopped"] and stopped["step"] == STOP_AT and not stopped["final_model"]
    assert resumed["resumed_from_step"] == STOP_AT and resumed["step"] == 6
    torch.testing.assert_close(
        torch.tensor(resumed["losses"]), torch.tensor(whole["losses"]), atol=1e-6, rtol=0
    )
    torch.testing.assert_close(
        torch.tensor(resumed["val_losses"]), torch.tensor(whole["val_losses"]), atol=1e-6, rtol=0
    )


@pytest.mark.slow
def test_fsdp_clipping_uses_the_global_norm_as_a_plain_number_on_every_rank(two_ranks):
    clip = two_ranks.clip
    assert clip["plain"] and clip["clipped_like_reference"]
    assert clip["norms"] == [pytest.approx(clip["expected"], rel=1e-6)] * 2


# -- one rank, in this process ----------------------------------------------------------------


def test_explicit_fsdp_in_one_process_trains_like_no_wrapper_and_leaves_no_process_group(
    tiny_model_dir, make_store
):
    plain, _ = _in_process(tiny_model_dir, make_store("plain"))
    sharded, reporter = _in_process(tiny_model_dir, make_store("sharded"), parallelism="fsdp")
    assert "fsdp over 1 process(es)" in reporter.events[0][1]
    torch.testing.assert_close(
        torch.tensor(sharded.losses), torch.tensor(plain.losses), atol=1e-6, rtol=0
    )
    assert not dist.is_initialized()  # the one-rank group train() made is gone
    model, _, _ = load_final_model(sharded.store)
    reference, _, _ = load_final_model(plain.store)
    for (name, p), (_, q) in zip(
        model.named_parameters(), reference.named_parameters(), strict=True
    ):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=0, msg=name)


def test_fsdp_freeze_keeps_the_bottom_layers_and_trains_with_activation_checkpointing(
    tiny_model_dir, make_store
):
    result, _ = _in_process(
        tiny_model_dir,
        make_store(),
        method="freeze",
        freeze_layers=1,
        parallelism="fsdp",
        gradient_checkpointing=True,
        max_steps=3,
    )
    model, _, _ = load_final_model(result.store)
    final = dict(model.named_parameters())
    base = dict(load_causal_lm(tiny_model_dir, dtype=torch.float32).named_parameters())
    assert torch.equal(
        final["model.layers.0.mlp.up_proj.weight"], base["model.layers.0.mlp.up_proj.weight"]
    )
    assert torch.equal(final["model.embed_tokens.weight"], base["model.embed_tokens.weight"])
    assert not torch.equal(
        final["model.layers.1.mlp.up_proj.weight"], base["model.layers.1.mlp.up_proj.weight"]
    )
    assert result.losses[-1] < result.losses[0]


def test_fsdp_from_scratch_keeps_tied_embeddings(make_store):
    result, _ = _in_process(
        None, make_store(), method="from_scratch", parallelism="fsdp", max_steps=3
    )
    model, tokenizer, _ = load_final_model(result.store)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    ids = tokenizer("Invoice 3: the customer", return_tensors="pt")["input_ids"]
    assert torch.isfinite(model(input_ids=ids).logits).all()


# -- the setting ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["lora", "dora"])
def test_fsdp_with_an_adapter_method_is_refused_naming_parallelism(method):
    with pytest.raises(ConfigError) as caught:
        TrainConfig(method=method, base_model_dir="/m", parallelism="fsdp")
    assert caught.value.field == "parallelism" and "auto or ddp" in caught.value.message


@pytest.mark.parametrize("value", ["zero3", "", 2, None])
def test_an_unknown_parallelism_is_refused_naming_it(value):
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_dict({"method": "full", "base_model_dir": "/m", "parallelism": value})
    assert caught.value.field == "parallelism"


@pytest.mark.parametrize(
    ("method", "parallelism", "world_size", "expected"),
    [
        ("full", "auto", 1, "single"),
        ("full", "auto", 4, "fsdp"),
        ("freeze", "auto", 2, "fsdp"),
        ("from_scratch", "auto", 2, "fsdp"),
        ("lora", "auto", 4, "ddp"),
        ("full", "ddp", 4, "ddp"),
        ("full", "ddp", 1, "single"),
        ("full", "fsdp", 1, "fsdp"),
    ],
)
def test_auto_shards_full_methods_over_several_processes_only(
    method, parallelism, world_size, expected
):
    cfg = TrainConfig(method=method, base_model_dir="/m", parallelism=parallelism, freeze_layers=1)
    assert resolve_parallelism(cfg, world_size) == expected
