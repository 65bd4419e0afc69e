"""Merged Llama-architecture causal LMs as one GGUF file (llama.cpp, Ollama), built in memory.

Pure: no Django. ``to_gguf(model, tokenizer)`` follows llama.cpp's ``convert_hf_to_gguf.py`` for
``LlamaForCausalLM`` with ``--outtype f16``: architecture ``llama``, its hyperparameters, tensors
renamed to llama.cpp's names (``token_embd``, ``blk.N.attn_q`` ...), the rows of the q and k
projections permuted into llama.cpp's rotary layout, 2-D weights as F16 and 1-D weights (the
RMS norms) as F32, and ``output`` omitted when the embeddings are tied. The tokenizer is written
as llama.cpp's ``gpt2`` (byte-level BPE) vocabulary: tokens, token types, merges, special ids,
whether BOS/EOS are added, the pre-tokenizer's llama.cpp name and the chat template.

Only what llama.cpp can reproduce exactly is written: any other architecture, bias terms, RoPE
scaling, or a tokenizer llama.cpp would split differently raises ``UnsupportedModelError``
instead of producing a file that loads but answers wrongly.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import torch
from gguf import (
    GGML_QUANT_VERSION,
    MODEL_TENSOR,
    TENSOR_NAMES,
    GGUFWriter,
    LlamaFileType,
    TokenType,
)
from gguf.gguf_writer import WriterState

ARCHITECTURE = "llama"
F16_MAX = float(np.finfo(np.float16).max)

# HF names inside ``model.layers.N.`` -> llama.cpp tensors.
_LAYER_TENSORS = {
    "self_attn.q_proj.weight": MODEL_TENSOR.ATTN_Q,
    "self_attn.k_proj.weight": MODEL_TENSOR.ATTN_K,
    "self_attn.v_proj.weight": MODEL_TENSOR.ATTN_V,
    "self_attn.o_proj.weight": MODEL_TENSOR.ATTN_OUT,
    "mlp.gate_proj.weight": MODEL_TENSOR.FFN_GATE,
    "mlp.up_proj.weight": MODEL_TENSOR.FFN_UP,
    "mlp.down_proj.weight": MODEL_TENSOR.FFN_DOWN,
    "input_layernorm.weight": MODEL_TENSOR.ATTN_NORM,
    "post_attention_layernorm.weight": MODEL_TENSOR.FFN_NORM,
}
_MODEL_TENSORS = {
    "model.embed_tokens.weight": MODEL_TENSOR.TOKEN_EMBD,
    "model.norm.weight": MODEL_TENSOR.OUTPUT_NORM,
    "lm_head.weight": MODEL_TENSOR.OUTPUT,
}

# The Llama 3 split regex, as its tokenizer.json states it (llama.cpp calls it "llama-bpe").
_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


class UnsupportedModelError(ValueError):
    """The model or its tokenizer has no faithful GGUF form here; the message says why."""


def to_gguf(model: torch.nn.Module, tokenizer: Any, *, name: str = "") -> bytes:
    """The GGUF file (version 3, little-endian) of ``model`` and ``tokenizer``, as bytes.

    ``model`` is a merged ``LlamaForCausalLM`` (no adapters), ``tokenizer`` a Hugging Face fast
    tokenizer with a byte-level BPE model. Nothing is written to disk. Raises
    UnsupportedModelError for anything llama.cpp's ``llama`` architecture or ``gpt2`` vocabulary
    cannot reproduce, or weights beyond the F16 range.
    """
    config = model.config
    _check_architecture(config)
    writer = GGUFWriter(path=None, arch=ARCHITECTURE)
    _add_hyperparameters(writer, config, name)
    _add_tokenizer(writer, tokenizer, int(config.vocab_size))
    _add_tensors(writer, model.state_dict(), config)
    return _serialize(writer)


def _check_architecture(config: Any) -> None:
    if getattr(config, "model_type", None) != "llama":
        raise UnsupportedModelError(
            f"GGUF export supports Llama-architecture models; this one is "
            f"'{getattr(config, 'model_type', 'unknown')}'"
        )
    if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
        raise UnsupportedModelError("GGUF export does not support Llama models with bias terms")
    if getattr(config, "hidden_act", "silu") != "silu":
        raise UnsupportedModelError(
            f"GGUF export needs the SiLU activation, not {config.hidden_act}"
        )
    rope_type = _rope(config).get("rope_type", "default")
    if rope_type != "default":
        raise UnsupportedModelError(f"GGUF export does not support '{rope_type}' RoPE scaling")


def _rope(config: Any) -> dict[str, Any]:
    """RoPE settings: transformers 5 keeps them in ``rope_parameters``, older configs flat."""
    parameters = dict(getattr(config, "rope_parameters", None) or {})
    if getattr(config, "rope_scaling", None):
        parameters.setdefault("rope_type", config.rope_scaling.get("rope_type", "scaled"))
    parameters.setdefault("rope_theta", getattr(config, "rope_theta", 10000.0))
    return parameters


def _head_dim(config: Any) -> int:
    return int(
        getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    )


def _kv_heads(config: Any) -> int:
    return int(getattr(config, "num_key_value_heads", None) or config.num_attention_heads)


def _add_hyperparameters(writer: GGUFWriter, config: Any, name: str) -> None:
    writer.add_type("model")
    if name:
        writer.add_name(name)
    writer.add_vocab_size(int(config.vocab_size))
    writer.add_context_length(int(config.max_position_embeddings))
    writer.add_embedding_length(int(config.hidden_size))
    writer.add_block_count(int(config.num_hidden_layers))
    writer.add_feed_forward_length(int(config.intermediate_size))
    writer.add_rope_dimension_count(_head_dim(config))
    writer.add_head_count(int(config.num_attention_heads))
    writer.add_head_count_kv(_kv_heads(config))
    writer.add_key_length(_head_dim(config))
    writer.add_value_length(_head_dim(config))
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    writer.add_rope_freq_base(float(_rope(config)["rope_theta"]))
    writer.add_file_type(LlamaFileType.MOSTLY_F16)
    writer.add_quantization_version(GGML_QUANT_VERSION)


def _add_tokenizer(writer: GGUFWriter, tokenizer: Any, n_vocab: int) -> None:
    """llama.cpp's ``gpt2`` vocabulary, as convert_hf_to_gguf.py's ``_set_vocab_gpt2`` writes it."""
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    _check_byte_level_bpe(spec)
    tokens, types = _vocabulary(tokenizer, n_vocab)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(_pre_tokenizer_name(spec.get("pre_tokenizer")))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(_merges(spec["model"]))
    for kind, add in (
        ("bos", writer.add_bos_token_id),
        ("eos", writer.add_eos_token_id),
        ("unk", writer.add_unk_token_id),
        ("pad", writer.add_pad_token_id),
    ):
        token_id = getattr(tokenizer, f"{kind}_token_id", None)
        if token_id is not None:
            add(int(token_id))
    adds_bos, adds_eos = _added_special_tokens(tokenizer)
    writer.add_add_bos_token(adds_bos)
    writer.add_add_eos_token(adds_eos)
    if isinstance(getattr(tokenizer, "chat_template", None), str):
        writer.add_chat_template(tokenizer.chat_template)


def _check_byte_level_bpe(spec: dict[str, Any]) -> None:
    model = spec.get("model") or {}
    if model.get("type") != "BPE" or model.get("byte_fallback"):
        raise UnsupportedModelError(
            "GGUF export supports byte-level BPE tokenizers only (llama.cpp's 'gpt2' vocabulary)"
        )
    if spec.get("normalizer") is not None:
        # llama.cpp applies no normalizer to a gpt2 vocabulary: the same text would encode otherwise.
        raise UnsupportedModelError("GGUF export does not support tokenizers with a normalizer")


def _pre_tokenizer_name(pre: dict[str, Any] | None) -> str:
    """llama.cpp's name for the way ``pre`` splits text before BPE.

    llama.cpp's converter recognises a tokenizer by hashing its output on a test text; here the
    tokenizer.json pre-tokenizer is matched directly against the three splits llama.cpp has for
    byte-level Llama models. Anything else is refused: llama.cpp would tokenize differently.
    """
    steps = pre.get("pretokenizers", []) if pre and pre.get("type") == "Sequence" else [pre]
    if len(steps) == 1 and _is_byte_level(steps[0], regex=True):
        return "gpt-2"
    if (
        len(steps) == 2
        and steps[0].get("type") == "Digits"
        and steps[0].get("individual_digits")
        and _is_byte_level(steps[1], regex=True)
    ):
        return "smollm"  # digits one by one, then GPT-2's split
    if (
        len(steps) == 2
        and steps[0].get("type") == "Split"
        and (steps[0].get("pattern") or {}).get("Regex") == _LLAMA3_SPLIT
        and steps[0].get("behavior") == "Isolated"
        and not steps[0].get("invert")
        and _is_byte_level(steps[1], regex=False)
    ):
        return "llama-bpe"
    raise UnsupportedModelError(
        "GGUF export does not know how llama.cpp would reproduce this tokenizer's pre-tokenizer"
    )


def _is_byte_level(step: dict[str, Any] | None, *, regex: bool) -> bool:
    return (
        step is not None
        and step.get("type") == "ByteLevel"
        and not step.get("add_prefix_space")
        and bool(step.get("use_regex", True)) == regex
    )


def _vocabulary(tokenizer: Any, n_vocab: int) -> tuple[list[str], list[int]]:
    """One token per embedding row: byte-level spellings as in tokenizer.json, added tokens as
    their text (CONTROL when special, USER_DEFINED otherwise), and ``[PADi]`` (UNUSED) for rows
    no token uses, as llama.cpp's ``get_vocab_base`` does."""
    by_id = {index: token for token, index in tokenizer.get_vocab().items()}
    if max(by_id) >= n_vocab:
        raise UnsupportedModelError(
            f"the tokenizer has {max(by_id) + 1} tokens but the model only {n_vocab} embeddings"
        )
    added = tokenizer.added_tokens_decoder
    tokens: list[str] = []
    types: list[int] = []
    for index in range(n_vocab):
        if index not in by_id:
            tokens.append(f"[PAD{index}]")
            types.append(TokenType.UNUSED)
            continue
        tokens.append(by_id[index])
        if index not in added:
            types.append(TokenType.NORMAL)
        else:
            types.append(TokenType.CONTROL if added[index].special else TokenType.USER_DEFINED)
    return tokens, types


