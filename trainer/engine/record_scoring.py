"""Per-record perplexity under a causal language model, for the poisoning screen's outliers.

``record_perplexities`` scores each text alone (not packed with others): exp of the mean
next-token loss over its first ``max_tokens`` tokens. No Django; the Django side
(``trainer.perplexity_screen``) reads the records, picks the sample and stores the flags.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


@torch.no_grad()
def record_perplexities(
    model: nn.Module,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    max_tokens: int = 256,
    batch_size: int = 8,
) -> list[float]:
    """One perplexity per text, in order; NaN for a text of fewer than two tokens.

    Texts are right-padded in batches of ``batch_size`` (padding never counts) and truncated
    to ``max_tokens`` tokens. Raises ValueError for non-positive sizes."""
    if max_tokens < 2 or batch_size < 1:
        raise ValueError("max_tokens must be >= 2 and batch_size >= 1")
    device = next(model.parameters()).device
    side = tokenizer.padding_side
    tokenizer.padding_side = "right"  # positions count from the first token
    try:
        scores: list[float] = []
        for first in range(0, len(texts), batch_size):
            chunk = list(texts[first : first + batch_size])
            scores += _batch_perplexities(model, tokenizer, chunk, max_tokens, device)
        return scores
    finally:
        tokenizer.padding_side = side


def _batch_perplexities(
    model: nn.Module, tokenizer: Any, texts: list[str], max_tokens: int, device: torch.device
) -> list[float]:
    encoded = tokenizer(
        texts, return_tensors="pt", padding=True, truncation=True, max_length=max_tokens
    )
    ids = encoded["input_ids"].to(device)
    mask = encoded["attention_mask"].to(device)
    if ids.shape[1] < 2:  # no text of the batch has a next token to predict
        return [math.nan] * len(texts)
    logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits[:, :-1].float()
    targets = ids[:, 1:]
    losses = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    counted = (mask[:, 1:] * mask[:, :-1]).float()
    totals = (losses * counted).sum(dim=1)
    counts = counted.sum(dim=1)
    return [
        math.exp(min(float(total / count), 700.0)) if count > 0 else math.nan
        for total, count in zip(totals, counts, strict=True)
    ]
