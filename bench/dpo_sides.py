"""The two sides of `bench/train_throughput.py --objective dpo`: the engine's DPO recipe and TRL's
`DPOTrainer` with PEFT, on the same randomly initialised model and the same preference pairs.

Pairs are random token ids: a prompt and two answers of lognormal lengths. Both sides train DPO
(sigmoid loss, beta 0.1) with the reference computed every step from the base with the adapters
off (LoRA; for `--method full` the engine uses its cached reference and TRL a frozen copy), in
the same precision, with the same learning rate and LoRA shape. Tokens are the real tokens of
both sequences of each pair (prompt + answer, twice), counted without padding on both sides.
TRL pads each batch and runs the chosen and rejected sequences as one padded batch; the engine
packs whole pairs into rows of seq_len tokens. TRL tokenizes its dataset before training (not
timed); here it receives the token ids directly.
"""

from __future__ import annotations

import argparse
import copy
import math
import time
from typing import Any

from bench.train_throughput import (
    SHAPES,
    baseline_figures,
    block_size,
    engine_config,
    engine_model,
    llama_config,
    sync,
    timed_engine_steps,
)
from trainer.engine import registry

BETA = 0.1


def pair_workload(args: argparse.Namespace) -> dict:
    """Prompt and answer token ids of every pair (same seed -> same pairs on both sides)."""
    import torch

    answer_max = 128 if (args.quick or args.model == "tiny") else 512
    n_pairs = 128 if args.quick else 2000
    steps = args.steps or (40 if args.quick else 30)
    g = torch.Generator().manual_seed(0)
    vocab = SHAPES[args.model][0]

    def lengths(mean: float, low: int, high: int) -> list[int]:
        noise = torch.randn(n_pairs, generator=g) * 0.6 + math.log(mean)
        return torch.clamp(torch.exp(noise), low, high).long().tolist()

    prompts = lengths(answer_max / 3, 8, answer_max)
    chosen = lengths(answer_max / 4, 4, answer_max)
    rejected = lengths(answer_max / 4, 4, answer_max)

    def ids(n: int) -> list[int]:
        return torch.randint(0, vocab, (n,), generator=g).tolist()

    pairs = [(ids(p), ids(c), ids(r)) for p, c, r in zip(prompts, chosen, rejected, strict=True)]
    pair_tokens = [2 * len(p) + len(c) + len(r) for p, c, r in pairs]
    return {
        "seq_len": 4 * answer_max,  # the longest pair fits one row
        "steps": steps,
        "pairs": pairs,
        "mean_pair_tokens": sum(pair_tokens) / len(pair_tokens),
    }


def run_engine_dpo(args: argparse.Namespace) -> dict:
    import torch

    from trainer.engine.distributed import DistContext
    from trainer.engine.recipes.preference_data import (
        PreferenceExample,
        PreferenceSplit,
        TokenSequence,
    )
    from trainer.engine.reference import compute_reference
    from trainer.engine.steps import build_run

    work = pair_workload(args)
    split = PreferenceSplit(
        [
            PreferenceExample(
                k, (TokenSequence(tuple(p + c), len(p)), TokenSequence(tuple(p + r), len(p)))
            )
            for k, (p, c, r) in enumerate(work["pairs"])
        ]
    )
    rows = args.rows or max(1, math.ceil(args.batch * work["mean_pair_tokens"] / work["seq_len"]))
    cfg = engine_config(
        args, steps=work["steps"], rows=rows, seq_len=work["seq_len"], objective="dpo", beta=BETA
    )
    prepared, compiled = engine_model(args, cfg)
    device = torch.device(args.device)
    run = build_run(cfg, DistContext(), device, prepared, split, PreferenceSplit([]), pad_id=0)
    if not registry.method(args.method).adapter:
        # Full fine-tuning: the reference pass, once, before the timed steps.
        split.reference = compute_reference(run, split, lambda: False)
    return timed_engine_steps(args, run, work, compiled)


def run_baseline_dpo(args: argparse.Namespace) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import LlamaForCausalLM, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    work = pair_workload(args)
    rows = [{"prompt_ids": p, "chosen_ids": c, "rejected_ids": r} for p, c, r in work["pairs"]]
    real_tokens: list[int] = []

    class Meter(TrainerCallback):
        marks: list[float] = []

        def on_step_end(self, targs: Any, state: Any, control: Any, **kw: Any) -> None:
            warm = args.warmup
            if state.global_step >= warm and (state.global_step - warm) % block_size(work) == 0:
                sync(args.device)
                self.marks.append(time.perf_counter())

    class PreTokenized(DPOTrainer):
        """DPOTrainer on token ids given up front (its own tokenization is not timed anyway)."""

        def _prepare_dataset(self, dataset: Any, *rest: Any, **kw: Any) -> Any:
            return dataset

    torch.manual_seed(0)
    cuda = args.device == "cuda"
    adapter = registry.method(args.method).adapter
    with torch.device(args.device):
        model = LlamaForCausalLM(llama_config(args)).to(torch.bfloat16 if cuda else torch.float32)
    reference = None if adapter else copy.deepcopy(model).eval()
    meter = Meter()
    targs = DPOConfig(
        output_dir="/tmp/soberana_bench_dpo_baseline",
        beta=BETA,
        per_device_train_batch_size=args.batch,
        max_steps=work["steps"] + args.warmup,
        learning_rate=2e-4 if adapter else 2e-5,
        bf16=cuda,
        gradient_checkpointing=False,  # TRL's default is on; the engine's is off
        max_length=None,
        logging_steps=1000,
        save_strategy="no",
        report_to=[],
        dataloader_num_workers=0,
        disable_tqdm=True,
        use_cpu=not cuda,
        optim="adamw_torch_fused" if cuda else "adamw_torch",
    )
    trainer = PreTokenized(
        model=model,
        ref_model=reference,
        args=targs,
        train_dataset=Dataset.from_list(rows),
        processing_class=_id_tokenizer(SHAPES[args.model][0]),
        peft_config=(
            LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")
            if adapter
            else None
        ),
        callbacks=[meter],
    )
    collate = trainer.data_collator

    def counting(batch: list[dict]) -> dict:
        out = collate(batch)
        real_tokens.append(int(out["attention_mask"].sum()))
        return out

    trainer.data_collator = counting
    trainer.train()
    return baseline_figures(args, work, real_tokens, meter.marks)


def _id_tokenizer(vocab: int) -> Any:
    """A tokenizer whose vocabulary is the model's token ids ("t0".."tN"; pad = t0): TRL needs
    one for its pad token, the pairs are already ids."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    words = {f"t{i}": i for i in range(vocab)}
    backend = Tokenizer(WordLevel(words, unk_token="t0"))
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="t0", eos_token="t1", unk_token="t0"
    )
