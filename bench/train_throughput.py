"""Training throughput: the Soberana engine vs a Hugging Face Trainer + PEFT baseline, same run.

Both sides train the same randomly initialised model (a LlamaConfig with the published shape) on
the same variable-length records (lognormal lengths, random token ids). The baseline is the usual
recipe (per-batch padding, `Trainer`, PEFT LoRA), following the reference baseline
/work/shared/bench/hf_trainer_baseline.py.
The engine runs its own step code (`trainer.engine.steps.train_step`: packed rows, varlen or
block-diagonal attention, target-only chunked loss, fused AdamW on CUDA) on an in-memory model;
no checkpoint I/O is timed on either side. Tokens are counted without padding. Each side runs in
its own subprocess so peak memory (CUDA max allocated, or CPU max RSS) is its own.

With `--objective dpo` the baseline is TRL's `DPOTrainer` with PEFT instead, on preference pairs
(bench/dpo_sides.py).

Usage:
  python bench/train_throughput.py --device cpu --quick
  python bench/train_throughput.py --device cuda --method lora --model smollm2-1.7b
  python bench/train_throughput.py --device cpu --objective dpo
  python bench/train_throughput.py --device cuda --objective dpo --model smollm2-1.7b
The last line of output is a JSON object with the figures. On CPU both sides use one thread by
default (`--threads N` to change), so neither side suffers from OpenMP oversubscription on a
shared machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainer.engine import registry  # noqa: E402  (after the path: the bench runs as a script)

SHAPES = {  # vocab, hidden, intermediate, layers, heads, kv_heads, max_positions, rope_theta
    "tiny": (1000, 64, 128, 2, 4, 4, 512, 10000.0),
    "smollm2-135m": (49152, 576, 1536, 30, 9, 3, 8192, 100000.0),
    "smollm2-1.7b": (49152, 2048, 8192, 24, 32, 32, 8192, 130000.0),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--quick", action="store_true", help="short records, few steps")
    parser.add_argument("--method", choices=["lora", "full"], default="lora")
    parser.add_argument(
        "--objective",
        choices=["supervised", "dpo"],  # the objectives with a baseline (BASELINE_NAMES)
        default="supervised",
        help="dpo: engine DPO against TRL's DPOTrainer + PEFT on the same pairs",
    )
    parser.add_argument("--model", choices=list(SHAPES), default=None)
    parser.add_argument(
        "--steps", type=int, default=None, help="timed steps (after 5 warm-up steps)"
    )
    parser.add_argument(
        "--batch", type=int, default=8, help="baseline records (dpo: pairs) per step"
    )
    parser.add_argument("--precision", default=None, help="engine precision (default: as baseline)")
    parser.add_argument("--rows", type=int, default=None, help="engine packed rows per step")
    parser.add_argument(
        "--compile",
        default="auto",
        help="engine compile mode(s), comma-separated (auto,on,off); the first gives the figures",
    )
    parser.add_argument(
        "--warmup", type=int, default=5, help="untimed steps per side (compilation happens here)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads for both sides (default 1 on cpu)"
    )
    parser.add_argument("--side", choices=["engine", "baseline"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.model = args.model or ("tiny" if args.device == "cpu" else "smollm2-1.7b")
    if args.threads is None and args.device == "cpu":
        args.threads = 1  # shared CPU boxes: OpenMP oversubscription distorts both sides
    return args


def workload(args: argparse.Namespace) -> dict:
    """Record lengths and sizes shared by both sides (same seed -> same records)."""
    import torch

    max_len = 256 if (args.quick or args.model == "tiny") else 2048
    n_records = 256 if args.quick else 4000
    steps = args.steps or (40 if args.quick else 30)
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(n_records, generator=g) * 0.8 + math.log(max_len / 6)
    lens = torch.clamp(torch.exp(noise), 16, max_len).long()
    vocab = SHAPES[args.model][0]
    ids = [torch.randint(0, vocab, (int(n),), generator=g) for n in lens]
    return {"max_len": max_len, "steps": steps, "ids": ids, "mean_len": float(lens.float().mean())}


def llama_config(args: argparse.Namespace):
    from transformers import LlamaConfig

    vocab, hidden, inter, layers, heads, kv, max_pos, theta = SHAPES[args.model]
    cfg = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=inter,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        max_position_embeddings=max_pos,
        rope_theta=theta,
        tie_word_embeddings=args.model != "tiny",
    )
    cfg._attn_implementation = "sdpa"
    return cfg


def peak_memory(device: str) -> int:
    import torch

    if device == "cuda":
        return int(torch.cuda.max_memory_allocated())
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def block_size(work: dict) -> int:
    """Timed steps are measured in 4 blocks, so a noisy neighbour spoils one block, not the run."""
    return max(1, work["steps"] // 4)


def throughput(marks: list[float], cumulative_tokens: list[int]) -> tuple[float, float]:
    """(tokens/s over all blocks, tokens/s of the fastest block) from block boundary times."""
    blocks = len(marks) - 1
    rates = [
        (cumulative_tokens[i + 1] - cumulative_tokens[i]) / (marks[i + 1] - marks[i])
        for i in range(blocks)
    ]
    return (cumulative_tokens[blocks] - cumulative_tokens[0]) / (marks[-1] - marks[0]), max(rates)


# -- engine side ---------------------------------------------------------------------------------


def engine_precision(args: argparse.Namespace) -> str:
    """Match the baseline's numerics: LoRA = bf16 base + fp32 adapters under autocast; full
    fine-tuning = the baseline's pure-bf16 model. fp32 on CPU."""
    if args.precision:
        return args.precision
    if args.device == "cpu":
        return "fp32"
    return "bf16-mixed" if registry.method(args.method).adapter else "bf16"


