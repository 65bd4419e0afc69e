"""Validation of ``/v1/chat/completions`` and ``/v1/completions`` bodies, as OpenAI does it.

Each parser takes the decoded JSON body and returns an ``InferenceRequest`` or raises
``OpenAIError`` (400) naming the offending parameter. No Django models, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openai_api.errors import OpenAIError, bad_request
from serving.sampling import SamplingParams

ROLES = ("system", "developer", "user", "assistant")
UNSUPPORTED = ("tools", "functions", "tool_choice", "function_call", "audio")
COMMON_PARAMS = frozenset(
    {
        "model",
        "stream",
        "stream_options",
        "n",
        "temperature",
        "top_p",
        "max_tokens",
        "stop",
        "seed",
        "logprobs",
        "user",
    }
)
CHAT_PARAMS = COMMON_PARAMS | {
    "messages",
    "max_completion_tokens",
    "top_logprobs",
    "response_format",
    *UNSUPPORTED,
}
COMPLETION_PARAMS = COMMON_PARAMS | {"prompt", "echo"}
# Parameters the server does not implement, with the values that ask for nothing (accepted:
# clients send them as defaults). Any other value is a 400 naming the parameter.
NEUTRAL_VALUES: dict[str, tuple[Any, ...]] = {
    "frequency_penalty": (0, 0.0),
    "presence_penalty": (0, 0.0),
    "logit_bias": ({},),
    "best_of": (1,),
    "store": (False,),
    "metadata": ({},),
    "parallel_tool_calls": (True, False),
    "service_tier": ("auto", "default"),
    "suffix": ("",),
}
MAX_STOPS = 4
MAX_N = 8  # choices per prompt: each one is a full generation
MAX_PROMPTS = 16  # prompts in one legacy completion request


@dataclass(frozen=True)
class InferenceRequest:
    """A validated request: ``messages`` for chat, ``prompts`` for completions (one choice
    set per prompt). ``n`` choices per prompt; ``logprobs`` None for none, else how many
    alternatives to report per token (0 reports only the chosen token's). A completion prompt
    is text, or token ids (sent as given, never re-tokenized). ``echo``: the answer repeats
    the prompt, and its log probabilities cover the prompt's tokens too (the first one
    ``null``), as lm-evaluation-harness and vLLM read them."""

    model: str
    endpoint: str
    params: SamplingParams
    stream: bool = False
    include_usage: bool = False
    messages: tuple[dict[str, str], ...] = ()
    prompts: tuple[str | tuple[int, ...], ...] = ()
    n: int = 1
    logprobs: int | None = None
    echo: bool = False


def parse_chat(body: Any) -> InferenceRequest:
    """A chat completion request; raises OpenAIError for malformed messages or parameters."""
    body = _object(body)
    _refuse_unknown(body, CHAT_PARAMS)
    _refuse_unsupported(body)
    _response_format(body)
    messages = _messages(body.get("messages"))
    stream = _stream(body)
    return InferenceRequest(
        model=_model(body),
        endpoint="chat.completions",
        params=_params(body, chat=True),
        stream=stream,
        include_usage=_include_usage(body),
        messages=messages,
        n=_n(body),
        logprobs=_chat_logprobs(body, stream),
    )


def parse_completion(body: Any) -> InferenceRequest:
    """A legacy completion request: one string prompt or a batch of up to ``MAX_PROMPTS``."""
    body = _object(body)
    _refuse_unknown(body, COMPLETION_PARAMS)
    stream = _stream(body)
    echo = _echo(body, stream)
    return InferenceRequest(
        model=_model(body),
        endpoint="completions",
        params=_params(body, chat=False, echo=echo),
        stream=stream,
        include_usage=_include_usage(body),
        prompts=_prompts(body.get("prompt")),
        n=_n(body),
        logprobs=_completion_logprobs(body, stream),
        echo=echo,
    )


PROMPT_SHAPES = (
    f"'prompt' must be a string, an array of 1 to {MAX_PROMPTS} strings, an array of token "
    f"ids, or an array of 1 to {MAX_PROMPTS} arrays of token ids."
)


def _token_ids(raw: Any) -> bool:
    return (
        isinstance(raw, list)
        and len(raw) > 0
        and all(isinstance(t, int) and not isinstance(t, bool) for t in raw)
    )


def _prompts(raw: Any) -> tuple[str | tuple[int, ...], ...]:
    """One prompt or a batch, each text or token ids (ids are checked against the model's
    vocabulary once it is loaded)."""
    if isinstance(raw, str):
        return (raw,)
    if _token_ids(raw):
        return (tuple(raw),)
    if isinstance(raw, list) and 0 < len(raw) <= MAX_PROMPTS:
        if all(isinstance(p, str) for p in raw):
            return tuple(raw)
        if all(_token_ids(p) for p in raw):
            return tuple(tuple(p) for p in raw)
    raise bad_request(PROMPT_SHAPES, param="prompt")


def _echo(body: dict[str, Any], stream: bool) -> bool:
    value = body.get("echo", False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_request("'echo' must be a boolean.", param="echo")
    if value and stream:
        raise bad_request("'echo' is supported on whole answers only, not with 'stream'.", "echo")
    return value


def _seed(body: dict[str, Any]) -> int | None:
    value = body.get("seed")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise bad_request("'seed' must be an integer between 0 and 2**63 - 1.", param="seed")
    return value


def _n(body: dict[str, Any]) -> int:
    value = body.get("n")
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_N:
        raise bad_request(f"'n' must be an integer between 1 and {MAX_N}.", param="n")
    return value


def _response_format(body: dict[str, Any]) -> None:
    """Plain text only: JSON modes need constrained decoding, which this server lacks; an
    honest 400 beats answering text the client would then fail to parse."""
    value = body.get("response_format")
    if value is None or value == {"type": "text"}:
        return
    raise bad_request(
        "Only response_format {'type': 'text'} is supported by this server.",
        param="response_format",
    )


def _chat_logprobs(body: dict[str, Any], stream: bool) -> int | None:
    """``logprobs: true`` with optional ``top_logprobs`` (0-20), as OpenAI's chat API."""
    wanted = body.get("logprobs")
    top = body.get("top_logprobs")
    if wanted not in (None, True, False):
        raise bad_request("'logprobs' must be a boolean.", param="logprobs")
    if top is not None and (
        isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= 20
    ):
        raise bad_request(
            "'top_logprobs' must be an integer between 0 and 20.", param="top_logprobs"
        )
    if top is not None and not wanted:
        raise bad_request("'top_logprobs' needs 'logprobs' set to true.", param="top_logprobs")
    return _no_stream_logprobs(top or 0, stream) if wanted else None


