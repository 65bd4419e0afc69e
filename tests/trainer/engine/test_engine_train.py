"""train(): learning, what changes, stopping, early stopping, resume and reporting."""

from __future__ import annotations

import json

import pytest
import torch
from engine_testkit import RecordingReporter

from trainer.engine import CheckpointStore, ConfigError, DataError, TrainData, train
from trainer.engine.data import tokenize_split
from trainer.engine.distributed import DistContext
from trainer.engine.methods import prepare_model
from trainer.engine.steps import build_run, flush_losses, train_step


def _train_steps(cfg, data, steps):
    """Run `steps` optimizer steps in-process; return (model, losses)."""
    prepared = prepare_model(cfg, torch.device("cpu"), train_records=data.train)
    records, _ = tokenize_split(data.train, prepared.tokenizer)
    run = build_run(cfg, DistContext(), torch.device("cpu"), prepared, records, [], pad_id=0)
    before = {n: p.detach().clone() for n, p in prepared.model.named_parameters()}
    for _ in range(steps):
        train_step(run)
    return prepared.model, before, flush_losses(run)


def _changed(model, before):
    return {n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])}


def test_lora_trains_adapters_and_leaves_base_weights_untouched(
    tiny_model_dir, text_data, small_config
):
    model, before, losses = _train_steps(small_config(tiny_model_dir, method="lora"), text_data, 6)
    changed = _changed(model, before)
    assert changed and all("lora_" in name for name in changed)
    assert any("lora_B" in name for name in changed)  # B starts at zero, so the adapter is live
    assert losses[-1] < losses[0]


def test_dora_adds_trainable_magnitudes(tiny_model_dir, text_data, small_config):
    model, before, _ = _train_steps(small_config(tiny_model_dir, method="dora"), text_data, 3)
    assert any("lora_magnitude_vector" in name for name in _changed(model, before))


def test_freeze_keeps_embeddings_and_bottom_layers_fixed(tiny_model_dir, text_data, small_config):
    cfg = small_config(tiny_model_dir, method="freeze", freeze_layers=1)
    model, before, _ = _train_steps(cfg, text_data, 4)
    changed = _changed(model, before)
    assert not any("embed_tokens" in n or ".layers.0." in n for n in changed)
    assert any(".layers.1." in n for n in changed) and any("lm_head" in n for n in changed)


def test_full_fine_tune_changes_every_weight(tiny_model_dir, text_data, small_config):
    model, before, _ = _train_steps(small_config(tiny_model_dir, method="full"), text_data, 3)
    assert _changed(model, before) == set(before)


def test_freezing_every_layer_is_refused(tiny_model_dir, text_data, small_config):
    with pytest.raises(ConfigError) as caught:
        _train_steps(small_config(tiny_model_dir, method="freeze", freeze_layers=2), text_data, 1)
    assert caught.value.field == "freeze_layers"


def test_loss_goes_down_and_the_final_model_is_written(
    tiny_model_dir, text_data, make_store, small_config
):
    cfg = small_config(tiny_model_dir, method="full", max_steps=20, eval_every=10)
    result = train(cfg, text_data, RecordingReporter(), make_store())
    assert result.step == 20 and not result.stopped and len(result.losses) == 20
    assert sum(result.losses[-3:]) / 3 < result.losses[0] - 1.0
    assert [s for s, _ in result.val_losses] == [10, 20] and result.val_losses[1][
        1
    ] < result.val_losses[0][1]
    meta = json.loads(result.final_model.metadata_path.read_text())
    assert meta["kind"] == "full" and meta["step"] == 20


def test_same_seed_gives_the_same_curve(tiny_model_dir, text_data, make_store, small_config):
    cfg = small_config(tiny_model_dir, lora_dropout=0.1, max_steps=5)
    first = train(cfg, text_data, RecordingReporter(), make_store("a"))
    second = train(cfg, text_data, RecordingReporter(), make_store("b"))
    assert first.losses == second.losses


def test_grad_accumulation_matches_one_big_batch(tiny_model_dir, text_data, small_config):
    _, _, big = _train_steps(
        small_config(tiny_model_dir, method="full", batch_size=2), text_data, 4
    )
    cfg = small_config(tiny_model_dir, method="full", batch_size=1, grad_accum=2)
    _, _, accumulated = _train_steps(cfg, text_data, 4)
    torch.testing.assert_close(torch.tensor(accumulated), torch.tensor(big), atol=1e-5, rtol=1e-5)


