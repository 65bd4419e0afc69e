"""Final model files, rebuilding them for serving, and evaluate()."""

from __future__ import annotations

import json

import pytest
import torch
from engine_testkit import RecordingReporter

from envelope import generate_data_key
from trainer.engine import (
    CheckpointError,
    CheckpointWrongKeyError,
    evaluate,
    load_final_model,
    train,
)


@pytest.fixture
def trained_lora(tiny_model_dir, qa_data, make_store, small_config):
    cfg = small_config(
        tiny_model_dir, method="lora", max_steps=15, learning_rate=1e-2, eval_generate_records=4
    )
    store = make_store()
    return cfg, store, train(cfg, qa_data, RecordingReporter(), store)


def test_final_adapter_is_encrypted_and_metadata_is_plain(trained_lora):
    _, store, result = trained_lora
    info = result.final_model
    assert info.kind == "adapter"
    assert b"lora_A" not in info.path.read_bytes()
    meta = json.loads(info.metadata_path.read_text())
    assert meta["method"] == "lora" and meta["trainable_params"] < meta["total_params"]


def test_rebuilt_adapter_model_reproduces_the_trained_loss(trained_lora, qa_data):
    cfg, store, result = trained_lora
    model, tokenizer, saved = load_final_model(store)
    assert saved == cfg
    merged, _, _ = load_final_model(store, merge_adapter=True)
    ids = tokenizer("What is 3 plus 3?", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        torch.testing.assert_close(
            model(input_ids=ids).logits, merged(input_ids=ids).logits, atol=1e-4, rtol=1e-4
        )


def test_final_model_with_wrong_key_is_refused(trained_lora, make_store):
    _, store, _ = trained_lora
    other = make_store("ckpt", key=generate_data_key())
    with pytest.raises(CheckpointWrongKeyError):
        load_final_model(other)


def test_missing_final_model_is_reported(make_store):
    with pytest.raises(CheckpointError, match="no final model"):
        load_final_model(make_store("empty"))


def test_evaluate_scores_base_and_tuned_models(trained_lora, qa_data):
    cfg, store, result = trained_lora
    reporter = RecordingReporter()
    metrics = evaluate(cfg, qa_data, result, reporter)
    base, tuned = metrics["base"], metrics["tuned"]
    assert tuned["loss"] < base["loss"] and tuned["perplexity"] < base["perplexity"]
    for scores in (base, tuned):
        assert {"exact_match", "bleu", "rouge_l"} <= set(scores)
        assert (
            0 <= scores["exact_match"] <= 1
            and 0 <= scores["rouge_l"] <= 1
            and 0 <= scores["bleu"] <= 100
        )
    assert len(metrics["samples"]) == 4
    sample = metrics["samples"][0]
    assert sample["reference"] == qa_data.test[0]["completion"]
    assert isinstance(sample["base"], str) and isinstance(sample["tuned"], str)
    assert metrics == evaluate(cfg, qa_data, store, reporter)  # store or result: same answer


def test_evaluate_full_and_from_scratch_models(tiny_model_dir, text_data, make_store, small_config):
    for method in ("full", "from_scratch"):
        cfg = small_config(tiny_model_dir if method == "full" else None, method=method, max_steps=8)
        store = make_store(method)
        train(cfg, text_data, RecordingReporter(), store)
        metrics = evaluate(cfg, text_data, store, RecordingReporter())
        assert metrics["tuned"]["perplexity"] > 1 and "bleu" not in metrics["tuned"]  # text only
        assert (metrics["base"] is None) == (method == "from_scratch")
        assert metrics["samples"] == []


def test_a_qlora_adapter_loads_merges_and_evaluates_on_a_cpu(
    tiny_model_dir, qa_data, make_store, small_config, monkeypatch
):
    """QLoRA trains on a GPU, but its adapter is served and exported where there may be none:
    the saved config must read back there and the adapter apply to the unquantized base."""
    # Train as QLoRA does, minus the 4-bit base this machine cannot build: same adapter, same
    # saved config (method 'qlora').
    monkeypatch.setattr("trainer.engine.methods.check_can_train_here", lambda cfg: None)
    monkeypatch.setattr("trainer.engine.methods._qlora_quantization", lambda: None)
    cfg = small_config(tiny_model_dir, method="qlora", max_steps=8, eval_generate_records=2)
    store = make_store()
    train(cfg, qa_data, RecordingReporter(), store)
    monkeypatch.undo()
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    model, _, saved = load_final_model(store, merge_adapter=True)  # what serving does
    assert saved.method == "qlora"
    assert not any("lora_" in name for name, _ in model.named_parameters())
    metrics = evaluate(cfg, qa_data, store, RecordingReporter())
    assert metrics["tuned"]["perplexity"] > 0 and metrics["base"] is not None
