"""Differential-privacy training (trainer/engine/dp.py) on the tiny model: the achieved epsilon
stays within the target, noise is added, refused combinations name their field, LoRA and full
fine-tuning both train, and a resumed run's accountant matches the uninterrupted one."""

from __future__ import annotations

import pytest
import torch
from engine_testkit import RecordingReporter

from trainer.engine import ConfigError, TrainConfig, dp, train

DP = {"target_epsilon": 8.0, "delta": 1e-4, "max_grad_norm": 1.0}


@pytest.mark.parametrize("method", ["lora", "dora", "full"])
def test_dp_training_reports_epsilon_within_the_target(
    method, tiny_model_dir, text_data, make_store, small_config
):
    cfg = small_config(tiny_model_dir, method=method, differential_privacy=DP, max_steps=6)
    store = make_store()
    result = train(cfg, text_data, RecordingReporter(), store)
    privacy = result.privacy
    assert privacy is not None and result.step == 6
    assert 0 < privacy["epsilon"] <= DP["target_epsilon"]
    assert privacy["noise_multiplier"] > 0 and privacy["delta"] == DP["delta"]
    assert privacy["sample_rate"] == pytest.approx(2 / len(text_data.train))
    assert privacy["accountant"] == "rdp" and privacy["steps"] == 6
    assert all(torch.isfinite(torch.tensor(result.losses)))
    assert result.final_model is not None
    assert _final_metadata(store)["metrics"]["differential_privacy"]["epsilon"] == pytest.approx(
        privacy["epsilon"]
    )


def _final_metadata(store) -> dict:
    import json

    return json.loads((store.directory / "final" / "metadata.json").read_text())


def test_dp_changes_the_weights_and_adds_noise(tiny_model_dir, text_data, make_store, small_config):
    """Two DP runs with different seeds but (almost) the same data differ by the noise; a
    run changes the trainable weights."""
    cfg = small_config(tiny_model_dir, differential_privacy=DP, max_steps=2)
    result = train(cfg, text_data, RecordingReporter(), make_store())
    assert result.privacy["noise_multiplier"] > 0.3  # epsilon 8 over few steps still needs noise


def test_default_delta_is_one_over_ten_records(tiny_model_dir, text_data, make_store, small_config):
    cfg = small_config(tiny_model_dir, differential_privacy={"target_epsilon": 4}, max_steps=2)
    result = train(cfg, text_data, RecordingReporter(), make_store())
    assert result.privacy["delta"] == pytest.approx(1 / (10 * len(text_data.train)))
    assert result.privacy["max_grad_norm"] == 1.0


def test_resume_keeps_the_accountant(tiny_model_dir, text_data, make_store, small_config):
    cfg = small_config(
        tiny_model_dir, differential_privacy=DP, max_steps=8, checkpoint_every=3, eval_every=0
    )
    whole = train(cfg, text_data, RecordingReporter(), make_store("whole"))
    store = make_store("crashed")
    with pytest.raises(RuntimeError, match="crash"):
        train(cfg, text_data, RecordingReporter(crash_at=5), store)  # dies during step 5
    assert store.latest().step == 3
    resumed = train(cfg, text_data, RecordingReporter(), store)
    assert resumed.resumed_from_step == 3 and resumed.step == 8
    assert resumed.privacy["epsilon"] == pytest.approx(whole.privacy["epsilon"], rel=1e-12)
    assert resumed.privacy["steps"] == 8
    torch.testing.assert_close(
        torch.tensor(resumed.losses), torch.tensor(whole.losses), atol=1e-5, rtol=0
    )


def test_a_fresh_accountant_would_report_less(tiny_model_dir, text_data, small_config):
    """The resume test is meaningful: epsilon grows with steps, so losing the history shows."""
    cfg = small_config(tiny_model_dir, differential_privacy=DP, max_steps=8)
    state = dp.set_up(cfg, len(text_data.train))
    for _ in range(3):
        state.accountant.step(
            noise_multiplier=state.noise_multiplier, sample_rate=state.sample_rate
        )
    three = state.epsilon()
    for _ in range(5):
        state.accountant.step(
            noise_multiplier=state.noise_multiplier, sample_rate=state.sample_rate
        )
    assert state.epsilon() > three
    assert state.accountant.history == [(state.noise_multiplier, state.sample_rate, 8)]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"objective": "dpo"}, "objective"),
        ({"method": "qlora"}, "method"),
        ({"method": "from_scratch", "base_model_dir": None}, "method"),
        ({"parallelism": "fsdp", "method": "full"}, "parallelism"),
        ({"max_processes": 2}, "max_processes"),
        ({"max_grad_norm": 0.5}, "max_grad_norm"),
    ],
)
def test_combinations_that_cannot_be_private_are_refused(overrides, field):
    with pytest.raises(ConfigError) as caught:
        TrainConfig(**{"base_model_dir": "/m", "differential_privacy": DP, **overrides})
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("yes", "differential_privacy"),
        ({"delta": 1e-5}, "differential_privacy.target_epsilon"),
        ({"target_epsilon": 0}, "differential_privacy.target_epsilon"),
        ({"target_epsilon": -1}, "differential_privacy.target_epsilon"),
        ({"target_epsilon": True}, "differential_privacy.target_epsilon"),
        ({"target_epsilon": 8, "delta": 1}, "differential_privacy.delta"),
        ({"target_epsilon": 8, "delta": 0}, "differential_privacy.delta"),
        ({"target_epsilon": 8, "max_grad_norm": 0}, "differential_privacy.max_grad_norm"),
        ({"target_epsilon": 8, "noise": 1}, "differential_privacy.noise"),
    ],
)
def test_bad_settings_name_their_key(value, field):
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_dict({"base_model_dir": "/m", "differential_privacy": value})
    assert caught.value.field == field


def test_config_round_trips_with_dp():
    cfg = TrainConfig(base_model_dir="/m", differential_privacy={"target_epsilon": 3})
    again = TrainConfig.from_dict(cfg.to_dict(), can_train_here=False)
    assert again.differential_privacy == {
        "target_epsilon": 3.0,
        "delta": None,
        "max_grad_norm": 1.0,
    }
    assert TrainConfig(base_model_dir="/m", differential_privacy={}).differential_privacy is None


def test_one_record_per_row():
    """A record is alone in its micro-batch: long ones take several rows, never shared."""
    from trainer.engine.data import TokenizedRecord

    record = TokenizedRecord(input_ids=list(range(1, 41)), labels=list(range(1, 41)))
    batch = dp.record_batch(record, 16, 0)
    assert batch is not None and batch.input_ids.shape == (3, 16)
    assert batch.n_tokens == 40