def test_gradient_checkpointing_gives_the_same_losses(tiny_model_dir, text_data, small_config):
    _, _, plain = _train_steps(small_config(tiny_model_dir), text_data, 3)
    _, _, recomputed = _train_steps(
        small_config(tiny_model_dir, gradient_checkpointing=True), text_data, 3
    )
    torch.testing.assert_close(torch.tensor(recomputed), torch.tensor(plain), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("method", ["lora", "from_scratch"])
def test_resume_after_a_crash_reproduces_the_uninterrupted_curve(
    method, tiny_model_dir, text_data, make_store, small_config
):
    cfg = small_config(
        tiny_model_dir if method != "from_scratch" else None,
        method=method,
        checkpoint_every=5,
        eval_every=4,
        lora_dropout=0.1,
        grad_accum=2,
    )
    whole = train(cfg, text_data, RecordingReporter(), make_store("whole"))
    store = make_store("crashed")
    with pytest.raises(RuntimeError, match="crash"):
        train(cfg, text_data, RecordingReporter(crash_at=7), store)  # dies during step 7
    assert store.latest().step == 5
    resumed = train(cfg, text_data, RecordingReporter(), store)
    assert resumed.resumed_from_step == 5 and resumed.step == 12
    torch.testing.assert_close(
        torch.tensor(resumed.losses), torch.tensor(whole.losses), atol=1e-5, rtol=0
    )
    assert [s for s, _ in resumed.val_losses] == [s for s, _ in whole.val_losses]
    resumed_vals, whole_vals = ([v for _, v in r.val_losses] for r in (resumed, whole))
    assert resumed_vals == pytest.approx(whole_vals, abs=1e-5)


def test_resuming_with_a_different_setting_is_refused(
    tiny_model_dir, text_data, make_store, small_config
):
    store = make_store()
    train(small_config(tiny_model_dir, max_steps=3), text_data, RecordingReporter(), store)
    with pytest.raises(ConfigError) as caught:
        train(
            small_config(tiny_model_dir, max_steps=3, learning_rate=1e-2),
            text_data,
            RecordingReporter(),
            store,
        )
    assert caught.value.field == "learning_rate"


def test_resuming_with_another_number_of_processes_is_refused(
    tiny_model_dir, text_data, make_store, small_config, monkeypatch
):
    store = make_store()
    train(small_config(tiny_model_dir), text_data, RecordingReporter(stop_after=3), store)
    # As if torchrun started two ranks (the process group itself is not needed to refuse).
    monkeypatch.setattr(DistContext, "from_env", classmethod(lambda cls: cls(world_size=2)))
    monkeypatch.setattr("trainer.engine.loop.init_process_group", lambda ctx, device, **_: False)
    with pytest.raises(ConfigError) as caught:
        train(small_config(tiny_model_dir), text_data, RecordingReporter(), store)
    assert caught.value.field == "max_processes"
    assert "written by 1 training process(es) but this run has 2" in caught.value.message


def test_should_stop_checkpoints_and_returns_stopped(
    tiny_model_dir, text_data, make_store, small_config
):
    store = make_store()
    reporter = RecordingReporter(stop_after=3)
    result = train(small_config(tiny_model_dir), text_data, reporter, store)
    assert result.stopped and result.step == 3 and result.final_model is None
    assert store.latest().step == 3
    assert ("stopped", "step 3 of 12") in reporter.events
    resumed = train(small_config(tiny_model_dir), text_data, RecordingReporter(), store)
    assert resumed.resumed_from_step == 3 and resumed.step == 12 and resumed.final_model is not None


def test_early_stopping_ends_the_run(tiny_model_dir, text_data, make_store, small_config):
    cfg = small_config(
        tiny_model_dir,
        method="full",
        learning_rate=1.0,
        eval_every=1,
        early_stopping_patience=2,
        max_steps=40,
    )
    reporter = RecordingReporter()
    result = train(cfg, text_data, reporter, make_store())
    assert result.early_stopped and result.step < 40
    assert any(kind == "early_stop" for kind, _ in reporter.events)
    vals = [v for _, v in result.val_losses]
    assert min(vals[-2:]) >= result.best_val_loss


def test_reporting_is_throttled_but_the_last_step_is_always_logged(
    tiny_model_dir, text_data, make_store, small_config
):
    reporter = RecordingReporter()
    train(small_config(tiny_model_dir, log_interval_s=3600.0), text_data, reporter, make_store())
    assert [step for step, _ in reporter.logs] == [1, 12]
    last = reporter.logs[-1][1]
    assert {"loss", "lr", "tokens_per_s", "total_steps", "eta_s", "val_loss"} <= set(last)
    assert last["total_steps"] == 12 and last["eta_s"] == 0
    assert reporter.events[0][0] == "start" and reporter.events[-1][0] == "finished"


def test_data_without_trainable_tokens_is_refused(tiny_model_dir, make_store, small_config):
    data = TrainData(train=[{"messages": [{"role": "user", "content": "nobody answers"}]}])
    with pytest.raises(DataError, match="no record with trainable tokens"):
        train(small_config(tiny_model_dir), data, RecordingReporter(), make_store())


def test_seq_len_beyond_the_model_context_is_refused(
    tiny_model_dir, text_data, make_store, small_config
):
    with pytest.raises(ConfigError) as caught:
        train(
            small_config(tiny_model_dir, seq_len=4096), text_data, RecordingReporter(), make_store()
        )
    assert caught.value.field == "seq_len"


def test_a_directory_that_is_not_a_causal_lm_is_refused(
    tmp_path, text_data, make_store, small_config
):
    config = {"model_type": "bert", "architectures": ["BertForMaskedLM"]}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError) as caught:
        train(small_config(str(tmp_path)), text_data, RecordingReporter(), make_store())
    assert (
        caught.value.field == "base_model_dir"
        and "not a causal language model" in caught.value.message
    )


def test_a_missing_model_directory_is_refused(tmp_path, text_data, make_store, small_config):
    with pytest.raises(ConfigError) as caught:
        train(small_config(str(tmp_path / "nope")), text_data, RecordingReporter(), make_store())
    assert caught.value.field == "base_model_dir"


def test_store_type_is_part_of_the_public_api():
    assert CheckpointStore.__module__ == "trainer.engine.checkpoint"
