"""Validation of ``/v1/chat/completions`` and ``/v1/completions`` bodies, as OpenAI does it.

Each parser takes the decoded JSON body and returns an ``InferenceRequest`` or raises
``OpenAIError`` (400) naming the offending parameter. No Django models, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from serving.errors import OpenAIError, bad_request
from serving.generation import SamplingParams

ROLES = ("system", "developer", "user", "assistant")
UNSUPPORTED = ("tools", "functions", "tool_choice", "function_call", "response_format", "audio")
MAX_STOPS = 4


@dataclass(frozen=True)
class InferenceRequest:
    """A validated request: ``messages`` for chat, ``prompt`` for completions."""

    model: str
    endpoint: str
    params: SamplingParams
    stream: bool = False
    include_usage: bool = False
    messages: tuple[dict[str, str], ...] = ()
    prompt: str = ""


def parse_chat(body: Any) -> InferenceRequest:
    """A chat completion request; raises OpenAIError for malformed messages or parameters."""
    body = _object(body)
    _refuse_unsupported(body)
    messages = _messages(body.get("messages"))
    return InferenceRequest(
        model=_model(body),
        endpoint="chat.completions",
        params=_params(body, chat=True),
        stream=_stream(body),
        include_usage=_include_usage(body),
        messages=messages,
    )


def parse_completion(body: Any) -> InferenceRequest:
    """A legacy completion request (one string prompt)."""
    body = _object(body)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise bad_request(
            "'prompt' must be a string (batches and token arrays are not supported).",
            param="prompt",
        )
    return InferenceRequest(
        model=_model(body),
        endpoint="completions",
        params=_params(body, chat=False),
        stream=_stream(body),
        include_usage=_include_usage(body),
        prompt=prompt,
    )


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def _refuse_unsupported(body: dict[str, Any]) -> None:
    for name in UNSUPPORTED:
        if body.get(name) not in (None, [], {}):
            raise bad_request(f"'{name}' is not supported by this server.", param=name)


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise bad_request("You must provide a model parameter.", param="model")
    return model


def _messages(raw: Any) -> tuple[dict[str, str], ...]:
    if not isinstance(raw, list) or not raw:
        raise bad_request("'messages' must be a non-empty array of messages.", param="messages")
    return tuple(_message(item, i) for i, item in enumerate(raw))


def _message(item: Any, index: int) -> dict[str, str]:
    where = f"messages[{index}]"
    if not isinstance(item, dict):
        raise bad_request(f"{where} must be an object.", param=where)
    role = item.get("role")
    if role not in ROLES:
        raise bad_request(
            f"{where}.role must be one of {', '.join(ROLES)}; got {role!r}.", param=f"{where}.role"
        )
    content = _content(item.get("content"), where)
    # Templates of small models know the system role; "developer" is its newer name.
    return {"role": "system" if role == "developer" else role, "content": content}


def _content(raw: Any, where: str) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list) and raw:
        texts = []
        for part in raw:
            if not (
                isinstance(part, dict)
                and part.get("type") == "text"
                and isinstance(part.get("text"), str)
            ):
                raise bad_request(
                    f"{where}.content: only text parts are supported.", param=f"{where}.content"
                )
            texts.append(part["text"])
        return "".join(texts)
    raise bad_request(
        f"{where}.content must be a string or an array of text parts.", param=f"{where}.content"
    )


def _number(body: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise bad_request(f"'{name}' must be a number between {low} and {high}.", param=name)
    return float(value)


def _max_tokens(body: dict[str, Any], chat: bool) -> int | None:
    names = ("max_completion_tokens", "max_tokens") if chat else ("max_tokens",)
    for name in names:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad_request(f"'{name}' must be a positive integer.", param=name)
        return value
    return None if chat else 16  # OpenAI's default for legacy completions


def _stop(body: dict[str, Any]) -> tuple[str, ...]:
    value = body.get("stop")
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, list)
        or len(value) > MAX_STOPS
        or not all(isinstance(s, str) and s for s in value)
    ):
        raise bad_request(
            f"'stop' must be a string or up to {MAX_STOPS} non-empty strings.", param="stop"
        )
    return tuple(value)


def _params(body: dict[str, Any], *, chat: bool) -> SamplingParams:
    n = body.get("n")
    if n not in (None, 1):
        raise bad_request("Only n=1 is supported.", param="n")
    return SamplingParams(
        max_tokens=_max_tokens(body, chat),
        temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 0.0, 1.0) or 1.0,
        stop=_stop(body),
    )


def _stream(body: dict[str, Any]) -> bool:
    value = body.get("stream", False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_request("'stream' must be a boolean.", param="stream")
    return value


def _include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    if options is None:
        return False
    if not isinstance(options, dict):
        raise OpenAIError("'stream_options' must be an object.", param="stream_options")
    return bool(options.get("include_usage"))
