"""Answering one chat or completion request: resolve the model, apply the rate limit, load,
generate (whole or streamed), filter, then audit and count usage by metadata only.

``answer`` returns either the response body (a dict) or an iterator of server-sent events.
Every refusal is an ``OpenAIError`` with the status an OpenAI client expects.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Iterator
from contextlib import closing
from typing import TYPE_CHECKING, Any

from django.conf import settings

from audit.services import record_event
from openai_api import errors, shapes
from openai_api.requests import InferenceRequest
from ops.lazy import lazy_module
from serving import registry, services
from serving.services import Caller

if TYPE_CHECKING:
    from serving import generation, scoring
else:  # PyTorch loads with the first generation, not when the URL configuration is imported
    generation = lazy_module("serving.generation")
    scoring = lazy_module("serving.scoring")

logger = logging.getLogger(__name__)


def answer(caller: Caller, request: InferenceRequest) -> dict[str, Any] | Iterator[bytes]:
    """Run ``request`` for ``caller``. Raises OpenAIError (404, 429, 400, 500)."""
    target = _resolve(caller, request.model)
    if request.logprobs is not None and target.pii_filter:
        # Token log probabilities would spell out what the output filter removes.
        raise errors.bad_request(
            "'logprobs' is not available on a model whose answers pass the personal-data filter.",
            param="logprobs",
        )
    if request.echo and target.pii_filter:
        raise errors.bad_request(
            "'echo' is not available on a model whose answers pass the personal-data filter.",
            param="echo",
        )
    retry_after = services.consume_request(caller)
    if retry_after is not None:
        raise errors.rate_limited(caller.requests_per_minute, retry_after)
    loaded = _load(target)
    prompts = [(ids, _plan(loaded, ids, request)) for ids in _prompt_ids(loaded, request)]
    if request.stream:
        return _events(caller, target, loaded, request, prompts)
    if request.echo:
        return _whole_echo(caller, target, loaded, request, prompts)
    return _whole(caller, target, loaded, request, prompts)


def _whole_echo(
    caller: Caller,
    target: registry.ModelTarget,
    loaded: generation.LoadedModel,
    request: InferenceRequest,
    prompts: list[tuple[list[int], int]],
) -> dict[str, Any]:
    """A legacy completion with ``echo``: each choice's text starts with its prompt, and with
    ``logprobs`` every prompt token is scored too (``serving.scoring``: batched passes)."""
    echo_prompts = [
        scoring.EchoPrompt(ids, text if isinstance(text, str) else None)
        for (ids, _), text in zip(prompts, request.prompts, strict=True)
    ]
    answers = scoring.complete_with_echo(
        loaded,
        [p for p in echo_prompts for _ in range(request.n)],
        request.params,
        [max_new for _, max_new in prompts for _ in range(request.n)],
        request.logprobs,
    )
    choices = [
        shapes.text_choice(
            index,
            made.text,
            made.finish_reason,
            scoring.completion_logprobs(made.logprobs) if made.logprobs is not None else None,
        )
        for index, made in enumerate(answers)
    ]
    prompt_tokens = sum(len(ids) for ids, _ in prompts)
    completion_tokens = sum(made.completion_tokens for made in answers)
    _record(caller, target, request, prompt_tokens, completion_tokens, [a.text for a in answers])
    return shapes.text_completion(
        shapes.new_id("cmpl"), target.name, choices, prompt_tokens, completion_tokens
    )


def _whole(
    caller: Caller,
    target: registry.ModelTarget,
    loaded: generation.LoadedModel,
    request: InferenceRequest,
    prompts: list[tuple[list[int], int]],
) -> dict[str, Any]:
    """A whole answer: ``n`` choices per prompt, numbered in order."""
    chat = request.endpoint == "chat.completions"
    choices: list[dict[str, Any]] = []
    prompt_tokens = completion_tokens = 0
    for position, (ids, max_new) in enumerate(prompts):
        prompt_tokens += len(ids)
        for _ in range(request.n):
            made = generation.generate(loaded, ids, request.params, max_new, request.logprobs)
            completion_tokens += made.completion_tokens
            choices.append(_choice(request, len(choices), position, made, target))
    answers = [c["message"]["content"] if chat else c["text"] for c in choices]
    _record(caller, target, request, prompt_tokens, completion_tokens, answers)
    build = shapes.chat_completion if chat else shapes.text_completion
    cid = shapes.new_id("chatcmpl" if chat else "cmpl")
    return build(cid, target.name, choices, prompt_tokens, completion_tokens)


def _choice(
    request: InferenceRequest,
    index: int,
    position: int,
    made: generation.Completion,
    target: registry.ModelTarget,
) -> dict[str, Any]:
    text = _filtered(target, made.text)
    if request.endpoint == "chat.completions":
        logprobs = shapes.chat_logprobs(made.logprobs) if made.logprobs is not None else None
        return shapes.chat_choice(index, text, made.finish_reason, logprobs)
    prompt = request.prompts[position]
    logprobs = (
        shapes.text_logprobs(made.logprobs, len(prompt) if isinstance(prompt, str) else 0)
        if made.logprobs is not None
        else None
    )
    return shapes.text_choice(index, text, made.finish_reason, logprobs)


def _resolve(caller: Caller, name: str) -> registry.ModelTarget:
    try:
        return registry.resolve(caller.user, caller.key, name)
    except registry.ModelUnavailable as exc:
        record_event(
            caller.actor,
            "inference.query",
            object_type="serving.model",
            object_id=name[:64],
            outcome="denied",
            details={"reason": "model_not_found"},
        )
        raise errors.model_not_found(name) from exc


def _load(target: registry.ModelTarget) -> generation.LoadedModel:
    from trainer.engine import CheckpointError, ConfigError

    try:
        return registry.loaded_model(target)
    except registry.ModelUnavailable as exc:
        raise errors.model_not_found(target.name) from exc
    except (CheckpointError, ConfigError, OSError) as exc:
        logger.exception("model %s could not be loaded", target.name)
        raise errors.OpenAIError(
            f"The model `{target.name}` could not be loaded; an administrator can see why in "
            "the server log.",
            status_code=500,
            type="server_error",
            code="model_load_failed",
        ) from exc


def _prompt_ids(loaded: generation.LoadedModel, request: InferenceRequest) -> list[list[int]]:
    """Token ids of each prompt; ids sent as such are used as given, after checking that the
    model has every one of them (400 naming ``prompt`` otherwise)."""
    if request.endpoint == "chat.completions":
        return [generation.chat_prompt_ids(loaded.tokenizer, list(request.messages))]
    ids = [
        generation.completion_prompt_ids(loaded.tokenizer, p) if isinstance(p, str) else list(p)
        for p in request.prompts
    ]
    try:
        scoring.check_token_ids(loaded, ids)
    except scoring.InvalidTokenIds as exc:
        raise errors.bad_request(f"'prompt': {exc}.", param="prompt") from exc
    return ids


def _plan(loaded: generation.LoadedModel, prompt_ids: list[int], request: InferenceRequest) -> int:
    try:
        return generation.plan_max_new_tokens(
            len(prompt_ids),
            request.params.max_tokens,
            loaded.context_length,
            settings.SERVING_MAX_TOKENS,
        )
    except generation.ContextLengthExceeded as exc:
        error = errors.context_length_exceeded(exc.limit, exc.prompt_tokens, exc.requested)
        if request.endpoint == "completions":
            error.param = "prompt"
        raise error from exc


def _filtered(target: registry.ModelTarget, text: str) -> str:
    if not target.pii_filter:
        return text
    from serving.pii_filter import redact_completion

    return redact_completion(text)[0]


def _record(
    caller: Caller,
    target: registry.ModelTarget,
    request: InferenceRequest,
    prompt_tokens: int,
    completion_tokens: int,
    answers: list[str],
) -> None:
    """Audit and count the query by metadata; keep its text, encrypted, only for a deployment
    while ``SERVING_LOG_CONTENT`` is on."""
    services.record_query(
        caller,
        model_name=target.name,
        deployment=target.deployment,
        endpoint=request.endpoint,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
    )
    if settings.SERVING_LOG_CONTENT and target.deployment is not None:
        asked: dict[str, Any] = (
            {"messages": list(request.messages)}
            if request.endpoint == "chat.completions"
            else {"prompts": [p if isinstance(p, str) else list(p) for p in request.prompts]}
        )
        services.store_query_content(
            caller, target.deployment, request.endpoint, {**asked, "answers": answers}
        )


# --- streaming ----------------------------------------------------------------------------


class _Stream:
    """Builds the chunks of one stream (chat or legacy completion); choices are numbered."""

    def __init__(self, request: InferenceRequest, model: str) -> None:
        self.chat = request.endpoint == "chat.completions"
        self.id = shapes.new_id("chatcmpl" if self.chat else "cmpl")
        self.created = int(time.time())
        self.model = model
        self.object = "chat.completion.chunk" if self.chat else "text_completion"

    def first(self, index: int) -> bytes | None:
        if not self.chat:
            return None
        delta = {"role": "assistant", "content": "", "refusal": None}
        return shapes.sse(shapes.chat_chunk(self.id, self.created, self.model, delta, None, index))

    def text(self, index: int, piece: str) -> bytes:
        if self.chat:
            delta = {"content": piece}
            return shapes.sse(
                shapes.chat_chunk(self.id, self.created, self.model, delta, None, index)
            )
        return shapes.sse(shapes.text_chunk(self.id, self.created, self.model, piece, None, index))

    def last(self, index: int, finish_reason: str) -> bytes:
        if self.chat:
            return shapes.sse(
                shapes.chat_chunk(self.id, self.created, self.model, {}, finish_reason, index)
            )
        return shapes.sse(
            shapes.text_chunk(self.id, self.created, self.model, "", finish_reason, index)
        )

    def usage(self, prompt: int, completion: int) -> bytes:
        return shapes.sse(
            shapes.usage_chunk(self.id, self.created, self.model, self.object, prompt, completion)
        )


def _events(
    caller: Caller,
    target: registry.ModelTarget,
    loaded: generation.LoadedModel,
    request: InferenceRequest,
    prompts: list[tuple[list[int], int]],
) -> Iterator[bytes]:
    """Server-sent events of a stream, ending with ``data: [DONE]``: the ``n`` choices of each
    prompt one after the other, each with its index. Usage and the audit entry are written
    when the stream ends, also when the client leaves early."""
    chunks = _Stream(request, target.name)
    totals = generation.StreamResult()
    sent: list[list[str]] = []  # the pieces each choice sent, in choice order
    try:
        for ids, max_new in prompts:
            totals.prompt_tokens += len(ids)
            for _ in range(request.n):
                sent.append([])
                yield from _choice_events(
                    chunks, len(sent) - 1, target, loaded, ids, request, max_new, totals, sent[-1]
                )
        if request.include_usage:
            yield chunks.usage(totals.prompt_tokens, totals.completion_tokens)
    except Exception:  # headers are sent: the error travels as an event, as OpenAI does it
        logger.exception("stream for %s failed", target.name)
        yield shapes.sse(
            errors.OpenAIError(
                "The server had an error while generating.", status_code=500, type="server_error"
            ).body()
        )
    finally:
        answers = ["".join(pieces) for pieces in sent]
        _record(caller, target, request, totals.prompt_tokens, totals.completion_tokens, answers)
    yield shapes.sse("[DONE]")


def _choice_events(
    chunks: _Stream,
    index: int,
    target: registry.ModelTarget,
    loaded: generation.LoadedModel,
    prompt_ids: list[int],
    request: InferenceRequest,
    max_new: int,
    totals: generation.StreamResult,
    parts: list[str],
) -> Iterator[bytes]:
    """The chunks of one choice; its tokens are added to ``totals`` and the text it sent to
    ``parts``, however it ends."""
    result = generation.StreamResult(prompt_tokens=len(prompt_ids))
    try:
        first = chunks.first(index)
        if first:
            yield first
        pieces: Generator[str, None, None] = generation.stream(
            loaded, prompt_ids, request.params, max_new, result
        )
        if target.pii_filter:  # detection needs the whole text: deliver it in one piece
            text = _filtered(target, "".join(pieces))
            if text:
                parts.append(text)
                yield chunks.text(index, text)
        else:
            with closing(pieces):
                for piece in pieces:
                    parts.append(piece)
                    yield chunks.text(index, piece)
        yield chunks.last(index, result.finish_reason)
    finally:
        totals.completion_tokens += result.completion_tokens
