"""Record shapes, tokenization and completion-only labels."""

from __future__ import annotations

import pytest

from trainer.engine import DataError, TrainData
from trainer.engine.data import IGNORE_INDEX, record_kind, tokenize_record, tokenize_split
from trainer.engine.models import load_tokenizer


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return load_tokenizer(tiny_model_dir)


def _target_text(tokenizer, tokenized) -> str:
    return tokenizer.decode(
        [
            t
            for t, label in zip(tokenized.input_ids, tokenized.labels, strict=True)
            if label != IGNORE_INDEX
        ]
    )


def test_plain_text_trains_on_every_token_but_the_first(tokenizer):
    tokenized = tokenize_record({"text": "the quick brown fox"}, tokenizer)
    assert tokenized.labels[0] == IGNORE_INDEX
    assert tokenized.labels[1:] == tokenized.input_ids[1:]
    assert tokenized.input_ids[0] == tokenizer.bos_token_id
    assert tokenized.input_ids[-1] == tokenizer.eos_token_id


def test_prompt_completion_masks_the_prompt(tokenizer):
    tokenized = tokenize_record(
        {"prompt": "What is 2 plus 2?", "completion": "It is 4."}, tokenizer
    )
    target = _target_text(tokenizer, tokenized)
    assert target.startswith("It is 4.")
    assert "What is" not in target
    assert "<|im_end|>" in target  # the model learns to stop


def test_chat_trains_only_on_assistant_turns(tokenizer):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "hi there"},
        {"role": "user", "content": "bye"},
        {"role": "assistant", "content": "goodbye"},
    ]
    target = _target_text(tokenizer, tokenize_record({"messages": messages}, tokenizer))
    assert "hi there" in target and "goodbye" in target
    assert (
        "hello" not in target
        and "Be brief" not in target
        and "bye<" not in target.replace("goodbye", "")
    )


def test_without_chat_template_falls_back_to_plain_concatenation(tokenizer):
    plain = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    plain.chat_template = None
    tokenized = tokenize_record({"prompt": "Q?", "completion": "A!"}, plain)
    target = _target_text(plain, tokenized)
    assert target.startswith("A!")
    assert "Q?" not in target


@pytest.mark.parametrize(
    "record",
    [
        {"txt": "typo"},
        {"prompt": "only a prompt"},
        {"messages": []},
        {"messages": [{"role": "wizard", "content": "x"}]},
        {"text": 42},
        "not a dict",
    ],
)
def test_unknown_record_shape_is_refused_with_its_index(record):
    with pytest.raises(DataError, match="record 7"):
        record_kind(record, 7)


def test_records_without_targets_are_dropped_and_counted(tokenizer):
    user_only = {"messages": [{"role": "user", "content": "is anyone there?"}]}
    kept, dropped = tokenize_split([{"text": "ok go"}, user_only, {"text": "fine"}], tokenizer)
    assert (len(kept), dropped) == (2, 1)
    assert all(r.n_targets > 0 for r in kept)


def test_train_data_splits_records_on_their_split_field():
    data = TrainData.from_records(
        [
            {"text": "a", "split": "train"},
            {"text": "b", "split": "validation"},
            {"text": "c"},
            {"text": "d", "split": "test"},
        ]
    )
    assert [r["text"] for r in data.train] == ["a", "c"]
    assert data.validation == [{"text": "b"}] and data.test == [{"text": "d"}]
    with pytest.raises(DataError):
        TrainData.from_records([{"text": "e", "split": "holdout"}])
