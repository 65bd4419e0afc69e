"""Turn a config into a ready-to-train model: load or build it, then apply the training method.

Precision policy (`resolve_precision`):
- fp32: everything in float32, no autocast (CPU default).
- bf16-mixed: autocast to bfloat16; trainable weights (and optimizer state) stay float32, frozen
  base weights of adapter methods are stored in bfloat16 to halve their memory (CUDA default).
- bf16: everything in bfloat16, no autocast (fastest, least precise).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from . import registry
from .config import ConfigError, TrainConfig, check_can_train_here
from .data import as_messages, prompt_messages, record_kind
from .modeling import (
    VARLEN_ATTENTION,
    compile_layers,
    set_attention,
    unwrap_model,
    varlen_kernel_available,
)
from .models import (
    build_scratch_model,
    load_causal_lm,
    load_model_config,
    load_tokenizer,
    max_positions,
)
from .tokenizer_build import train_bpe_tokenizer


@dataclass
class PreparedModel:
    """A model ready for the training loop, plus what the loop and the checkpoints need to know."""

    model: nn.Module
    tokenizer: Any
    precision: str
    varlen: bool

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return torch.bfloat16 if self.precision == "bf16-mixed" else None


def resolve_device(cfg: TrainConfig) -> torch.device:
    """The device to train on. Raises ConfigError('device') when CUDA is requested but absent."""
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "device", "CUDA was requested but no NVIDIA GPU is visible on this machine"
        )
    if cfg.device == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", torch.cuda.current_device())


def resolve_precision(cfg: TrainConfig, device: torch.device) -> str:
    """'auto' -> bf16-mixed on CUDA, fp32 on CPU; explicit choices are kept (bf16 on a CPU works,
    emulated and slow)."""
    if cfg.precision != "auto":
        return cfg.precision
    return "bf16-mixed" if device.type == "cuda" else "fp32"


def _storage_dtype(cfg: TrainConfig, precision: str) -> torch.dtype:
    """dtype the base weights are loaded in; frozen-base methods can hold them in bf16."""
    if precision == "bf16" or (precision == "bf16-mixed" and registry.method(cfg.method).adapter):
        return torch.bfloat16
    return torch.float32


def record_texts(records: Iterable[dict[str, Any]]) -> Iterable[str]:
    """Every string of a split's records, for training a from-scratch tokenizer."""
    for index, record in enumerate(records):
        kind = record_kind(record, index)
        if kind == registry.TEXT:
            yield record["text"]
        elif kind in (registry.PROMPT_COMPLETION, registry.CHAT):
            yield from (m["content"] for m in as_messages(record))
        else:  # preference records: the prompt's turns, then every answer
            yield from (m["content"] for m in prompt_messages(record))
            yield from (record[k] for k in ("chosen", "rejected", "completion") if k in record)


def prepare_model(
    cfg: TrainConfig,
    device: torch.device,
    *,
    train_records: list[dict[str, Any]],
    saved_tokenizer: Any | None = None,
) -> PreparedModel:
    """Load/build the model and tokenizer, apply the method, move to `device`.

    `saved_tokenizer` (from a checkpoint) replaces training a new from-scratch tokenizer, so a
    resumed from-scratch run sees identical token ids. Raises ConfigError on unusable settings.
    """
    check_can_train_here(cfg)
    method = registry.method(cfg.method)
    precision = resolve_precision(cfg, device)
    torch.manual_seed(cfg.seed)  # adapter / scratch initialisation is part of the repeatable run
    if method.from_scratch:
        tokenizer = saved_tokenizer or train_bpe_tokenizer(
            record_texts(train_records), cfg.scratch_vocab_size, model_max_length=cfg.seq_len
        )
        model = build_scratch_model(cfg.scratch_preset, tokenizer, seq_len=cfg.seq_len)
    else:
        model, tokenizer = _load_base(cfg, device, precision)
    model = apply_method(cfg, model, precision)
    if not method.quantized:  # 4-bit weights were loaded straight onto their GPU
        model = (
            model.to(device=device, dtype=torch.bfloat16)
            if precision == "bf16"
            else model.to(device)
        )
    if cfg.gradient_checkpointing:
        _enable_activation_checkpointing(unwrap_model(model))
    varlen = varlen_kernel_available(device) and precision != "fp32"  # flash kernels are 16-bit
    set_attention(model, VARLEN_ATTENTION if varlen else "sdpa")
    if resolve_compile(cfg, device):
        compile_layers(decoder_layers(model))
    return PreparedModel(model, tokenizer, precision, varlen)


