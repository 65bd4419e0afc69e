"""TrainConfig validation: every bad value is refused with a ConfigError naming its field."""

from __future__ import annotations

import json

import pytest
import torch

from trainer.engine import ConfigError, TrainConfig
from trainer.engine.config import QLORA_UNAVAILABLE
from trainer.engine.methods import prepare_model


def test_defaults_are_valid_and_round_trip_through_json():
    cfg = TrainConfig(base_model_dir="/models/base", lora_target_modules=["q_proj", "v_proj"])
    again = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


@pytest.mark.parametrize(
    "field,value",
    [
        ("method", "magic"),
        ("max_steps", 0),
        ("max_steps", 1_000_001),
        ("learning_rate", 0.0),
        ("learning_rate", 1.5),
        ("batch_size", 0),
        ("seq_len", 8),
        ("grad_accum", 0),
        ("lr_schedule", "step"),
        ("weight_decay", -0.1),
        ("lora_r", 0),
        ("lora_dropout", 0.95),
        ("lora_target_modules", []),
        ("scratch_preset", "7b"),
        ("keep_last", 0),
        ("device", "tpu"),
        ("precision", "fp8"),
        ("max_steps", True),
        ("max_steps", "10"),
        ("learning_rate", float("nan")),
        ("gradient_checkpointing", "yes"),
    ],
)
def test_bad_value_is_refused_naming_the_field(field, value):
    with pytest.raises(ConfigError) as caught:
        TrainConfig(base_model_dir="/m", **{field: value})
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}:")


def test_base_model_dir_is_required_except_from_scratch():
    with pytest.raises(ConfigError) as caught:
        TrainConfig(method="lora")
    assert caught.value.field == "base_model_dir"
    assert TrainConfig(method="from_scratch").base_model_dir is None


def test_unknown_setting_is_refused_by_name():
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_dict({"base_model_dir": "/m", "learning_rat": 0.1})
    assert caught.value.field == "learning_rat"


def test_qlora_without_a_gpu_explains_the_alternative(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_dict({"method": "qlora", "base_model_dir": "/m"})
    assert caught.value.field == "method"
    assert caught.value.message == QLORA_UNAVAILABLE
    # ...and again when training starts, for a config built in code.
    cfg = TrainConfig(method="qlora", base_model_dir="/m", device="cpu")
    with pytest.raises(ConfigError, match="QLoRA needs an NVIDIA GPU"):
        prepare_model(cfg, torch.device("cpu"), train_records=[])


def test_a_saved_qlora_config_reads_back_on_a_machine_without_a_gpu(monkeypatch):
    """A finished QLoRA model's config must load where it is served (often a CPU)."""
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    saved = {"method": "qlora", "base_model_dir": "/m", "device": "cuda"}
    assert TrainConfig.from_dict(saved, can_train_here=False).method == "qlora"


def test_warmup_must_be_shorter_than_the_run():
    with pytest.raises(ConfigError) as caught:
        TrainConfig(base_model_dir="/m", max_steps=10, warmup_steps=10)
    assert caught.value.field == "warmup_steps"


def test_freeze_method_needs_layers_to_freeze():
    with pytest.raises(ConfigError) as caught:
        TrainConfig(method="freeze", base_model_dir="/m")
    assert caught.value.field == "freeze_layers"


def test_seq_len_beyond_the_model_context_names_seq_len():
    cfg = TrainConfig(base_model_dir="/m", seq_len=4096)
    with pytest.raises(ConfigError) as caught:
        cfg.check_against_model(2048)
    assert caught.value.field == "seq_len"
    assert "2048" in caught.value.message


def test_every_field_has_help_text():
    texts = TrainConfig.help_texts()
    assert texts and all(texts.values())
