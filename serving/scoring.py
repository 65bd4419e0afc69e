"""Prompt scoring: every prompt token's log probability under the model, as the OpenAI
completions API reports it with ``echo`` (the semantics lm-evaluation-harness and vLLM use).

``score_prompts`` runs batched forward passes (right-padded, under a token budget) and returns,
for each prompt, the log probability of each token given the tokens before it (``None`` for the
first token, which has no context), whether it was the most likely token, the top alternatives
at each position, and the distribution of the token that would come next.

``complete_with_echo`` builds on it for ``echo``: the prompt's tokens with their log
probabilities followed by the generated ones. lm-evaluation-harness's ``local-completions``
sends ``echo: true, max_tokens: 1, logprobs: 1, temperature: 0`` and reads
``token_logprobs[ctxlen:-1]``: it counts on exactly one entry per prompt token (the prompt sent
as token ids is never re-tokenized and gets no special tokens added) followed by one entry per
generated token, the end-of-sequence token included. ``is_greedy`` is read as
``token_logprob == max(top_logprobs.values())``, so a token's own value and its alternatives come
from the same row of the same tensor and compare exactly. That greedy one-token case is answered
from the scoring pass alone, without a second pass through ``generate``.

Pure Python + torch + transformers (no Django).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from serving.generation import LoadedModel, StopScanner, generate
from serving.sampling import SamplingParams

# Tokens per forward pass. The logits of a pass take tokens x vocabulary x 4 bytes
# (about 200 MB for SmolLM2's 49,152-token vocabulary at 1,024 tokens).
SCORE_TOKEN_BUDGET = 1024
# JSON has no -Infinity: OpenAI and vLLM clamp impossible tokens to this value.
LOGPROB_FLOOR = -9999.0


class InvalidTokenIds(ValueError):
    """A prompt given as token ids is empty or holds an id outside the model's vocabulary."""


@dataclass(frozen=True)
class PromptScores:
    """The scores of one prompt, position by position.

    ``logprobs[j]`` is log p(token j | tokens < j), ``None`` for j = 0; ``greedy[j]`` says no
    token was more likely there (True for j = 0); ``top[j]`` holds the ``top`` most likely
    ``(token id, logprob)`` at position j, best first (empty for j = 0 or when ``top`` is 0).
    ``next_top`` is the same for the token after the prompt (at least one entry: the argmax).
    """

    token_ids: list[int]
    logprobs: list[float | None]
    greedy: list[bool]
    top: list[list[tuple[int, float]]]
    next_top: list[tuple[int, float]]

    def continuation_logprob(self, start: int) -> tuple[float, bool]:
        """Sum of the log probabilities of tokens ``start`` onwards (``start`` >= 1) and
        whether each of them was the most likely: lm-eval's ``(logprob, is_greedy)``."""
        if start < 1:
            raise ValueError("the first token has no log probability: start at 1 or later")
        values = self.logprobs[start:]
        return float(sum(v for v in values if v is not None)), all(self.greedy[start:])


def vocabulary_size(loaded: LoadedModel) -> int:
    """How many token ids both the tokenizer can decode and the model can embed."""
    embedded = loaded.model.get_input_embeddings().num_embeddings
    return min(int(embedded), len(loaded.tokenizer))


def check_token_ids(loaded: LoadedModel, prompts: Sequence[Sequence[int]]) -> None:
    """Raise InvalidTokenIds for an empty prompt or an id the model does not have."""
    size = vocabulary_size(loaded)
    for index, ids in enumerate(prompts):
        if not ids:
            raise InvalidTokenIds(f"prompt {index} has no tokens")
        bad = next((t for t in ids if isinstance(t, bool) or not 0 <= t < size), None)
        if bad is not None:
            raise InvalidTokenIds(
                f"prompt {index} holds token id {bad!r}, outside the vocabulary (0-{size - 1})"
            )


def score_prompts(
    loaded: LoadedModel,
    prompts: Sequence[Sequence[int]],
    top: int = 0,
    *,
    token_budget: int = SCORE_TOKEN_BUDGET,
) -> list[PromptScores]:
    """Score each prompt (token ids) in as few forward passes as ``token_budget`` allows.

    Prompts are grouped longest first, right-padded (a causal model never attends to the
    padding after a real token) and returned in the order given. Raises InvalidTokenIds.
    """
    check_token_ids(loaded, prompts)
    results: list[PromptScores | None] = [None] * len(prompts)
    for group in _groups([len(p) for p in prompts], token_budget):
        logits = _forward(loaded, [prompts[i] for i in group])
        for row, index in enumerate(group):
            ids = list(prompts[index])
            results[index] = _row_scores(ids, logits[row, : len(ids)], top)
    return [r for r in results if r is not None]


