"""CUDA-only checks of the fast path (varlen flash attention, bf16, fused AdamW, no host syncs).

Skipped on machines without an NVIDIA GPU; run them on a GPU box with `pytest -m gpu`.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from trainer.engine import build_tiny_model, train
from trainer.engine.data import tokenize_split
from trainer.engine.distributed import DistContext
from trainer.engine.methods import prepare_model
from trainer.engine.modeling import per_token_losses, set_attention, varlen_kernel_available
from trainer.engine.packing import collate, plan_rows
from trainer.engine.steps import build_run, flush_losses, train_step

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_varlen_kernel_is_used_on_cuda():
    assert varlen_kernel_available(torch.device("cuda"))


@pytest.mark.parametrize("kv_heads", [4, 2])  # 2 = grouped-query attention
def test_packed_varlen_row_matches_each_record_run_alone(
    tmp_path, text_data, small_config, kv_heads
):
    corpus = [r["text"] for r in text_data.train]
    model_dir = str(build_tiny_model(tmp_path / "m", vocab_corpus=corpus, kv_heads=kv_heads))
    cfg = small_config(model_dir, device="cuda", precision="bf16")
    prepared = prepare_model(cfg, torch.device("cuda"), train_records=text_data.train)
    assert prepared.varlen
    model, tok = prepared.model.eval(), prepared.tokenizer
    records, _ = tokenize_split(text_data.train[:6], tok)
    rows = plan_rows(records, 128, seed=0, epoch=0)
    batch = collate(rows, records, 128, tok.pad_token_id).to("cuda")
    packed = per_token_losses(model, batch, varlen=True)
    set_attention(model, "sdpa")
    masked = per_token_losses(model, batch)
    alone = []
    with torch.no_grad():
        for seg in (s for row in rows for s in row):
            ids = torch.tensor([records[seg.record].input_ids[seg.start : seg.end]], device="cuda")
            logits = model(input_ids=ids).logits[0, :-1].float()
            labels = torch.tensor(
                records[seg.record].labels[seg.start + 1 : seg.end], device="cuda"
            )
            keep = labels != -100
            alone.append(F.cross_entropy(logits[keep], labels[keep], reduction="none"))
    torch.testing.assert_close(packed, torch.cat(alone), atol=3e-2, rtol=3e-2)
    torch.testing.assert_close(packed, masked, atol=3e-2, rtol=3e-2)


@pytest.mark.parametrize(
    "method,precision",
    [
        ("lora", "bf16-mixed"),
        ("dora", "bf16-mixed"),
        ("full", "bf16-mixed"),
        ("full", "bf16"),
        ("from_scratch", "bf16-mixed"),
    ],
)
def test_training_on_cuda_lowers_the_loss(
    tiny_model_dir, text_data, make_store, small_config, method, precision
):
    model_dir = None if method == "from_scratch" else tiny_model_dir
    cfg = small_config(model_dir, method=method, device="cuda", precision=precision, max_steps=20)
    result = train(cfg, text_data, _Quiet(), make_store(f"gpu-{method}-{precision}"))
    assert result.losses[-1] < result.losses[0] - 0.2


def test_gradient_checkpointing_on_cuda_matches_plain_training(
    tiny_model_dir, text_data, make_store, small_config
):
    plain = train(
        small_config(tiny_model_dir, device="cuda", max_steps=6),
        text_data,
        _Quiet(),
        make_store("p"),
    )
    cfg = small_config(tiny_model_dir, device="cuda", max_steps=6, gradient_checkpointing=True)
    recomputed = train(cfg, text_data, _Quiet(), make_store("r"))
    torch.testing.assert_close(
        torch.tensor(recomputed.losses), torch.tensor(plain.losses), atol=2e-3, rtol=0
    )


def test_resume_on_cuda_reproduces_the_curve(tiny_model_dir, text_data, make_store, small_config):
    cfg = small_config(tiny_model_dir, device="cuda", checkpoint_every=5)
    whole = train(cfg, text_data, _Quiet(), make_store("whole"))
    store = make_store("crashed")
    with pytest.raises(RuntimeError):
        train(cfg, text_data, _Quiet(crash_at=7), store)
    resumed = train(cfg, text_data, _Quiet(), store)
    assert resumed.resumed_from_step == 5
    torch.testing.assert_close(
        torch.tensor(resumed.losses), torch.tensor(whole.losses), atol=2e-3, rtol=0
    )


def test_train_step_never_synchronises_host_and_gpu(tiny_model_dir, text_data, small_config):
    cfg = small_config(tiny_model_dir, device="cuda", max_steps=50)
    prepared = prepare_model(cfg, torch.device("cuda"), train_records=text_data.train)
    records, _ = tokenize_split(text_data.train, prepared.tokenizer)
    run = build_run(cfg, DistContext(), torch.device("cuda"), prepared, records, [], pad_id=0)
    train_step(run)  # first step: lazy initialisation may synchronise
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            train_step(run)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert len(flush_losses(run)) == 4


def test_compiled_layers_on_cuda_train_like_eager_ones(
    tiny_model_dir, text_data, make_store, small_config
):
    """The real backend (inductor) around the varlen flash-attention op: whole graphs, same
    curve within bf16 rounding."""
    from torch._dynamo.utils import counters

    eager = train(
        small_config(tiny_model_dir, device="cuda", max_steps=8),
        text_data,
        _Quiet(),
        make_store("eager"),
    )
    torch._dynamo.reset()
    counters.clear()
    cfg = small_config(tiny_model_dir, device="cuda", max_steps=8, compile="on")
    compiled = train(cfg, text_data, _Quiet(), make_store("compiled"))
    assert counters["stats"]["calls_captured"] > 0
    assert not counters["graph_break"]
    torch.testing.assert_close(
        torch.tensor(compiled.losses), torch.tensor(eager.losses), atol=2e-2, rtol=0
    )


def test_qlora_trains_on_a_4bit_base_and_evaluates(
    tiny_model_dir, qa_data, make_store, small_config
):
    pytest.importorskip("bitsandbytes")
    from trainer.engine import evaluate

    cfg = small_config(
        tiny_model_dir,
        method="qlora",
        device="cuda",
        max_steps=20,
        learning_rate=1e-2,
        eval_generate_records=2,
    )
    prepared = prepare_model(cfg, torch.device("cuda"), train_records=qa_data.train)
    quantized = [m for m in prepared.model.modules() if type(m).__name__ == "Linear4bit"]
    assert quantized  # the frozen base really is 4-bit
    del prepared
    result = train(cfg, qa_data, _Quiet(), make_store("qlora"))
    assert result.losses[-1] < result.losses[0] - 0.2
    assert result.final_model is not None and result.final_model.kind == "adapter"
    metrics = evaluate(cfg, qa_data, result, _Quiet())
    assert metrics["tuned"]["perplexity"] < metrics["base"]["perplexity"]


@pytest.mark.parametrize("method", ["qlora", "lora", "full"])
def test_dpo_on_a_gpu_lowers_the_loss_and_evaluates_reward_accuracy(
    method, tiny_model_dir, pair_data, make_store, small_config
):
    """DPO through the varlen path in bf16: the reference is the 4-bit / 16-bit base with the
    adapters off, or the cached pass for full fine-tuning."""
    if method == "qlora":
        pytest.importorskip("bitsandbytes")
    from trainer.engine import evaluate

    cfg = small_config(
        tiny_model_dir,
        method=method,
        objective="dpo",
        beta=0.5,
        device="cuda",
        max_steps=12,
        learning_rate=1e-2 if method != "full" else 3e-4,
        eval_generate_records=2,
    )
    result = train(cfg, pair_data, _Quiet(), make_store(method))
    assert result.losses[0] == pytest.approx(0.6931, abs=2e-2)  # bf16: policy ~ reference
    assert result.losses[-1] < result.losses[0] - 0.05
    metrics = evaluate(cfg, pair_data, result, _Quiet())
    assert metrics["tuned"]["reward_margin"] > 0


def test_fsdp_on_one_gpu_trains_like_no_wrapper(
    tiny_model_dir, text_data, make_store, small_config
):
    """FSDP2 over NCCL (a private one-rank group bound to the GPU): same curve, full weights."""
    import torch.distributed as dist

    plain = train(
        small_config(tiny_model_dir, method="full", device="cuda", max_steps=6),
        text_data,
        _Quiet(),
        make_store("plain"),
    )
    cfg = small_config(
        tiny_model_dir, method="full", device="cuda", max_steps=6, parallelism="fsdp"
    )
    sharded = train(cfg, text_data, _Quiet(), make_store("fsdp"))
    assert not dist.is_initialized()  # the group it had to create is gone
    assert sharded.final_model is not None and sharded.final_model.kind == "full"
    torch.testing.assert_close(
        torch.tensor(sharded.losses), torch.tensor(plain.losses), atol=1e-2, rtol=0
    )


class _Quiet:
    def __init__(self, crash_at: int | None = None) -> None:
        self.calls, self.crash_at = 0, crash_at

    def log(self, step: int, metrics: dict[str, float]) -> None:
        pass

    def event(self, kind: str, message: str) -> None:
        pass

    def should_stop(self) -> bool:
        self.calls += 1
        if self.calls == self.crash_at:
            raise RuntimeError("simulated crash")
        return False