def _merges(model: dict[str, Any]) -> list[str]:
    """Merges as ``"left right"``: tokenizers >= 0.20 stores pairs, older versions strings."""
    return [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]


def _added_special_tokens(tokenizer: Any) -> tuple[bool, bool]:
    """Whether encoding adds BOS in front and EOS at the end (llama.cpp's add_bos/add_eos)."""
    plain = tokenizer.encode("a", add_special_tokens=False)
    full = tokenizer.encode("a")
    extra = len(full) > len(plain)
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    return (
        extra and bos is not None and full[0] == bos,
        extra and eos is not None and full[-1] == eos,
    )


def _add_tensors(writer: GGUFWriter, state: dict[str, torch.Tensor], config: Any) -> None:
    heads, kv_heads = int(config.num_attention_heads), _kv_heads(config)
    tied = bool(getattr(config, "tie_word_embeddings", False))
    for hf_name, tensor in state.items():
        if hf_name.endswith("rotary_emb.inv_freq") or (tied and hf_name == "lm_head.weight"):
            continue  # recomputed by llama.cpp / the same matrix as token_embd
        gguf_name = _gguf_name(hf_name)
        weights = tensor.detach().to(device="cpu", dtype=torch.float32).numpy()
        if gguf_name.endswith("attn_q.weight"):
            weights = _permute_for_rope(weights, heads)
        elif gguf_name.endswith("attn_k.weight"):
            weights = _permute_for_rope(weights, kv_heads)
        writer.add_tensor(gguf_name, _storage_dtype(gguf_name, weights))