def _groups(lengths: list[int], budget: int) -> list[list[int]]:
    """Indices grouped so that rows x longest row stays within ``budget`` (a longer prompt
    goes alone)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: list[list[int]] = []
    for index in order:
        if groups and lengths[groups[-1][0]] * (len(groups[-1]) + 1) <= budget:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


@torch.inference_mode()
def _forward(loaded: LoadedModel, rows: list[Sequence[int]]) -> torch.Tensor:
    width = max(len(r) for r in rows)
    pad = loaded.tokenizer.pad_token_id
    pad = 0 if pad is None else pad
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(list(row), dtype=torch.long)
        mask[i, : len(row)] = 1
    output = loaded.model(
        input_ids=ids.to(loaded.device), attention_mask=mask.to(loaded.device), use_cache=False
    )
    return output.logits


def _row_scores(ids: list[int], logits: torch.Tensor, top: int) -> PromptScores:
    """Scores of one prompt from its logits (one row per position, the last predicting the
    token after the prompt)."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    best_values, best_ids = torch.topk(logp, max(top, 1), dim=-1)
    targets = torch.tensor(ids[1:], dtype=torch.long, device=logp.device)
    chosen = logp[:-1].gather(1, targets[:, None]).squeeze(1)
    # Greedy as lm-eval reads it from an API answer: no alternative scored higher.
    greedy = (chosen >= best_values[:-1, 0]).tolist()
    values, indices = best_values.tolist(), best_ids.tolist()
    pairs = [list(zip(indices[j], values[j], strict=True)) for j in range(len(ids))]
    return PromptScores(
        token_ids=ids,
        logprobs=[None, *chosen.tolist()],
        greedy=[True, *greedy],
        top=[[], *(p[:top] for p in pairs[:-1])],
        next_top=pairs[-1],
    )


# --- echo ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EchoPrompt:
    """A completion prompt: its token ids and, when it was sent as text, that text (echoed
    as given; token-id prompts echo their decoded tokens)."""

    ids: list[int]
    text: str | None = None


@dataclass(frozen=True)
class ScoredToken:
    """One token of an echoed answer: its text, log probability (None for the first prompt
    token) and the alternatives reported at its position, the token itself first."""

    token: str
    logprob: float | None
    top: tuple[tuple[str, float], ...] | None