def engine_config(args: argparse.Namespace, *, steps: int, rows: int, seq_len: int, **extra: Any):
    """The engine's TrainConfig of a bench run (constant LR, no evaluation or checkpoints)."""
    from trainer.engine.config import TrainConfig

    return TrainConfig(
        method=args.method,
        base_model_dir="(in memory)",
        max_steps=steps + args.warmup,
        batch_size=rows,
        seq_len=seq_len,
        learning_rate=2e-4 if registry.method(args.method).adapter else 2e-5,
        device=args.device,
        precision=engine_precision(args),
        lora_r=16,
        lora_alpha=32,
        eval_every=0,
        checkpoint_every=0,
        max_grad_norm=1.0,
        warmup_steps=0,
        lr_schedule="constant",
        compile=args.compile,
        **extra,
    )


def engine_model(args: argparse.Namespace, cfg: Any) -> tuple[Any, bool]:
    """(PreparedModel, compiled): the randomly initialised model of `args.model` with the
    method applied, its attention path and compiled layers set as train() would."""
    import torch
    from transformers import LlamaForCausalLM

    from trainer.engine.methods import (
        PreparedModel,
        _storage_dtype,
        apply_method,
        decoder_layers,
        resolve_compile,
    )
    from trainer.engine.modeling import (
        VARLEN_ATTENTION,
        compile_layers,
        set_attention,
        varlen_kernel_available,
    )

    device = torch.device(args.device)
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(llama_config(args)).to(_storage_dtype(cfg, cfg.precision))
    model = apply_method(cfg, model, cfg.precision)
    if cfg.precision == "bf16":
        model = model.to(torch.bfloat16)
    varlen = varlen_kernel_available(device)
    set_attention(model, VARLEN_ATTENTION if varlen else "sdpa")
    compiled = resolve_compile(cfg, device)
    if compiled:
        compile_layers(decoder_layers(model))
    return PreparedModel(model, None, cfg.precision, varlen), compiled


def timed_engine_steps(args: argparse.Namespace, run: Any, work: dict, compiled: bool) -> dict:
    """Warm up, then time the run's steps in blocks; the engine side's figures."""
    from trainer.engine.steps import flush_losses, train_step

    for _ in range(args.warmup):
        train_step(run)
    flush_losses(run)
    sync(args.device)
    marks, tokens = [time.perf_counter()], [0]
    losses: list[float] = []
    for step in range(1, work["steps"] + 1):
        tokens.append(tokens[-1] + train_step(run))
        if step % block_size(work) == 0:
            losses = flush_losses(run)
            sync(args.device)
            marks.append(time.perf_counter())
    rate, best = throughput(marks, tokens[:: block_size(work)])
    return {
        "tokens_per_s": rate,
        "best_block_tokens_per_s": best,
        "peak_mem": peak_memory(args.device),
        "rows_per_step": run.cfg.batch_size,
        "tokens_per_step": tokens[-1] / work["steps"],
        "precision": run.prepared.precision,
        "varlen_attention": run.prepared.varlen,
        "compiled": compiled,
        "final_loss": losses[-1],
    }


