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
from typing import Any

from django.conf import settings

from audit.services import record_event
from serving import errors, generation, registry, services
from serving.services import Caller
from serving.v1 import shapes
from serving.v1.requests import InferenceRequest

logger = logging.getLogger(__name__)


def answer(caller: Caller, request: InferenceRequest) -> dict[str, Any] | Iterator[bytes]:
    """Run ``request`` for ``caller``. Raises OpenAIError (404, 429, 400, 500)."""
    target = _resolve(caller, request.model)
    retry_after = services.consume_request(caller)
    if retry_after is not None:
        raise errors.rate_limited(caller.requests_per_minute, retry_after)
    loaded = _load(target)
    prompt_ids = _prompt_ids(loaded, request)
    max_new = _plan(loaded, prompt_ids, request)
    if request.stream:
        return _events(caller, target, loaded, request, prompt_ids, max_new)
    completion = generation.generate(loaded, prompt_ids, request.params, max_new)
    text = _filtered(target, completion.text)
    _record(caller, target, request, completion.prompt_tokens, completion.completion_tokens)
    build = (
        shapes.chat_completion
        if request.endpoint == "chat.completions"
        else (shapes.text_completion)
    )
    prefix = "chatcmpl" if request.endpoint == "chat.completions" else "cmpl"
    return build(
        shapes.new_id(prefix),
        target.name,
        text,
        completion.finish_reason,
        completion.prompt_tokens,
        completion.completion_tokens,
    )


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


def _prompt_ids(loaded: generation.LoadedModel, request: InferenceRequest) -> list[int]:
    if request.endpoint == "chat.completions":
        return generation.chat_prompt_ids(loaded.tokenizer, list(request.messages))
    return generation.completion_prompt_ids(loaded.tokenizer, request.prompt)


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
) -> None:
    services.record_query(
        caller,
        model_name=target.name,
        deployment=target.deployment,
        endpoint=request.endpoint,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
    )


# --- streaming ----------------------------------------------------------------------------


class _Stream:
    """Builds the chunks of one stream (chat or legacy completion)."""

    def __init__(self, request: InferenceRequest, model: str) -> None:
        self.chat = request.endpoint == "chat.completions"
        self.id = shapes.new_id("chatcmpl" if self.chat else "cmpl")
        self.created = int(time.time())
        self.model = model
        self.object = "chat.completion.chunk" if self.chat else "text_completion"

    def first(self) -> bytes | None:
        if not self.chat:
            return None
        delta = {"role": "assistant", "content": "", "refusal": None}
        return shapes.sse(shapes.chat_chunk(self.id, self.created, self.model, delta))

    def text(self, piece: str) -> bytes:
        if self.chat:
            return shapes.sse(
                shapes.chat_chunk(self.id, self.created, self.model, {"content": piece})
            )
        return shapes.sse(shapes.text_chunk(self.id, self.created, self.model, piece))

    def last(self, finish_reason: str) -> bytes:
        if self.chat:
            return shapes.sse(
                shapes.chat_chunk(self.id, self.created, self.model, {}, finish_reason)
            )
        return shapes.sse(shapes.text_chunk(self.id, self.created, self.model, "", finish_reason))

    def usage(self, prompt: int, completion: int) -> bytes:
        return shapes.sse(
            shapes.usage_chunk(self.id, self.created, self.model, self.object, prompt, completion)
        )


def _events(
    caller: Caller,
    target: registry.ModelTarget,
    loaded: generation.LoadedModel,
    request: InferenceRequest,
    prompt_ids: list[int],
    max_new: int,
) -> Iterator[bytes]:
    """Server-sent events of a stream, ending with ``data: [DONE]``. Usage and the audit entry
    are written when the stream ends, also when the client leaves early."""
    chunks = _Stream(request, target.name)
    result = generation.StreamResult(prompt_tokens=len(prompt_ids))
    try:
        first = chunks.first()
        if first:
            yield first
        yield from _pieces(chunks, target, loaded, prompt_ids, request, max_new, result)
        yield chunks.last(result.finish_reason)
        if request.include_usage:
            yield chunks.usage(result.prompt_tokens, result.completion_tokens)
    except Exception:  # headers are sent: the error travels as an event, as OpenAI does it
        logger.exception("stream for %s failed", target.name)
        yield shapes.sse(
            errors.OpenAIError(
                "The server had an error while generating.", status_code=500, type="server_error"
            ).body()
        )
    finally:
        _record(caller, target, request, result.prompt_tokens, result.completion_tokens)
    yield shapes.sse("[DONE]")


def _pieces(
    chunks: _Stream,
    target: registry.ModelTarget,
    loaded: generation.LoadedModel,
    prompt_ids: list[int],
    request: InferenceRequest,
    max_new: int,
    result: generation.StreamResult,
) -> Iterator[bytes]:
    pieces: Generator[str, None, None] = generation.stream(
        loaded, prompt_ids, request.params, max_new, result
    )
    if target.pii_filter:  # detection needs the whole text: deliver it in one piece
        text = _filtered(target, "".join(pieces))
        if text:
            yield chunks.text(text)
        return
    with closing(pieces):
        for piece in pieces:
            yield chunks.text(piece)
