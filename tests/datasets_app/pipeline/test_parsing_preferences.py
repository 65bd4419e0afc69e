"""Preference records: the common JSONL shapes parse into one record model, and every text field
(both answers included) goes through the same per-field transforms as any record."""

from __future__ import annotations

import io
import json

import pytest

from datasets_app.pipeline.cleaning import Cleaner, CleaningConfig
from datasets_app.pipeline.formats_jsonl import BadRow, record_from_json
from datasets_app.pipeline.parsing import ParseOptions, ParseReport, iter_records
from datasets_app.pipeline.records import InvalidRecord, Message, Record


def _parse(obj: dict) -> Record:
    return record_from_json(json.dumps(obj), source="p.jsonl:1", text_columns=None)


CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Where is my refund?"},
]


@pytest.mark.parametrize(
    ("line", "prompt", "messages"),
    [
        (
            {"prompt": "Where is my refund?", "chosen": "Sent today.", "rejected": "No idea."},
            "Where is my refund?",
            None,
        ),
        (
            {
                "prompt": CONVERSATION,
                "chosen": [{"role": "assistant", "content": "Sent today."}],
                "rejected": [{"role": "assistant", "content": "No idea."}],
            },
            None,
            CONVERSATION,
        ),
        (
            {"messages": CONVERSATION, "chosen": "Sent today.", "rejected": "No idea."},
            None,
            CONVERSATION,
        ),
        (
            {
                "input": {"messages": CONVERSATION, "tools": []},
                "preferred_output": [{"role": "assistant", "content": "Sent today."}],
                "non_preferred_output": [
                    {"role": "assistant", "content": [{"type": "text", "text": "No idea."}]}
                ],
            },
            None,
            CONVERSATION,
        ),
    ],
    ids=["trl-text", "trl-conversational", "messages", "openai-dpo"],
)
def test_pair_shapes_parse_into_one_preference_record(line, prompt, messages):
    record = _parse(line)
    assert record.kind == "preference"
    assert (record.chosen, record.rejected) == ("Sent today.", "No idea.")
    assert record.prompt == prompt
    assert record.messages == (tuple(Message(**m) for m in messages) if messages else None)
    assert Record.from_dict(json.loads(json.dumps(record.to_dict()))) == record


def test_unpaired_answers_parse_with_their_label():
    good = _parse({"prompt": "Hi", "completion": "Hello!", "label": True})
    bad = _parse(
        {
            "prompt": CONVERSATION,
            "completion": [{"role": "assistant", "content": "Go away."}],
            "label": False,
        }
    )
    assert (good.kind, good.label, good.prompt) == ("unpaired_preference", True, "Hi")
    assert (bad.kind, bad.label, bad.completion) == ("unpaired_preference", False, "Go away.")
    assert bad.to_dict()["label"] is False


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ({"prompt": "q", "chosen": "a"}, 'both "chosen" and "rejected"'),
        ({"chosen": "a", "rejected": "b"}, 'a "prompt"'),
        ({"prompt": "q", "messages": CONVERSATION, "chosen": "a", "rejected": "b"}, "not both"),
        ({"prompt": "q", "completion": "a", "label": 1}, '"label" must be true'),
        ({"prompt": "q", "label": True}, '"completion"'),
        (
            {
                "prompt": "q",
                "chosen": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}],
                "rejected": "c",
            },
            "one assistant message",
        ),
        (
            {"prompt": "q", "chosen": [{"role": "user", "content": "a"}], "rejected": "c"},
            "one assistant",
        ),
        ({"input": "q", "preferred_output": [], "non_preferred_output": []}, '"input" must be'),
        ({"input": {"messages": CONVERSATION}, "preferred_output": "a"}, '"non_preferred_output"'),
    ],
)
def test_a_malformed_preference_line_is_refused_naming_the_field(line, reason):
    with pytest.raises(BadRow, match=reason.replace("(", r"\(")):
        _parse(line)


def test_a_record_of_the_wrong_shape_for_its_kind_is_refused():
    with pytest.raises(InvalidRecord, match="prompt"):
        Record(kind="preference", chosen="a", rejected="b")
    with pytest.raises(InvalidRecord):
        Record(kind="unpaired_preference", prompt="q", completion="a", label="yes")  # type: ignore[arg-type]


def test_every_text_of_a_pair_is_a_field_and_transforms_keep_its_shape():
    record = _parse({"messages": CONVERSATION, "chosen": "Sent  today.", "rejected": "No  idea."})
    assert record.text_fields() == ["Be brief.", "Where is my refund?", "Sent  today.", "No  idea."]
    upper = record.map_text(str.upper)
    assert (
        upper.kind == "preference"
        and upper.chosen == "SENT  TODAY."
        and upper.rejected == "NO  IDEA."
    )
    assert upper.messages[1] == Message("user", "WHERE IS MY REFUND?")


def test_a_jsonl_upload_of_pairs_streams_and_cleans_both_answers():
    lines = [
        {"prompt": "Where is my refund?", "chosen": "<b>Sent</b> today.", "rejected": "No idea."},
        {"prompt": "Where is my refund?", "chosen": "Sent on Monday.", "rejected": "Ask later."},
    ]
    stream = io.BytesIO("".join(json.dumps(line) + "\n" for line in lines).encode())
    records = list(iter_records("p.jsonl", stream, ParseOptions(), ParseReport()))
    cleaner = Cleaner(CleaningConfig())
    kept = [cleaner.process(record) for record in records]
    assert [r.kind for r in kept] == ["preference", "preference"]  # same prompt: not duplicates
    assert kept[0].chosen == "Sent today."  # the HTML went from the answer too
