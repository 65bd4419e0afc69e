"""Back-of-the-envelope memory and time estimate of a job, used to refuse jobs that cannot fit.

The model is counted as a Llama-style decoder (attention + gated MLP), which covers the models the
platform offers. Memory = weights + gradients + AdamW state of the trainable weights + saved
activations (per token per layer; only the layer inputs with gradient checkpointing) + one chunk of
logits + a fixed runtime overhead. Time = training FLOPs / an assumed sustained throughput. Both are
estimates (typically within ~30% for memory); they are meant for go / no-go decisions.

Preference objectives pack a pair (or a KTO answer) into the same rows of seq_len tokens, so their
activations are counted like any micro-batch's; their reference model costs no memory (the base
with adapters off, or cached numbers for full fine-tuning) but forward passes, added to the time.

Memory is per GPU. Under FSDP (several processes, full / freeze / from_scratch) each GPU keeps
1/processes of the weights, gradients and AdamW state, plus the weights it gathers to compute:
the root (embeddings, LM head), kept whole through a step, and two decoder layers (one computing,
one prefetched). With grad_accum > 1 the micro-batches that skip the gradient sync accumulate
whole fp32 gradients, so those are not divided.

Differential privacy (dp.py) adds the fp32 sum of clipped per-record gradients and the noise
(about twice the trainable weights in fp32); per-record gradients are never held for a whole
batch, since records run one at a time, so activations stay bounded by the micro-batch's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from . import dp, registry
from .config import TrainConfig, resolve_parallelism
from .modeling import LOSS_CHUNK_TOKENS

GPU_FLOPS = 2.0e14  # sustained bf16 training FLOP/s assumed on a data-centre GPU (~25-40% MFU)
CPU_FLOPS = 5.0e10  # sustained fp32 FLOP/s assumed on a CPU
CUDA_OVERHEAD = 1.0 * 2**30  # CUDA context, allocator slack, kernels workspaces
FIT_FRACTION = 0.92  # leave room for fragmentation
PACKING_FILL = 0.95  # fraction of packed row tokens that are real tokens


@dataclass(frozen=True)
class Shape:
    """The numbers of a decoder-only transformer that drive memory and compute."""

    vocab: int
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    tied: bool

    @classmethod
    def from_config(cls, config: Any) -> Shape:
        """From a transformers config object or its dict form."""

        def get(key: str, default: Any = None) -> Any:
            if isinstance(config, dict):
                return config.get(key, default)
            return getattr(config, key, default)

        heads = int(get("num_attention_heads"))
        return cls(
            int(get("vocab_size")),
            int(get("hidden_size")),
            int(get("intermediate_size")),
            int(get("num_hidden_layers")),
            heads,
            int(get("num_key_value_heads") or heads),
            bool(get("tie_word_embeddings", False)),
        )

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * (self.hidden // self.heads)

    def layer_params(self) -> int:
        attention = 2 * self.hidden * self.hidden + 2 * self.hidden * self.kv_dim
        return attention + 3 * self.hidden * self.intermediate + 2 * self.hidden

    def total_params(self) -> int:
        embeddings = self.vocab * self.hidden * (1 if self.tied else 2)
        return embeddings + self.layers * self.layer_params() + self.hidden

    def lora_params(self, rank: int, dora: bool) -> int:
        """Adapter parameters with 'all-linear' targets (q, k, v, o, gate, up, down)."""
        h, i, kv = self.hidden, self.intermediate, self.kv_dim
        shapes = [(h, h), (h, kv), (h, kv), (h, h), (h, i), (h, i), (i, h)]
        per_layer = sum(rank * (a + b) + (b if dora else 0) for a, b in shapes)
        return self.layers * per_layer


def _trainable(cfg: TrainConfig, shape: Shape) -> int:
    method = registry.method(cfg.method)
    if method.adapter:
        return shape.lora_params(cfg.lora_r, method.dora)
    if method.freezes_layers:
        frozen = (
            shape.vocab * shape.hidden + min(cfg.freeze_layers, shape.layers) * shape.layer_params()
        )
        return shape.total_params() - frozen
    return shape.total_params()


def _weight_bytes(cfg: TrainConfig, shape: Shape, precision: str) -> float:
    total = shape.total_params()
    method = registry.method(cfg.method)
    if method.quantized:
        embeddings = shape.vocab * shape.hidden * (1 if shape.tied else 2)
        return embeddings * 2 + (total - embeddings) * 0.55  # nf4 + double-quantised scales
    if precision == "bf16" or (precision == "bf16-mixed" and method.adapter):
        return total * 2.0
    return total * 4.0


def _state_bytes(cfg: TrainConfig, trainable: int, precision: str, shards: int) -> float:
    """Gradients + AdamW m and v of the trainable weights, per GPU over `shards` FSDP shards."""
    grad, adam = (2, 4) if precision == "bf16" else (4, 8)
    per_gpu = trainable * (grad + adam) / shards
    if shards > 1 and cfg.grad_accum > 1:
        per_gpu += trainable * 4  # unsharded fp32 gradients accumulated between syncs
    return per_gpu


def _gathered_bytes(shape: Shape, precision: str) -> float:
    """Weights FSDP holds whole while computing: the root and two decoder layers."""
    element = 4 if precision == "fp32" else 2
    root = shape.vocab * shape.hidden * (1 if shape.tied else 2) + shape.hidden
    return (root + 2 * shape.layer_params()) * element


def _activation_bytes(cfg: TrainConfig, shape: Shape, precision: str) -> float:
    """Saved activations of one micro-batch (the dominant non-weight term)."""
    element = 4 if precision == "fp32" else 2
    tokens = cfg.batch_size * cfg.seq_len
    h, i = shape.hidden, shape.intermediate
    per_token_layer = element * (6 * h + 2 * shape.kv_dim + 4 * i) + 8 * h  # + fp32 norm inputs
    if cfg.gradient_checkpointing:
        return tokens * (shape.layers * element * h + per_token_layer)
    return tokens * shape.layers * per_token_layer


def estimate_resources(
    cfg: TrainConfig, model_config: Any, gpu_mem_bytes: int | None, processes: int = 1
) -> dict[str, Any]:
    """Estimate peak memory (per GPU) and wall time of `cfg` on a model shaped like `model_config`.

    `gpu_mem_bytes` is one GPU's memory (None = train on CPU, compared with host RAM);
    `processes` the training processes (GPUs) of the job, which under FSDP share the weights and
    training state (module docstring). Returns {peak_mem_bytes, fits, reason, est_seconds,
    breakdown: {...}}; never raises for a valid config.
    """
    shape = Shape.from_config(model_config)
    on_gpu = gpu_mem_bytes is not None and cfg.device != "cpu"
    precision = cfg.precision if cfg.precision != "auto" else ("bf16-mixed" if on_gpu else "fp32")
    trainable = _trainable(cfg, shape)
    shards = processes if resolve_parallelism(cfg, processes) == "fsdp" else 1
    breakdown = {
        "weights": _weight_bytes(cfg, shape, precision) / shards,
        "grads_and_optimizer": _state_bytes(cfg, trainable, precision, shards),
        "fsdp_gathered": _gathered_bytes(shape, precision) if shards > 1 else 0.0,
        "activations": _activation_bytes(cfg, shape, precision),
        "logits": float(min(LOSS_CHUNK_TOKENS, cfg.batch_size * cfg.seq_len) * shape.vocab * 4 * 3),
        "overhead": CUDA_OVERHEAD if on_gpu else 0.0,
        # DP-SGD: the sum of clipped per-record gradients and the noise, fp32 (dp.py).
        "dp_per_record_gradients": dp.extra_memory_bytes(trainable)
        if cfg.differential_privacy is not None
        else 0.0,
    }
    peak = sum(breakdown.values())
    budget = gpu_mem_bytes if on_gpu and gpu_mem_bytes is not None else _host_memory()
    fits = peak <= FIT_FRACTION * budget
    where = "GPU" if on_gpu else "host"
    reason = f"needs about {peak / 2**30:.1f} GiB of {budget / 2**30:.1f} GiB {where} memory" + (
        "" if fits else "; lower batch_size or seq_len, enable gradient_checkpointing, or use LoRA"
    )
    return {
        "peak_mem_bytes": int(peak),
        "fits": fits,
        "reason": reason,
        "est_seconds": _seconds(cfg, shape, trainable, on_gpu),
        "trainable_params": trainable,
        "total_params": shape.total_params(),
        "breakdown": {k: int(v) for k, v in breakdown.items()},
    }


def _seconds(cfg: TrainConfig, shape: Shape, trainable: int, on_gpu: bool) -> float:
    tokens = cfg.max_steps * cfg.grad_accum * cfg.batch_size * cfg.seq_len * PACKING_FILL
    full_backward = trainable > 0.5 * shape.total_params()
    per_token: float = (6 if full_backward else 4) * shape.total_params()
    per_token += (
        6 * shape.layers * shape.hidden * cfg.seq_len // 2
    )  # attention scores, mean context
    if cfg.gradient_checkpointing:
        per_token *= 4 / 3  # one extra forward
    per_token += 2 * shape.total_params() * _forwards_without_gradient(cfg)
    return tokens * per_token / (GPU_FLOPS if on_gpu else CPU_FLOPS)


def _forwards_without_gradient(cfg: TrainConfig) -> float:
    """Forward passes without gradient per trained token that the objective adds: the reference
    model's (every step with adapters; once, over about as many tokens, for full fine-tuning's
    cache, reference.py) and KTO's policy pass over its KL sequences."""
    objective = registry.objective(cfg.objective)
    return objective.reference_forwards + objective.policy_forwards


def _host_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 16 * 2**30