def run_engine(args: argparse.Namespace) -> dict:
    import torch

    from trainer.engine.data import IGNORE_INDEX, TokenizedRecord
    from trainer.engine.distributed import DistContext
    from trainer.engine.steps import build_run

    work = workload(args)
    records = [TokenizedRecord(t.tolist(), [IGNORE_INDEX, *t[1:].tolist()]) for t in work["ids"]]
    rows = args.rows or max(1, math.ceil(args.batch * work["mean_len"] / work["max_len"]))
    cfg = engine_config(args, steps=work["steps"], rows=rows, seq_len=work["max_len"])
    prepared, compiled = engine_model(args, cfg)
    run = build_run(cfg, DistContext(), torch.device(args.device), prepared, records, [], 0)
    return timed_engine_steps(args, run, work, compiled)


# -- baseline side (after /work/shared/bench/hf_trainer_baseline.py) --------------------------


def run_baseline(args: argparse.Namespace) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM, Trainer, TrainerCallback, TrainingArguments

    work = workload(args)
    data = [{"input_ids": t} for t in work["ids"]]
    real_tokens: list[int] = []

    def collate(batch: list[dict]) -> dict:
        n = max(len(b["input_ids"]) for b in batch)
        ids = torch.zeros(len(batch), n, dtype=torch.long)
        att = torch.zeros(len(batch), n, dtype=torch.long)
        for i, b in enumerate(batch):
            ids[i, : len(b["input_ids"])] = b["input_ids"]
            att[i, : len(b["input_ids"])] = 1
        real_tokens.append(int(att.sum()))
        return {"input_ids": ids, "attention_mask": att, "labels": ids.masked_fill(att == 0, -100)}

    class Meter(TrainerCallback):
        marks: list[float] = []

        def on_step_end(self, targs, state, control, **kw):
            warm = args.warmup
            if state.global_step >= warm and (state.global_step - warm) % block_size(work) == 0:
                sync(args.device)
                self.marks.append(time.perf_counter())

    torch.manual_seed(0)
    cuda = args.device == "cuda"
    with torch.device(args.device):
        model = LlamaForCausalLM(llama_config(args)).to(torch.bfloat16 if cuda else torch.float32)
    if registry.method(args.method).adapter:
        model = get_peft_model(
            model,
            LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"),
        )
    meter = Meter()
    targs = TrainingArguments(
        output_dir="/tmp/soberana_bench_baseline",
        per_device_train_batch_size=args.batch,
        max_steps=work["steps"] + args.warmup,
        learning_rate=2e-4 if registry.method(args.method).adapter else 2e-5,
        bf16=cuda,
        logging_steps=1000,
        save_strategy="no",
        report_to=[],
        dataloader_num_workers=0,
        remove_unused_columns=False,
        disable_tqdm=True,
        use_cpu=not cuda,
        optim="adamw_torch_fused" if cuda else "adamw_torch",
    )
    Trainer(
        model=model, args=targs, train_dataset=data, data_collator=collate, callbacks=[meter]
    ).train()
    return baseline_figures(args, work, real_tokens, meter.marks)


def baseline_figures(
    args: argparse.Namespace, work: dict, real_tokens: list[int], marks: list[float]
) -> dict:
    """The baseline side's figures from the real tokens of every step and its block marks."""
    timed = real_tokens[args.warmup : work["steps"] + args.warmup]
    cumulative = [0]
    for count in timed:
        cumulative.append(cumulative[-1] + count)
    rate, best = throughput(marks, cumulative[:: block_size(work)])
    return {
        "tokens_per_s": rate,
        "best_block_tokens_per_s": best,
        "peak_mem": peak_memory(args.device),
        "tokens_per_step": sum(timed) / len(timed),
    }


