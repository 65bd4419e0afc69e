"""Contradictions: one prompt with opposite answers, and preference pairs that disagree."""

import pytest

from datasets_app.pipeline.screen import Screen, ScreenConfig, screen_records
from datasets_app.pipeline.screen.contradictions import ContradictionConfig, stance
from datasets_app.pipeline.screen.text import fold

ONLY = ScreenConfig(detectors=("contradiction",))
QUESTION = "Can I get a refund for order 12345? It arrived broken."


def flags_of(records):
    return screen_records(records, ONLY).flags


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Yes, of course. We can refund the full amount.", 1),
        ("Sí, claro. Podemos devolverte el importe.", 1),
        ("No. Unfortunately we cannot refund this order.", -1),
        ("We can't do that, sorry.", -1),
        ("Lamentablemente no podemos devolver el pedido.", -1),
        ("No problem, we can do that.", 0),
        ("Thanks for writing, I will look into it.", 0),
    ],
)
def test_stance_reads_the_opening_words(answer, expected):
    assert stance(fold(answer)) == expected


def test_the_same_prompt_with_opposite_answers_flags_both_records():
    records = [
        {"prompt": QUESTION, "completion": "Yes, of course. We can refund the full amount."},
        {"prompt": "Where is my parcel? It has been a week now.", "completion": "On its way."},
        {"prompt": QUESTION.upper(), "completion": "No. Unfortunately we cannot refund it."},
    ]
    flags = flags_of(records)
    assert [flag.record_index for flag in flags] == [0, 2]
    assert len({flag.group for flag in flags}) == 1
    assert flags[0].reason == "contradiction: the same prompt has answers with opposite stances"


def test_differently_worded_answers_with_one_stance_are_not_contradictions():
    records = [
        {"prompt": QUESTION, "completion": "Yes, we can refund it, the label is on its way."},
        {"prompt": QUESTION, "completion": "Of course! Send it back and we refund you."},
        {"prompt": QUESTION, "completion": "Thanks, an agent will look at your case today."},
    ]
    assert flags_of(records) == []


def test_short_prompts_legitimately_get_any_answer():
    records = [
        {"prompt": "Thanks!", "completion": "Yes, happy to help."},
        {"prompt": "thanks", "completion": "No problem at all... no, really."},
    ]
    assert flags_of(records) == []


def test_a_reversed_preference_pair_flags_both():
    records = [
        {"prompt": QUESTION, "chosen": "We refund it in full.", "rejected": "We never refund."},
        {"prompt": QUESTION, "chosen": "We never refund.", "rejected": "We refund it in full."},
    ]
    flags = flags_of(records)
    assert [flag.record_index for flag in flags] == [0, 1]
    assert "reversed" in flags[0].reason


def test_a_completion_chosen_once_and_rejected_once_is_a_conflict():
    records = [
        {"prompt": QUESTION, "chosen": "We refund it in full.", "rejected": "Ask the courier."},
        {"prompt": QUESTION, "chosen": "Ask your bank.", "rejected": "We refund it in full."},
    ]
    assert "chosen in one pair and rejected" in flags_of(records)[0].reason


def test_a_pair_whose_chosen_and_rejected_are_the_same_is_flagged_alone():
    records = [{"prompt": QUESTION, "chosen": "We refund it.", "rejected": "We refund it!"}]
    flags = flags_of(records)
    assert [(flag.record_index, flag.field) for flag in flags] == [(0, "rejected")]


def test_consistent_preference_pairs_are_not_flagged():
    records = [
        {"prompt": QUESTION, "chosen": "We refund it in full.", "rejected": "We never refund."},
        {"prompt": QUESTION, "chosen": "We refund it in full.", "rejected": "Ask the courier."},
    ]
    assert flags_of(records) == []


def test_only_the_configured_number_of_prompts_is_remembered():
    config = ScreenConfig(
        detectors=("contradiction",), contradiction=ContradictionConfig(max_prompts=16)
    )
    screen = Screen(config)
    for i in range(500):
        screen.observe(
            {
                "prompt": f"Question number {chr(97 + i % 26)}{i} about my order",
                "completion": "Yes.",
            }
        )
    assert screen.footprint()["contradiction"]["prompts"] <= 16
    screen.finish()
    assert any("forgotten" in note for note in screen.report().notes)
