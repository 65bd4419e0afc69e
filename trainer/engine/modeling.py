"""The forward pass used for training: packed attention and a memory-light loss.

Two attention paths give the same result for a packed batch:
- "sdpa" (CPU, and GPU fallback): rows of [batch, seq_len] with restarting position ids;
  transformers detects the packing from the position ids and builds a block-diagonal causal mask.
- "soberana_varlen" (CUDA): the batch is flattened to one row and attention runs segment by
  segment through `torch.nn.attention.varlen.varlen_attn` (FlashAttention), using the segment
  boundaries computed on the CPU during packing, so no mask is ever materialised.

The loss never builds the full [tokens, vocab] logits: only target positions go through the LM
head, in chunks that are recomputed in backward when large, so peak memory stays flat for large
vocabularies while tiny models skip the recomputation.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from .packing import Batch

VARLEN_ATTENTION = "soberana_varlen"
LOSS_CHUNK_TOKENS = 8192
RECOMPUTE_ABOVE_BYTES = 64 * 2**20  # smaller logits are cheaper to keep than to recompute
COMPILE_BACKEND = "inductor"  # tests swap in "aot_eager": same graphs, no code generation

try:  # torch >= 2.9 ships a FlashAttention varlen op; older builds fall back to SDPA.
    from torch.nn.attention.varlen import varlen_attn as _varlen_attn
except ImportError:  # pragma: no cover - depends on the installed torch
    _varlen_attn = None


def varlen_kernel_available(device: torch.device) -> bool:
    """True when the fused variable-length attention kernel can run on `device`."""
    return _varlen_attn is not None and device.type == "cuda"


# Read once: inspecting the signature on every call costs host time on every layer of every
# step, and torch.compile cannot trace `inspect`.
_VARLEN_PARAMS = frozenset(inspect.signature(_varlen_attn).parameters) if _varlen_attn else ()


def _varlen_call(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    cu: torch.Tensor,
    max_len: int,
    scale: float | None,
) -> torch.Tensor:
    """Call varlen_attn across the torch versions that spell 'causal' differently."""
    params = _VARLEN_PARAMS
    kwargs: dict[str, Any] = {"scale": scale} if "scale" in params else {}
    if "window_size" in params:
        kwargs["window_size"] = (-1, 0)
    else:
        kwargs["is_causal"] = True
    if key.shape[1] != query.shape[1]:
        if "enable_gqa" in params:
            kwargs["enable_gqa"] = True
        else:
            repeat = query.shape[1] // key.shape[1]
            key, value = key.repeat_interleave(repeat, 1), value.repeat_interleave(repeat, 1)
    return _varlen_attn(query, key, value, cu, cu, max_len, max_len, **kwargs)


def _segmentwise_sdpa(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    cu: torch.Tensor,
    scale: float | None,
) -> torch.Tensor:
    """Reference path (CPU tests): causal SDPA on each segment of [tokens, heads, dim] inputs."""
    bounds = cu.tolist()
    outputs = []
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        q, k, v = (t[start:end].transpose(0, 1) for t in (query, key, value))
        out = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, scale=scale, enable_gqa=k.shape[0] != q.shape[0]
        )
        outputs.append(out.transpose(0, 1))
    return torch.cat(outputs, 0)


def varlen_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """AttentionInterface entry: [1, heads, tokens, dim] inputs, segments from `packed_cu_seqlens`.

    Without packing kwargs (generation, plain forward) it defers to transformers' SDPA path.
    """
    cu = kwargs.get("packed_cu_seqlens")
    if cu is None:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs
        )
    batch, heads, tokens, dim = query.shape
    q, k, v = (
        t.transpose(1, 2).reshape(batch * tokens, t.shape[1], dim) for t in (query, key, value)
    )
    if varlen_kernel_available(q.device):
        if q.dtype == torch.float32:  # RoPE promotes to fp32 under autocast; flash needs 16-bit
            half = torch.get_autocast_dtype("cuda") if torch.is_autocast_enabled("cuda") else None
            q, k, v = (t.to(half or torch.bfloat16) for t in (q, k, v))
        out = _varlen_call(q, k, v, cu, int(kwargs["packed_max_seqlen"]), scaling)
    else:
        out = _segmentwise_sdpa(q, k, v, cu, scaling)
    return out.reshape(batch, tokens, heads, dim), None


def register_varlen_attention() -> None:
    """Register the packed attention path with transformers (idempotent).

    Deliberately no mask function is registered: transformers then skips mask creation entirely
    (segment boundaries travel as kwargs), which also avoids its packed-sequence detection, a
    host-device synchronisation on every forward.
    """
    AttentionInterface.register(VARLEN_ATTENTION, varlen_attention_forward)


def set_attention(model: nn.Module, implementation: str) -> None:
    """Switch the attention implementation of a (possibly PEFT-wrapped) model in place."""
    register_varlen_attention()
    base = unwrap_model(model)
    base.config._attn_implementation = implementation
    for sub in base.modules():
        config = getattr(sub, "config", None)
        if config is not None and hasattr(config, "_attn_implementation"):
            config._attn_implementation = implementation


def compile_layers(layers: nn.ModuleList, backend: str | None = None) -> None:
    """Compile each decoder layer in place (regional compilation): the layers share one compiled
    graph, so compile time is that of a single layer however deep the model.

    Compiling fuses the element-wise work around the matmuls (norms, activations, rotary
    embeddings, LoRA scaling and residual adds) into fewer kernels, which matters most when a
    step's batch is small and the host's launch overhead dominates. A layer whose graph cannot be
    compiled runs eagerly (`suppress_errors`): compilation is an optimisation and must never be
    the reason a job fails.
    """
    import torch._dynamo

    torch._dynamo.config.suppress_errors = True
    # Training and validation batches differ in shape, and gradient checkpointing recompiles:
    # allow a few more graphs per layer than the default before falling back to eager.
    config = torch._dynamo.config
    limit = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
    setattr(config, limit, max(getattr(config, limit), 32))
    for layer in layers:
        layer.compile(backend=backend or COMPILE_BACKEND, dynamic=None)


def unwrap_model(model: nn.Module) -> nn.Module:
    """The transformers model under DDP / PEFT wrappers (LoRA layers stay injected in it)."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, nn.Module):
            model = model.module
        elif hasattr(model, "get_base_model"):
            model = model.get_base_model()
        else:
            return model


