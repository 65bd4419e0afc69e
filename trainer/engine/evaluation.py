"""Held-out evaluation of a finished job: base model vs fine-tuned model on the test split.

Returns perplexity / loss for both, and for prompt-completion and chat records greedy-generation
scores (exact match, BLEU via sacrebleu, ROUGE-L via rouge-score) plus up to 5 side-by-side
samples. The samples contain customer data: the caller must encrypt the returned dict.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from . import registry
from .checkpoint import CheckpointStore
from .config import TrainConfig
from .data import TrainData, as_messages, plain_generation_prompt, record_kind, tokenize_split
from .final_model import load_final_model
from .loop import TrainResult
from .modeling import per_token_losses, set_attention
from .models import load_causal_lm
from .packing import fixed_batches
from .recipes import recipe_for
from .recipes.base import Recipe
from .reporting import Reporter

MAX_PERPLEXITY_ROWS = 256
GENERATION_BATCH = 8
SAMPLES = 5


def evaluate(
    cfg: TrainConfig,
    data: TrainData,
    store_or_result: CheckpointStore | TrainResult,
    reporter: Reporter,
) -> dict[str, Any]:
    """Score the base and the tuned model on `data.test` (see module docstring).

    Result: {"base": {...} | None (from-scratch has no base), "tuned": {...}, "samples": [...],
    "test_records": n}. Each model's dict has perplexity, loss and target_tokens, and when the test
    split has prompt/completion or chat records: exact_match, bleu, rouge_l, generated. For a
    preference objective these scores are of the preferred answers, and "tuned" also has the
    objective's reward_accuracy and reward_margin on the test examples (recipe
    `preference_metrics`) and test_pairs (or test_examples) scored.
    Raises CheckpointError when the final model is missing or cannot be authenticated.
    """
    store = store_or_result.store if isinstance(store_or_result, TrainResult) else store_or_result
    device = torch.device("cuda" if torch.cuda.is_available() and cfg.device != "cpu" else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    tuned, tokenizer, saved_cfg = load_final_model(store, device=device, dtype=dtype)
    reporter.event("evaluate", f"scoring {len(data.test)} test records")
    recipe = recipe_for(saved_cfg)
    records = recipe.evaluation_records(data.test)
    prompts = _generation_cases(records, cfg.eval_generate_records)
    examples = _preference_examples(recipe, saved_cfg, data.test, tokenizer)
    result: dict[str, Any] = {"test_records": len(data.test)}
    base_scores = None
    with _base_model(saved_cfg, tuned, device, dtype) as base:
        if base is not None:
            result["base"] = _score(base, tokenizer, records, prompts, cfg)
            base_scores = recipe.sequence_scores(base, tokenizer, examples, saved_cfg)
        else:
            result["base"] = None
    result["tuned"] = _score(tuned, tokenizer, records, prompts, cfg)
    tuned_scores = recipe.sequence_scores(tuned, tokenizer, examples, saved_cfg)
    if tuned_scores is not None:
        result["tuned"].update(recipe.preference_metrics(tuned_scores, base_scores, examples))
    result["samples"] = _samples(prompts, result)
    for name in ("base", "tuned"):
        if result[name] is not None:
            result[name].pop("generated", None)
    reporter.event("evaluate", "evaluation finished")
    return result


@contextlib.contextmanager
def _base_model(
    cfg: TrainConfig, tuned: nn.Module, device: torch.device, dtype: torch.dtype
) -> Iterator[nn.Module | None]:
    """The untuned model: adapters disabled in place, or the base weights loaded beside."""
    if not registry.method(cfg.method).needs_base_model:
        yield None
    elif hasattr(tuned, "disable_adapter"):
        with tuned.disable_adapter():
            yield tuned
    else:
        base = load_causal_lm(cfg.base_model_dir, dtype=dtype).to(device).eval()
        set_attention(base, "sdpa")
        yield base
        del base


def _preference_examples(
    recipe: Recipe, cfg: TrainConfig, records: list[dict[str, Any]], tokenizer: Any
) -> Any:
    """The test split as the recipe's examples, for the preference scores (None otherwise)."""
    if not registry.objective(cfg.objective).preference or not records:
        return None
    return recipe.prepare(records, tokenizer, "test")