def resolve_compile(cfg: TrainConfig, device: torch.device) -> bool:
    """'auto' compiles on CUDA only: on a CPU the compile time outweighs what a short job gains."""
    if cfg.compile != "auto":
        return cfg.compile == "on"
    return device.type == "cuda"


def _enable_activation_checkpointing(model: nn.Module) -> None:
    """Non-reentrant checkpointing (works with frozen inputs, so no input-grad hooks needed)."""
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.2x spelling
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def _load_base(cfg: TrainConfig, device: torch.device, precision: str) -> tuple[nn.Module, Any]:
    config = load_model_config(cfg.base_model_dir)
    cfg.check_against_model(max_positions(config))
    tokenizer = load_tokenizer(cfg.base_model_dir)
    quantization = _qlora_quantization() if registry.method(cfg.method).quantized else None
    model = load_causal_lm(
        cfg.base_model_dir,
        dtype=_storage_dtype(cfg, precision),
        quantization_config=quantization,
        # 4-bit weights are quantised while loading, so they must load straight onto the GPU.
        device_map={"": device.index or 0} if quantization is not None else None,
    )
    if quantization is not None:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=cfg.gradient_checkpointing
        )
    return model, tokenizer


def _qlora_quantization() -> object:
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )


def apply_method(cfg: TrainConfig, model: nn.Module, precision: str) -> nn.Module:
    """Mark what trains: LoRA/DoRA adapters, all weights, or all but the frozen bottom layers."""
    method = registry.method(cfg.method)
    if method.adapter:
        return _wrap_lora(cfg, model, precision)
    for param in model.parameters():
        param.requires_grad_(True)
    if method.freezes_layers:
        freeze_bottom(model, cfg.freeze_layers)
    return model


def _wrap_lora(cfg: TrainConfig, model: nn.Module, precision: str) -> nn.Module:
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=cfg.lora_target_modules,
        use_dora=registry.method(cfg.method).dora,
        task_type="CAUSAL_LM",
    )
    try:
        wrapped = get_peft_model(model, lora)
    except ValueError as exc:
        raise ConfigError("lora_target_modules", str(exc)) from exc
    if precision == "bf16-mixed":
        _skip_adapter_input_casts(wrapped)
    return wrapped


def _skip_adapter_input_casts(model: nn.Module) -> None:
    """Under autocast, PEFT's cast of every bf16 activation to the fp32 adapter dtype is pure
    memory traffic (autocast runs the matmul in bf16 anyway), so turn it off."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    for module in model.modules():
        if isinstance(module, BaseTunerLayer):
            module.cast_input_dtype_enabled = False


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The stack of decoder layers of a causal LM (the ModuleList sized num_hidden_layers)."""
    base = unwrap_model(model)
    count = getattr(base.config, "num_hidden_layers", None)
    for module in base.modules():
        if isinstance(module, nn.ModuleList) and len(module) == count:
            return module
    raise ConfigError("method", f"cannot find the decoder layers of {type(base).__name__}")


def freeze_bottom(model: nn.Module, n_layers: int) -> None:
    """Freeze the input embeddings and the first `n_layers` decoder layers (requires_grad False).

    With tied input/output embeddings the LM head is frozen too. Raises ConfigError('freeze_layers')
    when n_layers would leave no decoder layer to train.
    """
    layers = decoder_layers(model)
    if n_layers >= len(layers):
        raise ConfigError("freeze_layers", f"must be below the model's {len(layers)} layers")
    unwrap_model(model).get_input_embeddings().requires_grad_(False)
    for layer in layers[:n_layers]:
        layer.requires_grad_(False)


def trainable_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """Trainable parameters by name, in a stable order (the order the optimizer sees them)."""
    return {name: p for name, p in model.named_parameters() if p.requires_grad}
