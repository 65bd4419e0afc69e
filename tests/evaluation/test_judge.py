"""The local judge: constrained verdicts, both orders, rubric grades, agreement with people."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import pytest

from evaluation import judge


def _render(messages: list[dict[str, str]]) -> str:
    return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "


def _likes(word: str) -> judge.Scorer:
    """A judge that knows the right answer contains ``word``, with a pull towards position A."""

    def score(prompt: str, candidates: Sequence[str]) -> list[float]:
        found = re.search(r"\[Answer (A|B)\]\n[^\[]*" + word, prompt)
        best = found.group(1) if found else "C"
        return [0.0 if c == best else (-1.5 if c == "A" else -2.0) for c in candidates]

    return score


def _always_first(prompt: str, candidates: Sequence[str]) -> list[float]:
    return [0.0 if c == "A" else -3.0 for c in candidates]


def test_the_better_answer_wins_in_both_orders() -> None:
    verdict = judge.judge_pair("Capital of France?", "Paris.", "Lyon.", _render, _likes("Paris"))
    assert verdict.verdict == "a" and verdict.consistent
    assert verdict.p_x > 0.5 > verdict.p_y
    assert verdict.p_x + verdict.p_y + verdict.p_tie == pytest.approx(1.0)
    swapped = judge.judge_pair("Capital of France?", "Lyon.", "Paris.", _render, _likes("Paris"))
    assert swapped.verdict == "b" and swapped.p_y == pytest.approx(verdict.p_x)


def test_a_judge_that_only_likes_position_a_ends_in_a_tie() -> None:
    verdict = judge.judge_pair("q", "one", "two", _render, _always_first)
    assert verdict.verdict == "tie" and not verdict.consistent
    assert verdict.p_x == pytest.approx(verdict.p_y)


def test_the_prompt_asks_for_one_of_the_scored_labels() -> None:
    text = _render(judge.pairwise_messages("q", "x", "y"))
    assert all(f" {label} " in text or f"{label} if" in text for label in judge.PAIRWISE_LABELS)
    assert text.index("[Answer A]\nx") < text.index("[Answer B]\ny")


def test_rubric_grades_from_the_digit_probabilities() -> None:
    def grade(prompt: str, candidates: Sequence[str]) -> list[float]:
        return [math.log(w) for w in (0.05, 0.05, 0.1, 0.5, 0.3)]

    result = judge.judge_rubric("q", "answer", "Is it correct?", _render, grade)
    assert result.score == 4
    assert result.expected == pytest.approx(0.05 + 0.1 + 0.3 + 2.0 + 1.5)
    assert sum(result.probabilities) == pytest.approx(1.0)


def test_agreement_with_people_is_cohens_kappa() -> None:
    pairs: list[tuple[judge.Verdict, judge.Verdict]] = [
        ("a", "a"),
        ("a", "a"),
        ("b", "b"),
        ("tie", "a"),
        ("b", "b"),
        ("a", "b"),
    ]
    result = judge.agreement_with_humans(pairs)
    assert result is not None and result.votes == 6
    assert result.agreement == pytest.approx(4 / 6)
    # p_o = 4/6; judge marginals a 3, b 2, tie 1; people a 3, b 3: p_e = (9 + 6) / 36.
    assert result.kappa == pytest.approx((4 / 6 - 15 / 36) / (1 - 15 / 36))
    assert judge.agreement_with_humans([]) is None


def test_a_real_model_judges_with_probabilities(tiny_loaded_model: Any) -> None:
    from serving.scoring import score_prompts

    scorer = judge.model_scorer(tiny_loaded_model)
    tokenizer = tiny_loaded_model.tokenizer

    def render(messages: list[dict[str, str]]) -> str:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    verdict = judge.judge_pair("Say hello", "hello", "goodbye", render, scorer)
    assert verdict.p_x + verdict.p_y + verdict.p_tie == pytest.approx(1.0)
    prompt = render(judge.rubric_messages("q", "a", "c"))
    values = scorer(prompt, ["3"])
    context = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    [whole] = score_prompts(
        tiny_loaded_model, [context + tokenizer("3", add_special_tokens=False)["input_ids"]]
    )
    assert values[0] == pytest.approx(whole.continuation_logprob(len(context))[0])
