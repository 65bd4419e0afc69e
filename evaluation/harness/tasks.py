"""lm-eval tasks built in memory: from a checked bundle, or from a dataset's test split.

``lm_eval_task`` turns a ``BundleTask`` into lm-eval's ``ConfigurableTask`` whose
``custom_dataset`` hands over the bundle's splits as in-memory ``datasets.Dataset`` objects, so
lm-eval never calls ``datasets.load_dataset`` (no hub, no files, no Arrow cache).

``task_from_records`` builds a bundle task from the platform's own records (the approved test
split of a dataset): multiple choice when the records carry ``choices``, generation scored by
exact match when they are prompt/completion or chat records, and perplexity (rolling log
likelihood) when they are plain text. Its data holds customer text: keep it in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from evaluation.harness.bundle import BundleTask
from evaluation.harness.task_config import TASK_NAME

RenderPrompt = Callable[[list[dict[str, str]]], str]


def lm_eval_task(task: BundleTask) -> Any:
    """lm-eval's ``ConfigurableTask`` over ``task``'s in-memory splits."""
    import datasets
    from datasets.table import InMemoryTable
    from lm_eval.api.task import ConfigurableTask

    data = datasets.DatasetDict(
        {name: datasets.Dataset(InMemoryTable(table)) for name, table in task.splits.items()}
    )

    def in_memory(**_settings: Any) -> Any:
        return data

    return ConfigurableTask(config={**task.config, "custom_dataset": in_memory})


class RecordsUnusable(ValueError):
    """No record of the split can be scored (the message says what records are needed)."""


@dataclass(frozen=True)
class BuiltTask:
    """A task built from records, and how many records it left out (and why)."""

    task: BundleTask
    kind: str
    used: int
    skipped: int


def task_from_records(
    name: str,
    records: Sequence[dict[str, Any]],
    render_prompt: RenderPrompt,
    *,
    max_gen_toks: int = 128,
) -> BuiltTask:
    """A task over ``records`` (the platform's record shapes, see ``trainer.engine.data``).

    Multiple choice when any record has ``choices`` (a list of at least two strings) and an
    answer (``answer``: an index or one of the choices, else ``completion`` among the
    choices); generation with exact match (case-insensitive, surrounding space ignored) for
    prompt/completion and chat records; perplexity when every record is plain text.
    ``render_prompt`` turns chat messages into the model's prompt text (its chat template).
    Raises RecordsUnusable, or ValueError for a bad ``name``.
    """
    if not TASK_NAME.match(name):
        raise ValueError(f"task name {name!r} is not valid")
    if any("choices" in r for r in records):
        docs = [d for d in (_choice_doc(r, render_prompt) for r in records) if d is not None]
        kind, config = "multiple_choice", _choice_config(name)
    elif records and all(isinstance(r.get("text"), str) for r in records):
        docs = [{"text": r["text"]} for r in records]
        kind, config = "perplexity", _perplexity_config(name)
    else:
        docs = [d for d in (_generation_doc(r, render_prompt) for r in records) if d is not None]
        kind, config = "generation", _generation_config(name, max_gen_toks)
    if not docs:
        raise RecordsUnusable(
            "no record can be scored: multiple choice needs 'choices' and an 'answer', "
            "generation needs prompt/completion or chat records"
        )
    task = BundleTask(name, "records", config, {"test": pa.Table.from_pylist(docs)})
    return BuiltTask(task, kind, len(docs), len(records) - len(docs))


def _prompt_messages(record: dict[str, Any]) -> tuple[list[dict[str, str]], str | None] | None:
    """(messages asking for the answer, the reference answer) of a completion or chat record."""
    from trainer.engine.data import DataError, as_messages, record_kind

    try:
        if record_kind(record) == "text":
            return None
    except DataError:
        if isinstance(record.get("prompt"), str):
            return [{"role": "user", "content": record["prompt"]}], None
        return None
    messages = as_messages(record)
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
    if last is None:
        return messages, None
    return messages[:last], messages[last]["content"]


def last_user_turn(record: dict[str, Any]) -> str | None:
    """The last user message of a completion or chat record (what a person would ask a model
    with it), or None for plain text and records without one."""
    asked = _prompt_messages(record)
    if asked is None:
        return None
    users = [m["content"] for m in asked[0] if m.get("role") == "user" and m["content"].strip()]
    return users[-1] if users else None


def _generation_doc(record: dict[str, Any], render: RenderPrompt) -> dict[str, Any] | None:
    asked = _prompt_messages(record)
    if asked is None or asked[1] is None:
        return None
    return {"prompt": render(asked[0]), "reference": asked[1]}


def _choice_doc(record: dict[str, Any], render: RenderPrompt) -> dict[str, Any] | None:
    choices = record.get("choices")
    if not (
        isinstance(choices, list) and len(choices) >= 2 and all(isinstance(c, str) for c in choices)
    ):
        return None
    asked = _prompt_messages({k: v for k, v in record.items() if k != "choices"})
    if asked is None:
        return None
    answer = _answer_index(record, choices, asked[1])
    if answer is None:
        return None
    return {"prompt": render(asked[0]), "choices": choices, "answer": answer}


def _answer_index(record: dict[str, Any], choices: list[str], completion: str | None) -> int | None:
    answer = record.get("answer", completion)
    if isinstance(answer, int) and not isinstance(answer, bool):
        return answer if 0 <= answer < len(choices) else None
    if isinstance(answer, str) and answer in choices:
        return choices.index(answer)
    return None


def _choice_config(name: str) -> dict[str, Any]:
    # The rendered prompt ends where the answer starts: no delimiter in between.
    return {
        "task": name,
        "output_type": "multiple_choice",
        "test_split": "test",
        "doc_to_text": "prompt",
        "doc_to_choice": "choices",
        "doc_to_target": "answer",
        "target_delimiter": "",
        "num_fewshot": 0,
        "metric_list": [
            {"metric": "acc", "aggregation": "mean", "higher_is_better": True},
            {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True},
        ],
    }


def _generation_config(name: str, max_gen_toks: int) -> dict[str, Any]:
    # No stop text beyond the end-of-sequence one the model adds: answers may span lines.
    return {
        "task": name,
        "output_type": "generate_until",
        "test_split": "test",
        "doc_to_text": "prompt",
        "doc_to_target": "reference",
        "target_delimiter": "",
        "num_fewshot": 0,
        "generation_kwargs": {"until": [], "max_gen_toks": max_gen_toks, "do_sample": False},
        "metric_list": [
            {
                "metric": "exact_match",
                "aggregation": "mean",
                "higher_is_better": True,
                "ignore_case": True,
                "regexes_to_ignore": [r"^\s+", r"\s+$"],
            }
        ],
    }


def _perplexity_config(name: str) -> dict[str, Any]:
    return {
        "task": name,
        "output_type": "loglikelihood_rolling",
        "test_split": "test",
        "doc_to_text": "",
        "doc_to_target": "text",
        "num_fewshot": 0,
    }
