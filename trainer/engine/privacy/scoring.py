"""Teacher-forced scoring of many texts in few forward passes.

``score_texts`` returns, for each text, every token's log probability given the tokens before
it and whether it was the most likely token there (what greedy decoding would have produced
from the true prefix). Texts are tokenized with the tokenizer's special tokens, grouped
longest first under a token budget and right-padded (a causal model never attends to the
padding after a real token).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

TOKEN_BUDGET = 2048  # tokens per forward pass: logits take tokens x vocabulary x 4 bytes


@dataclass(frozen=True)
class TextScores:
    """``logprobs[j]`` = log p(token j | tokens < j) for j >= 1; ``hits[j]``: token j was the
    argmax there. Both have ``len(ids) - 1`` entries (position 0 has no context)."""

    ids: list[int]
    logprobs: list[float]
    hits: list[bool]

    @property
    def total(self) -> float:
        return float(sum(self.logprobs))

    @property
    def mean_loss(self) -> float:
        return -self.total / max(1, len(self.logprobs))


def encode(tokenizer: Any, text: str, max_tokens: int) -> list[int]:
    return list(tokenizer(text, truncation=True, max_length=max_tokens)["input_ids"])


def score_ids(
    model: Any, rows: Sequence[Sequence[int]], *, token_budget: int = TOKEN_BUDGET
) -> list[TextScores]:
    """Scores of each row of token ids (rows of fewer than 2 tokens score nothing)."""
    results: list[TextScores | None] = [None] * len(rows)
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))
    group: list[int] = []
    for index in order:
        width = max([len(rows[i]) for i in group] + [len(rows[index])])
        if group and width * (len(group) + 1) > token_budget:
            _score_group(model, rows, group, results)
            group = []
        group.append(index)
    if group:
        _score_group(model, rows, group, results)
    return [
        r if r is not None else TextScores(list(rows[i]), [], []) for i, r in enumerate(results)
    ]


def score_texts(
    model: Any, tokenizer: Any, texts: Sequence[str], *, max_tokens: int = 256
) -> list[TextScores]:
    return score_ids(model, [encode(tokenizer, t, max_tokens) for t in texts])


def _score_group(
    model: Any, rows: Sequence[Sequence[int]], group: list[int], out: list[TextScores | None]
) -> None:
    width = max(len(rows[i]) for i in group)
    device = next(model.parameters()).device
    ids = torch.zeros((len(group), width), dtype=torch.long, device=device)
    mask = torch.zeros_like(ids)
    for row, index in enumerate(group):
        tokens = torch.tensor(list(rows[index]), dtype=torch.long, device=device)
        ids[row, : len(tokens)] = tokens
        mask[row, : len(tokens)] = 1
    with torch.inference_mode():
        logits = model(input_ids=ids, attention_mask=mask).logits.float()
    logp = torch.log_softmax(logits[:, :-1], dim=-1)
    targets = ids[:, 1:]
    chosen = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    best = logp.argmax(-1)
    for row, index in enumerate(group):
        n = len(rows[index]) - 1
        if n < 1:
            continue
        out[index] = TextScores(
            list(rows[index]),
            chosen[row, :n].tolist(),
            (best[row, :n] == targets[row, :n]).tolist(),
        )
