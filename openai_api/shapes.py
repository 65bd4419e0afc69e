"""Response bodies of the OpenAI-compatible API, field for field as OpenAI sends them."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

FINGERPRINT = "soberana"


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def chat_choice(
    index: int, text: str, finish_reason: str, logprobs: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One choice of a whole chat completion."""
    message = {"role": "assistant", "content": text, "refusal": None}
    return {
        "index": index,
        "message": message,
        "logprobs": logprobs,
        "finish_reason": finish_reason,
    }


def text_choice(
    index: int, text: str, finish_reason: str, logprobs: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One choice of a whole legacy completion."""
    return {"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish_reason}


def chat_completion(
    cid: str, model: str, choices: list[dict[str, Any]], prompt: int, completion: int
) -> dict[str, Any]:
    """A whole ``chat.completion`` object."""
    return _whole(cid, "chat.completion", model, choices, prompt, completion)


def text_completion(
    cid: str, model: str, choices: list[dict[str, Any]], prompt: int, completion: int
) -> dict[str, Any]:
    """A whole legacy ``text_completion`` object."""
    return _whole(cid, "text_completion", model, choices, prompt, completion)


def _whole(
    cid: str, obj: str, model: str, choices: list[dict[str, Any]], prompt: int, completion: int
) -> dict[str, Any]:
    return {
        "id": cid,
        "object": obj,
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": choices,
        "usage": usage(prompt, completion),
    }


def chat_logprobs(tokens: list[Any]) -> dict[str, Any]:
    """``choices[].logprobs`` of a chat completion from ``generation.TokenLogprob`` items."""

    def entry(token: str, logprob: float) -> dict[str, Any]:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}

    return {
        "content": [
            {**entry(t.token, t.logprob), "top_logprobs": [entry(a, lp) for a, lp in t.top]}
            for t in tokens
        ],
        "refusal": None,
    }


def text_logprobs(tokens: list[Any], offset: int) -> dict[str, Any]:
    """``choices[].logprobs`` of a legacy completion; ``offset`` is where the completion starts
    in prompt + completion (OpenAI counts text offsets from the prompt's start)."""
    offsets = []
    for token in tokens:
        offsets.append(offset)
        offset += len(token.token)
    return {
        "tokens": [t.token for t in tokens],
        "token_logprobs": [t.logprob for t in tokens],
        "top_logprobs": [dict(t.top) for t in tokens] if any(t.top for t in tokens) else None,
        "text_offset": offsets,
    }


def chat_chunk(
    cid: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    finish_reason: str | None = None,
    index: int = 0,
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` of a stream."""
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [
            {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        ],
    }


def text_chunk(
    cid: str,
    created: int,
    model: str,
    text: str,
    finish_reason: str | None = None,
    index: int = 0,
) -> dict[str, Any]:
    """One chunk of a streamed legacy completion (the same object type as the whole one)."""
    return {
        "id": cid,
        "object": "text_completion",
        "created": created,
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [
            {"index": index, "text": text, "logprobs": None, "finish_reason": finish_reason}
        ],
    }


def usage_chunk(
    cid: str, created: int, model: str, obj: str, prompt: int, completion: int
) -> dict[str, Any]:
    """The last chunk when ``stream_options.include_usage`` is set: no choices, only usage."""
    return {
        "id": cid,
        "object": obj,
        "created": created,
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [],
        "usage": usage(prompt, completion),
    }


def model_object(name: str, created: int, owned_by: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": created, "owned_by": owned_by}


def sse(payload: dict[str, Any] | str) -> bytes:
    """One server-sent event: ``data: <json>\\n\\n`` (or the literal ``[DONE]``)."""
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {data}\n\n".encode()


def list_of(items: list[dict[str, Any]], *, has_more: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"object": "list", "data": items, "has_more": has_more}
    if items:
        body["first_id"] = items[0].get("id")
        body["last_id"] = items[-1].get("id")
    return body