def _score(
    model: nn.Module,
    tokenizer: Any,
    records: list[dict[str, Any]],
    prompts: list[dict[str, Any]],
    cfg: TrainConfig,
) -> dict[str, Any]:
    scores = perplexity(model, tokenizer, records, cfg.seq_len)
    if prompts:
        generated = generate(
            model, tokenizer, [p["prompt"] for p in prompts], cfg.eval_max_new_tokens
        )
        scores.update(text_scores(generated, [p["reference"] for p in prompts]))
        scores["generated"] = generated
    return scores


@torch.no_grad()
def perplexity(
    model: nn.Module, tokenizer: Any, records: list[dict[str, Any]], seq_len: int
) -> dict[str, float]:
    """Token-weighted mean loss and perplexity over the targets of `records` (packed rows)."""
    tokenized, _ = tokenize_split(records, tokenizer)
    total, count = 0.0, 0
    device = next(model.parameters()).device
    for batch in fixed_batches(
        tokenized,
        seq_len=seq_len,
        rows_per_batch=4,
        pad_id=tokenizer.pad_token_id,
        max_rows=MAX_PERPLEXITY_ROWS,
    ):
        losses = per_token_losses(model, batch.to(device))
        total, count = total + float(losses.sum()), count + losses.numel()
    if count == 0:
        return {"loss": float("nan"), "perplexity": float("nan"), "target_tokens": 0}
    loss = total / count
    return {"loss": loss, "perplexity": math.exp(min(loss, 700.0)), "target_tokens": count}


def _generation_cases(records: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """(prompt messages, reference answer) of the first `limit` completion / chat test records."""
    cases = []
    for index, record in enumerate(records):
        if len(cases) >= limit:
            break
        if record_kind(record, index) == registry.TEXT:
            continue
        messages = as_messages(record)
        last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
        if last is not None:
            cases.append({"prompt": messages[:last], "reference": messages[last]["content"]})
    return cases


@torch.no_grad()
def generate(
    model: nn.Module, tokenizer: Any, prompts: list[list[dict[str, str]]], max_new_tokens: int
) -> list[str]:
    """Greedy completions of chat prompts, decoded without special tokens, batched left-padded."""
    device = next(model.parameters()).device
    texts = [plain_generation_prompt(messages, tokenizer) for messages in prompts]
    outputs: list[str] = []
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    try:
        for start in range(0, len(texts), GENERATION_BATCH):
            enc = tokenizer(
                texts[start : start + GENERATION_BATCH],
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            ).to(device)
            out = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
            new_tokens = out[:, enc["input_ids"].shape[1] :]
            outputs += [
                t.strip() for t in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            ]
    finally:
        tokenizer.padding_side = side
    return outputs


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def text_scores(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """exact_match (case/space-insensitive rate), corpus BLEU (0..100), mean ROUGE-L F1 (0..1)."""
    import sacrebleu
    from rouge_score import rouge_scorer

    exact = sum(_normalise(h) == _normalise(r) for h, r in zip(hypotheses, references, strict=True))
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    rouge = [
        scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(hypotheses, references, strict=True)
    ]
    return {
        "exact_match": exact / len(references),
        "bleu": float(sacrebleu.corpus_bleu(hypotheses, [references]).score),
        "rouge_l": sum(rouge) / len(rouge),
        "generated_records": float(len(references)),
    }


def _samples(prompts: list[dict[str, Any]], result: dict[str, Any]) -> list[dict[str, Any]]:
    samples = []
    for index, case in enumerate(prompts[:SAMPLES]):
        sample = {"prompt": case["prompt"], "reference": case["reference"]}
        for name in ("base", "tuned"):
            generated = (result.get(name) or {}).get("generated")
            sample[name] = generated[index] if generated else None
        samples.append(sample)
    return samples
