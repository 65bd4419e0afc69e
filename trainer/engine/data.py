"""Records -> token ids and per-token labels.

Examples (the supervised objective) come in three shapes: `{"text"}` (causal LM on every token),
`{"prompt", "completion"}` and `{"messages": [...]}`. The last two go through the tokenizer's chat
template (or a plain "User:/Assistant:" concatenation when it has none) and only completion /
assistant tokens get a label; every other label is -100. Labels are *unshifted*: labels[i] is the
token at i when it is a target. The first label of every record is always -100 because nothing
precedes it, which is what makes a packed row compute exactly the same loss as the records run
one by one.

Preferences (dpo, orpo, kto; recipes/preference.py) come in two: `{"chosen", "rejected"}` pairs
and unpaired `{"completion", "label": true|false}`, each with a prompt given as `"prompt"` (text,
a user turn) or `"messages"` (the conversation so far). An answer is tokenized as the last
assistant turn of the prompt's conversation (`tokenize_answer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import registry

IGNORE_INDEX = -100
_ROLES = ("system", "user", "assistant", "tool")


class DataError(ValueError):
    """A record has an unknown shape or cannot be tokenized; the message names the record."""


@dataclass
class TrainData:
    """The splits of one job, as lists of plain record dicts."""

    train: list[dict[str, Any]]
    validation: list[dict[str, Any]] = field(default_factory=list)
    test: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_records(cls, records: Sequence[dict[str, Any]]) -> TrainData:
        """Split records on their "split" field (train / validation / test; missing = train).

        Raises DataError for an unknown split name. The "split" key is removed from the copies.
        """
        splits: dict[str, list[dict[str, Any]]] = {"train": [], "validation": [], "test": []}
        for index, record in enumerate(records):
            name = record.get("split", "train") if isinstance(record, dict) else None
            if name not in splits:
                raise DataError(f"record {index}: unknown split {name!r}")
            splits[name].append({k: v for k, v in record.items() if k != "split"})
        return cls(**splits)


@dataclass(frozen=True)
class TokenizedRecord:
    """Token ids of one record and the unshifted labels (-100 = no loss on this token)."""

    input_ids: list[int]
    labels: list[int]

    @property
    def n_targets(self) -> int:
        return sum(1 for label in self.labels[1:] if label != IGNORE_INDEX)


def record_kind(record: object, index: int = 0) -> str:
    """The shape of a record, in the registry's words: 'text', 'prompt_completion', 'chat',
    'preference' or 'unpaired_preference'; DataError for anything else."""
    if not isinstance(record, dict):
        raise DataError(f"record {index}: expected an object, got {type(record).__name__}")
    if isinstance(record.get("text"), str):
        return registry.TEXT
    if "chosen" in record or "label" in record:
        return _preference_kind(record, index)
    if isinstance(record.get("prompt"), str) and isinstance(record.get("completion"), str):
        return registry.PROMPT_COMPLETION
    if _is_conversation(record.get("messages")):
        return registry.CHAT
    raise DataError(
        f"record {index}: expected {{'text'}}, {{'prompt','completion'}} or {{'messages': [...]}}"
        " with string values"
    )


def _preference_kind(record: dict[str, Any], index: int) -> str:
    has_prompt = isinstance(record.get("prompt"), str) or _is_conversation(record.get("messages"))
    pair = isinstance(record.get("chosen"), str) and isinstance(record.get("rejected"), str)
    if has_prompt and pair:
        return registry.PREFERENCE
    unpaired = isinstance(record.get("completion"), str) and isinstance(record.get("label"), bool)
    if has_prompt and unpaired:
        return registry.UNPAIRED_PREFERENCE
    raise DataError(
        f"record {index}: expected {{'prompt' or 'messages', 'chosen', 'rejected'}} or "
        "{'prompt' or 'messages', 'completion', 'label': true|false} with string answers"
    )


def _is_conversation(messages: object) -> bool:
    return isinstance(messages, list) and bool(messages) and all(_is_message(m) for m in messages)


def _is_message(message: object) -> bool:
    return (
        isinstance(message, dict)
        and message.get("role") in _ROLES
        and isinstance(message.get("content"), str)
    )


def as_messages(record: dict[str, Any]) -> list[dict[str, str]]:
    """A completion or chat record as a chat message list."""
    if "messages" in record and record_kind(record) == registry.CHAT:
        return [{"role": m["role"], "content": m["content"]} for m in record["messages"]]
    return [
        {"role": "user", "content": record["prompt"]},
        {"role": "assistant", "content": record["completion"]},
    ]


def prompt_messages(record: dict[str, Any]) -> list[dict[str, str]]:
    """The conversation a preference record's answers reply to: its messages, or its text
    prompt as one user turn."""
    if isinstance(record.get("messages"), list):
        return [{"role": m["role"], "content": m["content"]} for m in record["messages"]]
    return [{"role": "user", "content": record["prompt"]}]


def tokenize_record(record: dict[str, Any], tokenizer: Any, index: int = 0) -> TokenizedRecord:
    """Tokenize one example into ids and unshifted labels (see module doc); raises DataError,
    also for a preference record (those train with a preference objective)."""
    kind = record_kind(record, index)
    if kind == registry.TEXT:
        return _tokenize_text(record["text"], tokenizer)
    if kind in (registry.PREFERENCE, registry.UNPAIRED_PREFERENCE):
        raise DataError(
            f"record {index}: a {kind} record, not an example; "
            f"train it with objective {' / '.join(_objectives_for(kind))}"
        )
    return _tokenize_chat(as_messages(record), tokenizer, index)


def _objectives_for(kind: str) -> list[str]:
    return [name for name, o in registry.OBJECTIVES.items() if kind in o.record_kinds]


def tokenize_answer(
    messages: list[dict[str, str]], answer: str, tokenizer: Any, index: int = 0
) -> tuple[list[int], int]:
    """Token ids of `messages` followed by the assistant turn `answer`, and where the answer
    starts: (ids, prompt_len), ids[prompt_len:] being the answer's tokens (with the template's
    end-of-turn). prompt_len == len(ids) when the answer has no token. Raises DataError."""
    turns = [*messages, {"role": "assistant", "content": answer}]
    tokenized = _tokenize_chat(turns, tokenizer, index, last_turn_only=True)
    ids, labels = tokenized.input_ids, tokenized.labels
    start = next((i for i, label in enumerate(labels) if label != IGNORE_INDEX), len(ids))
    return ids, start


def _tokenize_text(text: str, tokenizer: Any) -> TokenizedRecord:
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    if tokenizer.bos_token_id is not None:
        ids = [tokenizer.bos_token_id, *ids]
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    labels = [IGNORE_INDEX, *ids[1:]]
    return TokenizedRecord(ids, labels)


def _tokenize_chat(
    messages: list[dict[str, str]], tokenizer: Any, index: int, *, last_turn_only: bool = False
) -> TokenizedRecord:
    """Render the conversation, tokenize once with offsets, label tokens inside assistant spans
    (only the last one with `last_turn_only`)."""
    if getattr(tokenizer, "chat_template", None):
        text, spans = render_chat_with_spans(messages, tokenizer, index)
        prefix_ids: list[int] = []
    else:
        text, spans = render_plain_with_spans(messages, tokenizer)
        prefix_ids = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    if last_turn_only:
        spans = spans[-1:]
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = prefix_ids + list(encoded["input_ids"])
    labels = [IGNORE_INDEX] * len(prefix_ids)
    for token_id, (start, _end) in zip(
        encoded["input_ids"], encoded["offset_mapping"], strict=True
    ):
        inside = any(lo <= start < hi for lo, hi in spans)
        labels.append(token_id if inside else IGNORE_INDEX)
    labels[0] = IGNORE_INDEX
    return TokenizedRecord(ids, labels)


def render_chat_with_spans(
    messages: list[dict[str, str]], tokenizer: Any, index: int = 0
) -> tuple[str, list[tuple[int, int]]]:
    """Render with the chat template; return (text, [(start, end) char span per assistant turn]).

    A span runs from the end of the generation prompt to the end of the turn, so it includes the
    template's end-of-turn token (the model must learn to stop). Raises DataError when the template
    is not incremental (an earlier rendering is not a prefix of the full one).
    """
    full = _render(tokenizer, messages, add_generation_prompt=False)
    spans = []
    for turn, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prefix = _render(tokenizer, messages[:turn], add_generation_prompt=True)
        through = _render(tokenizer, messages[: turn + 1], add_generation_prompt=False)
        if not (through.startswith(prefix) and full.startswith(through)):
            raise DataError(
                f"record {index}: the chat template does not render turns incrementally"
            )
        spans.append((len(prefix), len(through)))
    return full, spans


def _render(tokenizer: Any, messages: list[dict[str, str]], *, add_generation_prompt: bool) -> str:
    text: str = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt
    )  # tokenize=False: the rendered text
    return text


def render_plain_with_spans(
    messages: list[dict[str, str]], tokenizer: Any
) -> tuple[str, list[tuple[int, int]]]:
    """Fallback for tokenizers without a chat template: 'Role: content' lines, eos after answers."""
    text, spans = "", []
    eos = tokenizer.eos_token or ""
    for message in messages:
        text += f"{message['role'].capitalize()}: "
        if message["role"] == "assistant":
            start = len(text)
            text += message["content"] + eos
            spans.append((start, len(text)))
            text += "\n"
        else:
            text += message["content"] + "\n"
    return text, spans


def plain_generation_prompt(messages: list[dict[str, str]], tokenizer: Any) -> str:
    """Prompt text that asks for the next assistant turn, matching how training rendered chats."""
    if getattr(tokenizer, "chat_template", None):
        return _render(tokenizer, messages, add_generation_prompt=True)
    text, _ = render_plain_with_spans(messages, tokenizer)
    bos = tokenizer.bos_token or ""
    return bos + text + "Assistant: "


def tokenize_split(
    records: Sequence[dict[str, Any]], tokenizer: Any
) -> tuple[list[TokenizedRecord], int]:
    """Tokenize a split; returns (records with at least one target, number dropped as empty)."""
    kept, dropped = [], 0
    for index, record in enumerate(records):
        tokenized = tokenize_record(record, tokenizer, index)
        if tokenized.n_targets == 0:
            dropped += 1
        else:
            kept.append(tokenized)
    return kept, dropped