def _completion_logprobs(body: dict[str, Any], stream: bool) -> int | None:
    """``logprobs: k`` (0-5 alternatives per token), as OpenAI's legacy completions."""
    value = body.get("logprobs")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 5:
        raise bad_request("'logprobs' must be an integer between 0 and 5.", param="logprobs")
    return _no_stream_logprobs(value, stream)


def _no_stream_logprobs(top: int, stream: bool) -> int:
    if stream:
        raise bad_request(
            "'logprobs' is supported on whole answers only, not with 'stream'.", param="logprobs"
        )
    return top


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def _refuse_unknown(body: dict[str, Any], known: frozenset[str]) -> None:
    """A parameter this server does not implement answers 400 naming it (never silently
    ignored: ``logit_bias`` or ``frequency_penalty`` would change the answer at OpenAI),
    unless its value asks for nothing (null, or a neutral default such as a 0 penalty)."""
    for name in sorted(set(body) - known, key=str):
        value = body[name]
        if value is None:
            continue
        if name in NEUTRAL_VALUES:
            if any(type(value) is type(v) and value == v for v in NEUTRAL_VALUES[name]):
                continue
            raise bad_request(f"'{name}' is not supported by this server.", param=name)
        raise bad_request(f"Unrecognized request argument supplied: {name}", param=name)


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


def _max_tokens(body: dict[str, Any], chat: bool, echo: bool = False) -> int | None:
    """The token limit; 0 only with ``echo`` (the prompt scored, nothing generated)."""
    names = ("max_completion_tokens", "max_tokens") if chat else ("max_tokens",)
    lowest = 0 if echo else 1
    for name in names:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
            wanted = "a non-negative integer" if echo else "a positive integer (0 needs 'echo')"
            raise bad_request(f"'{name}' must be {wanted}.", param=name)
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


def _params(body: dict[str, Any], *, chat: bool, echo: bool = False) -> SamplingParams:
    return SamplingParams(
        max_tokens=_max_tokens(body, chat, echo),
        temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 0.0, 1.0) or 1.0,
        stop=_stop(body),
        seed=_seed(body),
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
