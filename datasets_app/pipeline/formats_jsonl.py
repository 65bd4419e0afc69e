"""JSON Lines reader: one JSON object per line in the text, prompt+completion or chat shape, or
a preference shape: ``{"prompt", "chosen", "rejected"}`` (TRL; the prompt as text or messages,
answers as text or one assistant message), OpenAI's DPO ``{"input": {"messages"},
"preferred_output", "non_preferred_output"}``, or KTO's unpaired ``{"prompt", "completion",
"label": true|false}``."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, BinaryIO

from datasets_app.pipeline.records import (
    InvalidRecord,
    Message,
    ParseOptions,
    ParseReport,
    Record,
    origin_value,
    reject_line,
    time_value,
)
from datasets_app.pipeline.textstream import LineDecoder, iter_raw_lines

SHAPE_HINT = (
    'expected a JSON object with "text", "prompt"+"completion", "messages", '
    '"prompt"+"chosen"+"rejected", "prompt"+"completion"+"label", or OpenAI\'s "input"+'
    '"preferred_output"+"non_preferred_output"'
)


class BadRow(ValueError):
    """One line/row cannot become a record; the message explains why (without quoting data)."""


def iter_jsonl(
    path: str, stream: BinaryIO, options: ParseOptions, report: ParseReport
) -> Iterator[Record]:
    """Yields one record per non-blank line; bad lines are skipped or raise ParseError.

    Sources look like ``tickets.jsonl:17``; a record's origin is its ``source`` field (or the
    field ``options.source_column`` names) when present. Memory: one line at a time.
    """
    decoder = LineDecoder(path, report)
    for line_no, raw in iter_raw_lines(stream, path=path, options=options, report=report):
        line = decoder.decode(raw)
        if not line.strip():
            continue
        try:
            yield record_from_json(
                line,
                source=f"{path}:{line_no}",
                text_columns=options.text_columns,
                origin_field=options.source_column or "source",
            )
        except BadRow as exc:
            reject_line(str(exc), path=path, line=line_no, options=options, report=report)


def record_from_json(
    line: str, *, source: str, text_columns: list[str] | None, origin_field: str = "source"
) -> Record:
    """Parses one JSON line into a record whose origin is the ``origin_field`` value (see
    ``origin_value``) and whose time is its ``timestamp`` field (``time_value``); raises
    BadRow for invalid JSON or shape."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadRow(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise BadRow("invalid JSON (nested too deeply)") from None
    if not isinstance(obj, dict):
        raise BadRow(SHAPE_HINT)
    record = record_from_mapping(obj, source=source, text_columns=text_columns)
    origin, when = origin_value(obj.get(origin_field)), time_value(obj.get("timestamp"))
    if origin or when:
        return dataclasses.replace(record, origin=origin, origin_time=when)
    return record


def record_from_mapping(
    obj: Mapping[str, Any], *, source: str, text_columns: list[str] | None
) -> Record:
    """Maps an object to a record. Precedence: text_columns, messages, prompt/completion, text.

    Raises BadRow with a user-facing reason when no rule fits or a value has the wrong type.
    """
    if text_columns:
        return Record(kind="text", text=_join_columns(obj, text_columns), source=source)
    if _is_preference(obj):
        return preference_record(obj, source=source)
    if "messages" in obj:
        return Record(kind="chat", messages=parse_messages(obj["messages"]), source=source)
    if "prompt" in obj or "completion" in obj:
        if "prompt" not in obj or "completion" not in obj:
            raise BadRow(f'{SHAPE_HINT} (found only one of "prompt"/"completion")')
        prompt, completion = _string(obj, "prompt"), _string(obj, "completion")
        return Record(kind="prompt_completion", prompt=prompt, completion=completion, source=source)
    if "text" in obj:
        return Record(kind="text", text=_string(obj, "text"), source=source)
    raise BadRow(SHAPE_HINT)


def _is_preference(obj: Mapping[str, Any]) -> bool:
    keys = ("chosen", "rejected", "label", "preferred_output", "non_preferred_output")
    return any(key in obj for key in keys)