def _chunk_loss_sum(hidden: torch.Tensor, targets: torch.Tensor, head: nn.Module) -> torch.Tensor:
    logits = head(hidden).float()
    return F.cross_entropy(logits, targets, reduction="sum")


def target_hidden_states(
    model: nn.Module, batch: Batch, varlen: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the decoder on a batch; return (hidden states at target positions, their target ids)."""
    base = unwrap_model(model)
    shape = (1, -1) if varlen else batch.input_ids.shape
    extra = (
        {"packed_cu_seqlens": batch.cu_seqlens, "packed_max_seqlen": batch.max_seqlen}
        if varlen
        else {}
    )
    hidden = base.get_decoder()(
        input_ids=batch.input_ids.reshape(shape),
        position_ids=batch.position_ids.reshape(shape),
        use_cache=False,
        **extra,
    ).last_hidden_state
    flat_hidden = hidden.reshape(-1, hidden.shape[-1])
    return flat_hidden.index_select(0, batch.target_index), batch.target_ids


def _logits_bytes(hidden: torch.Tensor, head: nn.Module) -> int:
    """fp32 bytes of one chunk's logits (what checkpointing the loss would save)."""
    return min(hidden.shape[0], LOSS_CHUNK_TOKENS) * head.weight.shape[0] * 4


class PackedLossModel(nn.Module):
    """Wraps a causal LM so that forward(batch) returns the summed token loss of the batch.

    Exists as a module (not a function) so DDP can wrap it and see every parameter used.
    """

    def __init__(self, model: nn.Module, *, varlen: bool) -> None:
        super().__init__()
        self.model = model
        self.varlen = varlen

    def forward(self, batch: Batch) -> torch.Tensor:
        hidden, targets = target_hidden_states(self.model, batch, self.varlen)
        head = unwrap_model(self.model).get_output_embeddings()
        total = hidden.new_zeros((), dtype=torch.float32)
        recompute = torch.is_grad_enabled() and _logits_bytes(hidden, head) > RECOMPUTE_ABOVE_BYTES
        for h, y in zip(
            hidden.split(LOSS_CHUNK_TOKENS), targets.split(LOSS_CHUNK_TOKENS), strict=True
        ):
            if recompute:
                total = total + checkpoint(_chunk_loss_sum, h, y, head, use_reentrant=False)
            else:
                total = total + _chunk_loss_sum(h, y, head)
        return total


def _chunk_log_probs(hidden: torch.Tensor, targets: torch.Tensor, head: nn.Module) -> torch.Tensor:
    return -F.cross_entropy(head(hidden).float(), targets, reduction="none")


def target_log_probs(model: nn.Module, batch: Batch, *, varlen: bool) -> torch.Tensor:
    """Log-probability (fp32) of every target token of a batch, in row-major order, with
    gradient when enabled: the per-token quantity preference objectives sum per sequence.
    Chunked like PackedLossModel, so large vocabularies never hold all logits at once."""
    hidden, targets = target_hidden_states(model, batch, varlen)
    head = unwrap_model(model).get_output_embeddings()
    recompute = torch.is_grad_enabled() and _logits_bytes(hidden, head) > RECOMPUTE_ABOVE_BYTES
    parts = []
    for h, y in zip(hidden.split(LOSS_CHUNK_TOKENS), targets.split(LOSS_CHUNK_TOKENS), strict=True):
        if recompute:
            parts.append(checkpoint(_chunk_log_probs, h, y, head, use_reentrant=False))
        else:
            parts.append(_chunk_log_probs(h, y, head))
    return torch.cat(parts) if parts else hidden.new_zeros(0, dtype=torch.float32)


@torch.no_grad()
def per_token_losses(model: nn.Module, batch: Batch, *, varlen: bool = False) -> torch.Tensor:
    """Loss of every target token of a batch, in row-major order (used by tests and evaluation)."""
    hidden, targets = target_hidden_states(model, batch, varlen)
    logits = unwrap_model(model).get_output_embeddings()(hidden).float()
    return F.cross_entropy(logits, targets, reduction="none")