# -- driver --------------------------------------------------------------------------------------


def _sides(objective: str) -> dict[str, Any]:
    """{"engine", "baseline": functions of the args, "name": the baseline's name}."""
    if objective not in BASELINE_NAMES:
        raise SystemExit(f"no baseline for objective {objective!r}")
    if objective in PREFERENCE_SIDES:
        from bench import dpo_sides

        engine, baseline = PREFERENCE_SIDES[objective]
        return {
            "engine": getattr(dpo_sides, engine),
            "baseline": getattr(dpo_sides, baseline),
            "name": BASELINE_NAMES[objective],
        }
    return {"engine": run_engine, "baseline": run_baseline, "name": BASELINE_NAMES[objective]}


BASELINE_NAMES = {"supervised": "HF Trainer", "dpo": "TRL DPOTrainer"}
PREFERENCE_SIDES = {"dpo": ("run_engine_dpo", "run_baseline_dpo")}


def _side(args: argparse.Namespace) -> dict:
    """Run this process's side of the comparison."""
    return _sides(args.objective)[args.side](args)


def run_side(side: str, argv: list[str]) -> dict:
    """Run one side in a fresh interpreter; its last stdout line is its JSON result."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, __file__, *argv, "--side", side],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"{side} run failed with exit status {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.side:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        print(json.dumps(_side(args)))
        return
    baseline = run_side("baseline", argv)
    modes = args.compile.split(",")
    engines = [run_side("engine", [*argv, "--compile", mode]) for mode in modes]
    print(
        f"model {args.model}, method {args.method}, objective {args.objective}, "
        f"device {args.device}, quick {args.quick}"
    )
    name = _sides(args.objective)["name"]
    peft = " + PEFT" if registry.method(args.method).adapter else ""
    print(
        f"baseline ({name}{peft}, padded): {baseline['tokens_per_s']:.0f} tokens/s, "
        f"peak {baseline['peak_mem'] / 2**20:.0f} MiB, "
        f"{baseline['tokens_per_step']:.0f} tokens/step"
    )
    variants = []
    for mode, engine in zip(modes, engines, strict=True):
        ratio = engine["tokens_per_s"] / baseline["tokens_per_s"]
        best_ratio = engine["best_block_tokens_per_s"] / baseline["best_block_tokens_per_s"]
        print(
            f"engine (packed, {engine['precision']}, varlen={engine['varlen_attention']}, "
            f"compile={mode} -> {engine['compiled']}): {engine['tokens_per_s']:.0f} tokens/s, "
            f"peak {engine['peak_mem'] / 2**20:.0f} MiB, "
            f"{engine['tokens_per_step']:.0f} tokens/step; ratio {ratio:.2f}x "
            f"(fastest of 4 timed blocks each: {best_ratio:.2f}x)"
        )
        variants.append(
            {
                "compile": mode,
                "compiled": engine["compiled"],
                "engine_tokens_per_s": round(engine["tokens_per_s"], 1),
                "ratio": round(ratio, 3),
                "engine_peak_mem": engine["peak_mem"],
                "ratio_best_block": round(best_ratio, 3),
            }
        )
    engine, first = engines[0], variants[0]
    figures = {
        "model": args.model,
        "method": args.method,
        "objective": args.objective,
        "device": args.device,
        "quick": args.quick,
        "engine_tokens_per_s": first["engine_tokens_per_s"],
        "baseline_tokens_per_s": round(baseline["tokens_per_s"], 1),
        "ratio": first["ratio"],
        "engine_peak_mem": engine["peak_mem"],
        "baseline_peak_mem": baseline["peak_mem"],
        "engine_tokens_per_step": round(engine["tokens_per_step"], 1),
        "baseline_tokens_per_step": round(baseline["tokens_per_step"], 1),
        "engine_precision": engine["precision"],
        "engine_compiled": engine["compiled"],
        "engine_best_block_tokens_per_s": round(engine["best_block_tokens_per_s"], 1),
        "baseline_best_block_tokens_per_s": round(baseline["best_block_tokens_per_s"], 1),
        "ratio_best_block": first["ratio_best_block"],
        "variants": variants,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