def preference_record(obj: Mapping[str, Any], *, source: str) -> Record:
    """A preference (pair) or unpaired-preference (KTO) record from any of the shapes in the
    module docstring; raises BadRow naming the field at fault."""
    if "preferred_output" in obj or "non_preferred_output" in obj:
        return _openai_preference(obj, source)
    prompt = _prompt(obj)
    if "label" in obj:
        if not isinstance(obj["label"], bool):
            raise BadRow('"label" must be true (a good answer) or false (a bad one)')
        if "completion" not in obj:
            raise BadRow('an answer with a "label" needs its "completion"')
        completion = _answer(obj, "completion")
        return Record(
            kind="unpaired_preference",
            completion=completion,
            label=obj["label"],
            **prompt,
            source=source,
        )
    if "chosen" not in obj or "rejected" not in obj:
        raise BadRow('a preference needs both "chosen" and "rejected"')
    chosen, rejected = _answer(obj, "chosen"), _answer(obj, "rejected")
    return Record(kind="preference", chosen=chosen, rejected=rejected, **prompt, source=source)


def _openai_preference(obj: Mapping[str, Any], source: str) -> Record:
    """OpenAI's DPO line: {"input": {"messages": [...]}, "preferred_output": [assistant message],
    "non_preferred_output": [assistant message]}."""
    conversation = obj.get("input")
    if not isinstance(conversation, Mapping) or "messages" not in conversation:
        raise BadRow('"input" must be an object with "messages"')
    for key in ("preferred_output", "non_preferred_output"):
        if key not in obj:
            raise BadRow(f'a preference needs "{key}"')
    return Record(
        kind="preference",
        messages=parse_messages(conversation["messages"]),
        chosen=_answer(obj, "preferred_output"),
        rejected=_answer(obj, "non_preferred_output"),
        source=source,
    )


def _prompt(obj: Mapping[str, Any]) -> dict[str, Any]:
    """{"prompt": text} or {"messages": conversation}: a prompt as text, as a list of messages
    (TRL's conversational form), or the conversation under "messages"."""
    if ("prompt" in obj) == ("messages" in obj):
        raise BadRow('a preference needs a "prompt" (text or messages) or "messages", not both')
    if "messages" in obj:
        return {"messages": parse_messages(obj["messages"])}
    if isinstance(obj["prompt"], list):
        return {"messages": parse_messages(obj["prompt"])}
    return {"prompt": _string(obj, "prompt")}


def _answer(obj: Mapping[str, Any], key: str) -> str:
    """An answer given as text or as a list holding one assistant message."""
    value = obj[key]
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        messages = parse_messages(value)
        if len(messages) == 1 and messages[0].role == "assistant":
            return messages[0].content
    raise BadRow(f'"{key}" must be a string or a list holding one assistant message')


def parse_messages(value: object) -> tuple[Message, ...]:
    """Validates a chat ``messages`` value; content may be a string or a list of text parts."""
    if not isinstance(value, list) or not value:
        raise BadRow('"messages" must be a non-empty list')
    messages = []
    for number, item in enumerate(value, start=1):
        if not isinstance(item, dict) or "role" not in item or "content" not in item:
            raise BadRow(f'message {number}: expected an object with "role" and "content"')
        try:
            messages.append(Message(role=item["role"], content=_content_text(item["content"])))
        except (InvalidRecord, BadRow) as exc:
            raise BadRow(f"message {number}: {exc}") from None
    return tuple(messages)


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    # OpenAI-style content parts: [{"type": "text", "text": "..."}]
    if isinstance(content, list) and all(_is_text_part(part) for part in content):
        return "".join(part["text"] for part in content)
    raise BadRow('"content" must be a string or a list of text parts')


def _is_text_part(part: object) -> bool:
    return (
        isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
    )


def _string(obj: Mapping[str, Any], key: str) -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise BadRow(f'"{key}" must be a string')
    return value


def _join_columns(obj: Mapping[str, Any], columns: Sequence[str]) -> str:
    parts = []
    for column in columns:
        if column not in obj:
            raise BadRow(f'field "{column}" is missing')
        value = obj[column]
        if value is None:
            continue
        if not isinstance(value, str):
            raise BadRow(f'field "{column}" must be a string')
        if value:
            parts.append(value)
    return "\n\n".join(parts)