def _gguf_name(hf_name: str) -> str:
    """``model.layers.3.mlp.up_proj.weight`` -> ``blk.3.ffn_up.weight``; unknown names refused."""
    if hf_name in _MODEL_TENSORS:
        return TENSOR_NAMES[_MODEL_TENSORS[hf_name]] + ".weight"
    prefix, _, rest = hf_name.partition("model.layers.")
    block, _, leaf = rest.partition(".")
    if prefix or not block.isdigit() or leaf not in _LAYER_TENSORS:
        raise UnsupportedModelError(f"GGUF export does not know the tensor '{hf_name}'")
    return TENSOR_NAMES[_LAYER_TENSORS[leaf]].format(bid=int(block)) + ".weight"


def _permute_for_rope(weights: np.ndarray, heads: int) -> np.ndarray:
    """Reorder each head's rows from Hugging Face's rotary layout (first half / second half) to
    llama.cpp's (interleaved pairs): ``permute`` in convert_hf_to_gguf.py, which transformers'
    GGUF loader undoes with ``_reverse_permute_weights``. ``heads`` is the kv head count for k."""
    rows = weights.shape[0]
    return (
        weights.reshape(heads, 2, rows // heads // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def _storage_dtype(name: str, weights: np.ndarray) -> np.ndarray:
    """F32 for 1-D tensors (norms), F16 for matrices, as llama.cpp's converter stores them."""
    if weights.ndim < 2:
        return np.ascontiguousarray(weights, dtype=np.float32)
    if np.abs(weights).max(initial=0.0) > F16_MAX:
        raise UnsupportedModelError(f"the weights of '{name}' exceed the F16 range")
    return np.ascontiguousarray(weights, dtype=np.float16)


def _serialize(writer: GGUFWriter) -> bytes:
    """The writer's header, metadata, tensor index and tensor data, in memory.

    GGUFWriter opens its output by path only, and ``ndarray.tofile`` needs a real file; both
    would put plaintext weights on disk. So the writer is handed an in-memory stream in the
    state its ``open_output_file`` leaves, and the tensor data (each aligned, as
    ``write_tensors_to_file`` lays it out) is written here.
    """
    buffer = io.BytesIO()
    writer.fout = [buffer]  # type: ignore[list-item]
    writer.state = WriterState.EMPTY
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.write_padding(buffer, buffer.tell())
    for info in writer.tensors[0].values():
        buffer.write(info.tensor.data)  # contiguous (see _storage_dtype): no copy
        writer.write_padding(buffer, info.nbytes)
        info.tensor = None  # written: let it go, as write_tensors_to_file does
    writer.fout = None
    return buffer.getvalue()
