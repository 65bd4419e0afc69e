"""estimate_resources: memory grows with the things that cost memory, and big jobs are refused."""

from __future__ import annotations

import pytest
from transformers import LlamaConfig

from trainer.engine import TrainConfig, estimate_resources

GiB = 2**30
SMOLLM2_1_7B = LlamaConfig(
    vocab_size=49152,
    hidden_size=2048,
    intermediate_size=8192,
    num_hidden_layers=24,
    num_attention_heads=32,
    num_key_value_heads=32,
    tie_word_embeddings=True,
)


def _estimate(gpu=80 * GiB, **settings):
    cfg = TrainConfig(base_model_dir="/m", batch_size=2, seq_len=2048, **settings)
    return estimate_resources(cfg, SMOLLM2_1_7B, gpu)


def test_parameter_count_matches_the_published_model():
    assert round(_estimate()["total_params"] / 1e6) == 1711


def test_lora_fits_an_80gb_gpu_and_needs_less_than_full_fine_tuning():
    lora, full = _estimate(method="lora"), _estimate(method="full")
    assert lora["fits"] and lora["peak_mem_bytes"] < full["peak_mem_bytes"]
    assert lora["trainable_params"] < full["trainable_params"] / 50


def test_gradient_checkpointing_and_smaller_batches_reduce_memory():
    base = _estimate(method="full")["peak_mem_bytes"]
    assert _estimate(method="full", gradient_checkpointing=True)["peak_mem_bytes"] < base
    cfg = TrainConfig(base_model_dir="/m", method="full", batch_size=1, seq_len=2048)
    assert estimate_resources(cfg, SMOLLM2_1_7B, 80 * GiB)["peak_mem_bytes"] < base


def test_a_job_too_big_for_the_gpu_is_refused_with_advice():
    result = _estimate(gpu=8 * GiB, method="full")
    assert not result["fits"]
    assert "gradient_checkpointing" in result["reason"]


def test_time_estimate_scales_with_steps():
    assert _estimate(max_steps=200)["est_seconds"] > 1.9 * _estimate(max_steps=100)["est_seconds"]


def test_accepts_a_plain_dict_config():
    as_dict = estimate_resources(TrainConfig(base_model_dir="/m"), SMOLLM2_1_7B.to_dict(), None)
    assert as_dict["peak_mem_bytes"] > 0 and "host" in as_dict["reason"]


def test_fsdp_shares_full_fine_tuning_weights_and_state_among_the_gpus():
    cfg = TrainConfig(
        base_model_dir="/m", method="full", batch_size=2, seq_len=2048, gradient_checkpointing=True
    )
    one, four = (estimate_resources(cfg, SMOLLM2_1_7B, 24 * GiB, processes=n) for n in (1, 4))
    for part in ("weights", "grads_and_optimizer"):
        assert four["breakdown"][part] == pytest.approx(one["breakdown"][part] / 4, rel=1e-6)
    assert one["breakdown"]["fsdp_gathered"] == 0 < four["breakdown"]["fsdp_gathered"]
    assert not one["fits"] and four["fits"]  # 1.7B full fine-tuning: too big for one 24 GB GPU


def test_ddp_adapters_keep_a_whole_copy_per_gpu_and_fsdp_accumulation_keeps_whole_gradients():
    lora = TrainConfig(base_model_dir="/m", method="lora", batch_size=2, seq_len=2048)
    assert (
        estimate_resources(lora, SMOLLM2_1_7B, 80 * GiB, processes=4)["peak_mem_bytes"]
        == estimate_resources(lora, SMOLLM2_1_7B, 80 * GiB)["peak_mem_bytes"]
    )
    state = {
        accum: estimate_resources(
            TrainConfig(base_model_dir="/m", method="full", grad_accum=accum),
            SMOLLM2_1_7B,
            80 * GiB,
            processes=4,
        )["breakdown"]["grads_and_optimizer"]
        for accum in (1, 4)
    }
    assert state[4] == pytest.approx(state[1] + 4 * 1711e6, rel=0.01)  # + whole fp32 gradients


def test_dpo_costs_reference_passes_in_time_but_no_weights_in_memory():
    sft, dpo = _estimate(method="lora"), _estimate(method="lora", objective="dpo")
    assert dpo["peak_mem_bytes"] == sft["peak_mem_bytes"]  # the base with adapters off
    assert dpo["est_seconds"] > 1.3 * sft["est_seconds"]
    full_sft, full_dpo = _estimate(method="full"), _estimate(method="full", objective="dpo")
    assert full_dpo["breakdown"]["weights"] == full_sft["breakdown"]["weights"]  # no frozen copy
    assert full_dpo["est_seconds"] > full_sft["est_seconds"]
