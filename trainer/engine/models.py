"""Base models: offline loading, tiny test models, from-scratch shapes and GGUF conversion.

Everything here reads local files only (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE are forced on), and
only safetensors weights are accepted: a directory holding only pickled `.bin` weights is refused.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

from .config import ConfigError
from .offline import enforce_offline
from .tokenizer_build import BUILTIN_CORPUS, train_bpe_tokenizer

# (hidden, layers, heads, kv_heads, intermediate) of the from-scratch presets; Llama architecture.
SCRATCH_SHAPES: dict[str, tuple[int, int, int, int, int]] = {
    "tiny": (64, 2, 4, 4, 256),
    "10m": (256, 6, 4, 4, 688),
    "50m": (512, 8, 8, 8, 1376),
    "125m": (576, 30, 9, 3, 1536),  # SmolLM2-135M shape
    "350m": (960, 32, 15, 5, 2560),  # SmolLM2-360M shape
    "1b": (2048, 16, 32, 8, 8192),  # Llama-3.2-1B shape
}


def force_offline() -> None:
    """Make every Hugging Face call in this process local-only (no network at run time), also
    when the engine is used as a library without its entry point."""
    enforce_offline()


def load_model_config(model_dir: str | Path) -> PretrainedConfig:
    """Read and vet `config.json` of a base model directory.

    Raises ConfigError('base_model_dir') when the directory is missing, has no config, is not a
    causal language model, or holds no safetensors weights.
    """
    force_offline()
    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise ConfigError("base_model_dir", f"{path} is not a model directory (no config.json)")
    try:
        config: PretrainedConfig = AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(
            "base_model_dir", f"cannot read the model config in {path}: {exc}"
        ) from exc
    if not _is_causal_lm(config):
        raise ConfigError(
            "base_model_dir",
            f"{path} holds a '{config.model_type}' model "
            f"({', '.join(getattr(config, 'architectures', None) or [])}), not a causal language model",
        )
    if not any(path.glob("*.safetensors")):
        raise ConfigError(
            "base_model_dir", f"{path} has no .safetensors weights (pickled weights are refused)"
        )
    return config


def _is_causal_lm(config: PretrainedConfig) -> bool:
    """A decoder-only LM: its declared architecture (when stated) must be a causal-LM head."""
    if config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or config.is_encoder_decoder:
        return False
    architectures = getattr(config, "architectures", None) or []
    return not architectures or any(
        a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures
    )


def max_positions(config: PretrainedConfig) -> int | None:
    """The model's context length, or None when the config does not state one."""
    value = getattr(config, "max_position_embeddings", None)
    return int(value) if isinstance(value, int) else None


def load_tokenizer(model_dir: str | Path) -> object:
    """Load the tokenizer of a model directory, offline; ensures a pad token exists.

    Raises ConfigError('base_model_dir') when no usable tokenizer is present.
    """
    force_offline()
    try:
        tokenizer = AutoTokenizer.from_pretrained(Path(model_dir), local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(
            "base_model_dir", f"cannot load the tokenizer in {model_dir}: {exc}"
        ) from exc
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(
    model_dir: str | Path,
    *,
    dtype: torch.dtype,
    attn_implementation: str = "sdpa",
    quantization_config: object | None = None,
    device_map: dict[str, int] | None = None,
) -> PreTrainedModel:
    """Load a vetted causal LM from safetensors only, offline; ConfigError('base_model_dir')."""
    load_model_config(model_dir)
    try:
        return AutoModelForCausalLM.from_pretrained(
            Path(model_dir),
            local_files_only=True,
            use_safetensors=True,
            dtype=dtype,
            attn_implementation=attn_implementation,
            quantization_config=quantization_config,
            device_map=device_map,
        )
    except (OSError, ValueError) as exc:
        raise ConfigError("base_model_dir", f"cannot load the model in {model_dir}: {exc}") from exc


def llama_config(
    vocab_size: int,
    shape: tuple[int, int, int, int, int],
    *,
    max_positions: int,
    tokenizer: PreTrainedTokenizerBase,
) -> LlamaConfig:
    """A LlamaConfig of `shape` (hidden, layers, heads, kv_heads, intermediate) for `tokenizer`."""
    hidden, layers, heads, kv_heads, intermediate = shape
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def build_tiny_model(
    out_dir: str | Path,
    *,
    vocab_corpus: list[str] | None = None,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int | None = None,
    seed: int = 0,
) -> Path:
    """Write a tiny random Llama plus a BPE tokenizer as a normal HF model directory; returns it.

    The tokenizer is trained on a built-in corpus plus `vocab_corpus`. Deterministic for the same
    arguments; takes well under 2 s. `kv_heads` < `heads` gives grouped-query attention. Used by
    tests and local development only.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    corpus = BUILTIN_CORPUS + list(vocab_corpus or [])
    tokenizer = train_bpe_tokenizer(
        corpus, vocab_size=512 + 64 * len(corpus), model_max_length=2048
    )
    config = llama_config(
        len(tokenizer),
        (hidden, layers, heads, kv_heads or heads, hidden * 4),
        max_positions=2048,
        tokenizer=tokenizer,
    )
    config.tie_word_embeddings = False
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def build_scratch_model(
    preset: str, tokenizer: PreTrainedTokenizerBase, *, seq_len: int
) -> PreTrainedModel:
    """A randomly initialised Llama of the named preset, sized for `tokenizer` (from_scratch)."""
    config = llama_config(
        len(tokenizer),
        SCRATCH_SHAPES[preset],
        max_positions=max(seq_len, 2048),
        tokenizer=tokenizer,
    )
    config._attn_implementation = "sdpa"
    return LlamaForCausalLM(config)


def convert_gguf_to_safetensors(gguf_path: str | Path, out_dir: str | Path) -> Path:
    """Dequantize a GGUF file into a safetensors HF model directory (config, weights, tokenizer).

    transformers marks a GGUF-loaded model as quantized and refuses to save it, so a fresh model is
    built from its config and given the dequantized weights. Written into a temp dir beside
    `out_dir` and renamed into place, so `out_dir` is either absent or complete. Raises
    FileNotFoundError for a missing file and FileExistsError when `out_dir` already exists.
    """
    force_offline()
    source, out = Path(gguf_path), Path(out_dir)
    if not source.is_file():
        raise FileNotFoundError(f"no GGUF file at {source}")
    if out.exists():
        raise FileExistsError(f"{out} already exists")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        _write_dequantized(source, staging)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _write_dequantized(source: Path, staging: Path) -> None:
    loaded = AutoModelForCausalLM.from_pretrained(
        source.parent, gguf_file=source.name, local_files_only=True, dtype=torch.float32
    )
    config = loaded.config
    config.quantization_config = None
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    # transformers leaves `from_config` unannotated.
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)  # type: ignore[no-untyped-call]
    fresh.load_state_dict(loaded.state_dict(), strict=True)
    del loaded
    fresh.save_pretrained(staging, safe_serialization=True)
    tokenizer = AutoTokenizer.from_pretrained(
        source.parent, gguf_file=source.name, local_files_only=True
    )
    tokenizer.save_pretrained(staging)
