"""Text generation with a loaded causal LM: prompts, token budgets, stop strings, streaming.

Pure Python + torch + transformers (no Django), so it can be tested and benchmarked alone.
Greedy decoding when ``temperature`` is 0, sampling otherwise. Streaming runs ``generate`` in a
thread feeding a ``TextIteratorStreamer``; the consumer can stop it early (stop string found,
client gone) through a shared event checked at every step.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

from serving.sampling import SamplingParams


class ContextLengthExceeded(ValueError):
    """The prompt (plus the requested completion) does not fit the model's context."""

    def __init__(self, limit: int, prompt_tokens: int, requested: int | None) -> None:
        super().__init__(f"context {limit} < prompt {prompt_tokens} + completion {requested}")
        self.limit = limit
        self.prompt_tokens = prompt_tokens
        self.requested = requested


@dataclass
class LoadedModel:
    """A model ready to generate: weights in memory (never written back to disk)."""

    name: str
    model: Any
    tokenizer: Any
    context_length: int
    device: torch.device


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token, its log probability under the model (before sampling settings
    reshape the distribution, as OpenAI reports it) and the ``top`` most likely alternatives."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass
class Completion:
    """The outcome of one generation; ``logprobs`` only when asked for. ``token_ids`` holds
    every generated token, also those past a stop string and the end-of-sequence token."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    logprobs: list[TokenLogprob] | None = None
    token_ids: list[int] = field(default_factory=list)


def context_length_of(model: Any, tokenizer: Any) -> int:
    """The model's context: ``max_position_embeddings``, else the tokenizer's limit, else 2048."""
    value = getattr(model.config, "max_position_embeddings", None)
    if isinstance(value, int) and value > 0:
        return value
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 1_000_000 else 2048


def chat_prompt_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """Token ids asking for the next assistant turn: the chat template when the tokenizer has
    one, else the plain ``Role: content`` rendering training uses for such tokenizers."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:
        lines = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages)
        text = (tokenizer.bos_token or "") + lines + "Assistant: "
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def completion_prompt_ids(tokenizer: Any, prompt: str) -> list[int]:
    """Token ids of a raw completion prompt, with the tokenizer's own special tokens."""
    return list(tokenizer(prompt)["input_ids"])


def plan_max_new_tokens(prompt_tokens: int, requested: int | None, context: int, cap: int) -> int:
    """How many tokens may be generated. Raises ContextLengthExceeded when the prompt leaves no
    room, or when an explicit ``requested`` does not fit (as OpenAI does). ``requested`` 0 (an
    echoed prompt scored, nothing generated) only needs the prompt to fit."""
    room = context - prompt_tokens
    if requested == 0:
        if room < 0:
            raise ContextLengthExceeded(context, prompt_tokens, requested)
        return 0
    if room <= 0:
        raise ContextLengthExceeded(context, prompt_tokens, requested)
    if requested is not None:
        if requested > room:
            raise ContextLengthExceeded(context, prompt_tokens, requested)
        return min(requested, cap)
    return min(room, cap)


class StopScanner:
    """Cuts streamed text at the first stop string, holding back any tail that could still
    become one, so no part of a stop string is ever emitted."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(s for s in stops if s)
        self.pending = ""
        self.stopped = False

    def feed(self, piece: str) -> str:
        """Text that is safe to emit now ('' once a stop string was seen)."""
        if self.stopped:
            return ""
        self.pending += piece
        if not self.stops:
            out, self.pending = self.pending, ""
            return out
        hits = [i for i in (self.pending.find(s) for s in self.stops) if i >= 0]
        if hits:
            self.stopped = True
            out, self.pending = self.pending[: min(hits)], ""
            return out
        keep = self._partial_tail()
        out = self.pending[: len(self.pending) - keep]
        self.pending = self.pending[len(self.pending) - keep :]
        return out

    def finish(self) -> str:
        """The text held back when generation ended without a stop string."""
        out, self.pending = ("" if self.stopped else self.pending), ""
        return out

    def _partial_tail(self) -> int:
        """Length of the longest suffix of ``pending`` that is a proper prefix of a stop."""
        best = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(self.pending)), best, -1):
                if self.pending.endswith(stop[:size]):
                    best = size
                    break
        return best


class _Monitor(StoppingCriteria):
    """Stops generation when ``stop_event`` is set (stop string seen, client gone)."""

    def __init__(self, stop_event: threading.Event) -> None:
        self.stop_event = stop_event

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        flag = self.stop_event.is_set()
        return torch.full((input_ids.shape[0],), flag, dtype=torch.bool, device=input_ids.device)


class _StopStrings(StoppingCriteria):
    """Stops a non-streamed generation once its new text contains a stop string."""

    def __init__(self, tokenizer: Any, prompt_len: int, stops: tuple[str, ...]) -> None:
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.stops = stops

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        text = self.tokenizer.decode(input_ids[0, self.prompt_len :], skip_special_tokens=True)
        flag = any(stop in text for stop in self.stops)
        return torch.full((input_ids.shape[0],), flag, dtype=torch.bool, device=input_ids.device)


def _generate_kwargs(
    loaded: LoadedModel, prompt_ids: list[int], params: SamplingParams, max_new: int
) -> dict[str, Any]:
    input_ids = torch.tensor([prompt_ids], dtype=torch.long, device=loaded.device)
    tokenizer = loaded.tokenizer
    kwargs: dict[str, Any] = {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "max_new_tokens": max_new,
        "pad_token_id": tokenizer.pad_token_id
        if tokenizer.pad_token_id is not None
        else tokenizer.eos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    if params.temperature > 0:
        kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=0)
    else:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    return kwargs


# Seeded sampling swaps the process's random state for the request's: one at a time.
_SEED_LOCK = threading.Lock()


@contextmanager
def _seeded(params: SamplingParams) -> Iterator[None]:
    """Run the block with the RNG seeded from ``params.seed`` when sampling, restoring the
    previous state afterwards (so a seeded request does not make later unseeded ones
    predictable). Greedy decoding draws nothing: no seeding, no lock."""
    if params.seed is None or params.temperature <= 0:
        yield
        return
    with _SEED_LOCK, torch.random.fork_rng():
        torch.manual_seed(params.seed)
        yield


def _finish_reason(generated: list[int], eos_id: int | None, max_new: int, stopped: bool) -> str:
    if stopped or (generated and eos_id is not None and generated[-1] == eos_id):
        return "stop"
    return "length" if len(generated) >= max_new else "stop"


def generate(
    loaded: LoadedModel,
    prompt_ids: list[int],
    params: SamplingParams,
    max_new: int,
    logprobs: int | None = None,
) -> Completion:
    """Generate a whole completion (no streaming). With ``logprobs`` (a count of alternatives,
    0 for none) the completion carries each generated token's log probability."""
    kwargs = _generate_kwargs(loaded, prompt_ids, params, max_new)
    if params.stop:
        kwargs["stopping_criteria"] = StoppingCriteriaList(
            [_StopStrings(loaded.tokenizer, len(prompt_ids), params.stop)]
        )
    if logprobs is not None:
        kwargs.update(output_logits=True, return_dict_in_generate=True)
    with torch.inference_mode(), _seeded(params):
        output = loaded.model.generate(**kwargs)
    sequences = output.sequences if logprobs is not None else output
    generated = sequences[0, len(prompt_ids) :].tolist()
    scanner = StopScanner(params.stop)
    text = scanner.feed(loaded.tokenizer.decode(generated, skip_special_tokens=True))
    text += scanner.finish()
    reason = _finish_reason(generated, loaded.tokenizer.eos_token_id, max_new, scanner.stopped)
    completion = Completion(text, len(prompt_ids), len(generated), reason, token_ids=generated)
    if logprobs is not None:
        completion.logprobs = _token_logprobs(loaded.tokenizer, generated, output.logits, logprobs)
        completion.logprobs = _within(completion.logprobs, text)
    return completion