@dataclass
class EchoCompletion:
    """The prompt followed by what was generated; ``logprobs`` holds one entry per prompt token
    and per generated token (``prompt_tokens + completion_tokens`` entries) when asked for."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    logprobs: list[ScoredToken] | None = None


def complete_with_echo(
    loaded: LoadedModel,
    prompts: Sequence[EchoPrompt],
    params: SamplingParams,
    max_new: Sequence[int],
    logprobs: int | None,
    *,
    token_budget: int = SCORE_TOKEN_BUDGET,
) -> list[EchoCompletion]:
    """Answer each prompt with ``echo``: its text, then up to ``max_new[i]`` generated tokens.

    ``max_new[i]`` may be 0 (the prompt alone, finish reason ``length``). With ``logprobs``
    (how many alternatives per position, 0 for none) every token carries its log probability
    under the model's own distribution: one scoring pass over the prompts, and for answers
    longer than one greedy token a second pass over prompt + generated tokens, so all values
    come from the same kind of forward pass. Raises InvalidTokenIds.
    """
    check_token_ids(loaded, [p.ids for p in prompts])
    if logprobs is None:
        return [
            _echo_text_only(loaded, p, params, n) for p, n in zip(prompts, max_new, strict=True)
        ]
    fast = [n == 0 or (n == 1 and params.temperature == 0) for n in max_new]
    scores = score_prompts(
        loaded,
        [p.ids for p, f in zip(prompts, fast, strict=True) if f],
        logprobs,
        token_budget=token_budget,
    )
    fast_answers = iter(scores)
    out = []
    for prompt, n, is_fast in zip(prompts, max_new, fast, strict=True):
        if is_fast:
            out.append(_echo_from_scores(loaded, prompt, next(fast_answers), params, n, logprobs))
        else:
            out.append(_echo_generated(loaded, prompt, params, n, logprobs, token_budget))
    return out


def _prompt_text(loaded: LoadedModel, prompt: EchoPrompt) -> str:
    return prompt.text if prompt.text is not None else loaded.tokenizer.decode(prompt.ids)


def _echo_text_only(
    loaded: LoadedModel, prompt: EchoPrompt, params: SamplingParams, max_new: int
) -> EchoCompletion:
    text = _prompt_text(loaded, prompt)
    if max_new == 0:
        return EchoCompletion(text, len(prompt.ids), 0, "length")
    made = generate(loaded, prompt.ids, params, max_new)
    return EchoCompletion(
        text + made.text, len(prompt.ids), made.completion_tokens, made.finish_reason
    )


def _echo_from_scores(
    loaded: LoadedModel,
    prompt: EchoPrompt,
    scores: PromptScores,
    params: SamplingParams,
    max_new: int,
    top: int,
) -> EchoCompletion:
    """The prompt alone, or the prompt and its one greedy next token, from one scoring pass."""
    tokens = _scored_tokens(loaded.tokenizer, scores.token_ids, scores.logprobs, scores.top)
    text = _prompt_text(loaded, prompt)
    if max_new == 0:
        return EchoCompletion(text, len(prompt.ids), 0, "length", tokens)
    next_id, next_logprob = scores.next_top[0]
    tokens += _scored_tokens(loaded.tokenizer, [next_id], [next_logprob], [scores.next_top[:top]])
    scanner = StopScanner(params.stop)
    generated = scanner.feed(loaded.tokenizer.decode([next_id], skip_special_tokens=True))
    generated += scanner.finish()
    ended = scanner.stopped or next_id == loaded.tokenizer.eos_token_id
    return EchoCompletion(
        text + generated, len(prompt.ids), 1, "stop" if ended else "length", tokens
    )


def _echo_generated(
    loaded: LoadedModel,
    prompt: EchoPrompt,
    params: SamplingParams,
    max_new: int,
    top: int,
    token_budget: int,
) -> EchoCompletion:
    """Generate, then score prompt + generated tokens in one pass."""
    made = generate(loaded, prompt.ids, params, max_new)
    whole = score_prompts(loaded, [prompt.ids + made.token_ids], top, token_budget=token_budget)[0]
    tokens = _scored_tokens(loaded.tokenizer, whole.token_ids, whole.logprobs, whole.top)
    return EchoCompletion(
        _prompt_text(loaded, prompt) + made.text,
        len(prompt.ids),
        made.completion_tokens,
        made.finish_reason,
        tokens,
    )


def _scored_tokens(
    tokenizer: Any,
    ids: Sequence[int],
    logprobs: Sequence[float | None],
    tops: Sequence[Sequence[tuple[int, float]]],
) -> list[ScoredToken]:
    """Decoded tokens; each position's alternatives list the token itself first, then the
    best ones (OpenAI's "up to logprobs + 1 entries", as vLLM sends them)."""
    out = []
    for token_id, logprob, alternatives in zip(ids, logprobs, tops, strict=True):
        token = tokenizer.decode([token_id])
        if logprob is None:
            out.append(ScoredToken(token, None, None))
            continue
        entries = [(token, logprob)]
        entries += [(tokenizer.decode([i]), v) for i, v in alternatives if i != token_id]
        out.append(ScoredToken(token, _floor(logprob), tuple((t, _floor(v)) for t, v in entries)))
    return out


def _floor(value: float) -> float:
    return max(value, LOGPROB_FLOOR)


def completion_logprobs(tokens: Sequence[ScoredToken], text_offset: int = 0) -> dict[str, Any]:
    """``choices[].logprobs`` of a legacy completion: ``tokens``, ``token_logprobs`` (None
    for the first prompt token), ``top_logprobs`` (None there too) and ``text_offset``, each
    token's start in the choice's text (0 for the first token of an echoed prompt)."""
    offsets = []
    for token in tokens:
        offsets.append(text_offset)
        text_offset += len(token.token)
    return {
        "tokens": [t.token for t in tokens],
        "token_logprobs": [t.logprob for t in tokens],
        "top_logprobs": [dict(t.top) if t.top is not None else None for t in tokens],
        "text_offset": offsets,
    }