def _token_logprobs(
    tokenizer: Any, generated: list[int], logits: tuple[torch.Tensor, ...], top: int
) -> list[TokenLogprob]:
    """Log-softmax of the raw logits of each step: the chosen token's value and the ``top``
    best alternatives."""
    out: list[TokenLogprob] = []
    for token_id, step in zip(generated, logits, strict=False):
        logp = torch.log_softmax(step[0].float(), dim=-1)
        best = torch.topk(logp, top) if top else None
        alternatives = (
            tuple(
                (tokenizer.decode([int(i)]), float(v))
                for v, i in zip(best.values, best.indices, strict=True)
            )
            if best is not None
            else ()
        )
        out.append(TokenLogprob(tokenizer.decode([token_id]), float(logp[token_id]), alternatives))
    return out


def _within(tokens: list[TokenLogprob], text: str) -> list[TokenLogprob]:
    """The tokens that make up ``text``: drop those past a stop string (cut from the text)
    and special tokens such as the end-of-sequence one."""
    kept: list[TokenLogprob] = []
    length = 0
    for token in tokens:
        if length >= len(text):
            break
        kept.append(token)
        length += len(token.token)
    return kept


@dataclass
class _Run:
    """What the generation thread leaves behind."""

    output: Any = None
    error: BaseException | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)


@dataclass
class StreamResult:
    """Filled in when a stream ends: token counts and the finish reason."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"


def stream(
    loaded: LoadedModel,
    prompt_ids: list[int],
    params: SamplingParams,
    max_new: int,
    result: StreamResult,
) -> Generator[str, None, None]:
    """Yield text pieces as they are generated; ``result`` is complete when the iterator ends.

    Closing the iterator early (the client went away) stops generation at the next step.
    Errors raised by ``generate`` are re-raised here.
    """
    streamer = TextIteratorStreamer(loaded.tokenizer, skip_prompt=True, skip_special_tokens=True)
    run = _Run()
    kwargs = _generate_kwargs(loaded, prompt_ids, params, max_new)
    kwargs.update(
        streamer=streamer, stopping_criteria=StoppingCriteriaList([_Monitor(run.stop_event)])
    )
    thread = threading.Thread(
        target=_run_generate, args=(loaded, kwargs, run, streamer, params), daemon=True
    )
    scanner = StopScanner(params.stop)
    result.prompt_tokens = len(prompt_ids)
    thread.start()
    try:
        for piece in streamer:
            out = scanner.feed(piece)
            if scanner.stopped:
                run.stop_event.set()
            if out:
                yield out
        tail = scanner.finish()
        if tail:
            yield tail
    finally:
        run.stop_event.set()
        thread.join()
        if run.output is not None:  # also when the consumer left early: count what was made
            generated = run.output[0, len(prompt_ids) :].tolist()
            result.completion_tokens = len(generated)
            result.finish_reason = _finish_reason(
                generated, loaded.tokenizer.eos_token_id, max_new, scanner.stopped
            )
    if run.error is not None:
        raise run.error


def _run_generate(
    loaded: LoadedModel, kwargs: dict[str, Any], run: _Run, streamer: Any, params: SamplingParams
) -> None:
    try:
        with torch.inference_mode(), _seeded(params):
            run.output = loaded.model.generate(**kwargs)
    except BaseException as exc:  # handed to the consumer thread, which re-raises it
        run.error = exc
    finally:
        streamer.end()
