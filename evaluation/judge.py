"""A local judge: a model the project already has grades answers, never an external service.

The judge's verdict is not parsed from free text. The grading prompt ends where the verdict
starts, and the judge model's log probability of each allowed verdict is scored (``Scorer``):
"A", "B" or "C" (a tie) for a pairwise comparison, "1" to "5" for a rubric. The verdict is the
most likely one, its probabilities are kept, and no answer can fail to parse.

Pairwise comparisons are judged in both orders, and the two orders' probabilities averaged
with the labels swapped back, which cancels the judge's preference for a position; a pair
whose two orders disagree is reported as ``consistent=False``.

Pure: the model comes in as two callables, ``render`` (chat messages -> the judge model's
prompt text, its chat template) and ``Scorer`` (prompt, candidates -> log likelihoods);
``model_scorer`` builds the latter over a loaded model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from evaluation.stats import cohen_kappa

if TYPE_CHECKING:
    from serving.generation import LoadedModel

Render = Callable[[list[dict[str, str]]], str]
Scorer = Callable[[str, Sequence[str]], list[float]]
Verdict = Literal["a", "b", "tie"]

PAIRWISE_LABELS = ("A", "B", "C")  # C: a tie. One token each in the usual vocabularies.
RUBRIC_LABELS = ("1", "2", "3", "4", "5")

PAIRWISE_SYSTEM = (
    "You are a strict, impartial grader. You compare two answers to the same request and "
    "decide which one answers it better: more correct, more helpful, more faithful to the "
    "request. Length is not a merit. Reply with a single letter."
)
RUBRIC_SYSTEM = (
    "You are a strict, impartial grader. You grade one answer to a request against the "
    "criteria given, on a scale from 1 (fails them) to 5 (meets them fully). Reply with a "
    "single digit."
)


@dataclass(frozen=True)
class PairwiseJudgement:
    """The judge's verdict on answers x and y, both orders averaged."""

    verdict: Verdict
    p_x: float
    p_y: float
    p_tie: float
    consistent: bool


@dataclass(frozen=True)
class RubricJudgement:
    """The most likely grade, the probability-weighted grade, and each grade's probability."""

    score: int
    expected: float
    probabilities: tuple[float, ...]


def pairwise_messages(request: str, first: str, second: str) -> list[dict[str, str]]:
    """The grading conversation for one order of a pair (first shown as A)."""
    user = (
        f"Request:\n{request}\n\n[Answer A]\n{first}\n[End of answer A]\n\n"
        f"[Answer B]\n{second}\n[End of answer B]\n\n"
        "Which answer is better? Reply A if answer A is better, B if answer B is better, "
        "or C if they are equally good or equally bad."
    )
    return [{"role": "system", "content": PAIRWISE_SYSTEM}, {"role": "user", "content": user}]


def rubric_messages(request: str, answer: str, criteria: str) -> list[dict[str, str]]:
    user = (
        f"Request:\n{request}\n\n[Answer]\n{answer}\n[End of answer]\n\n"
        f"Criteria:\n{criteria}\n\nGrade the answer from 1 to 5."
    )
    return [{"role": "system", "content": RUBRIC_SYSTEM}, {"role": "user", "content": user}]


def _probabilities(log_likelihoods: Sequence[float]) -> list[float]:
    """Softmax over the allowed verdicts only."""
    peak = max(log_likelihoods)
    weights = [math.exp(v - peak) for v in log_likelihoods]
    total = sum(weights)
    return [w / total for w in weights]


def judge_pair(request: str, x: str, y: str, render: Render, scorer: Scorer) -> PairwiseJudgement:
    """Judge answers ``x`` and ``y`` to ``request`` in both orders (see the module docstring)."""
    forward = _probabilities(scorer(render(pairwise_messages(request, x, y)), PAIRWISE_LABELS))
    backward = _probabilities(scorer(render(pairwise_messages(request, y, x)), PAIRWISE_LABELS))
    p_x = (forward[0] + backward[1]) / 2
    p_y = (forward[1] + backward[0]) / 2
    p_tie = (forward[2] + backward[2]) / 2
    first = _most_likely(forward[0], forward[1], forward[2])
    second = _most_likely(backward[1], backward[0], backward[2])
    return PairwiseJudgement(_most_likely(p_x, p_y, p_tie), p_x, p_y, p_tie, first == second)


def _most_likely(p_a: float, p_b: float, p_tie: float) -> Verdict:
    """The verdict with the highest probability; "tie" when A and B are equally likely (a
    judge that only ever prefers one position ends up there once both orders are averaged)."""
    if p_tie >= max(p_a, p_b) or math.isclose(p_a, p_b, rel_tol=1e-9, abs_tol=1e-12):
        return "tie"
    return "a" if p_a > p_b else "b"


def judge_rubric(
    request: str, answer: str, criteria: str, render: Render, scorer: Scorer
) -> RubricJudgement:
    """Grade ``answer`` against ``criteria`` from 1 to 5."""
    probabilities = _probabilities(
        scorer(render(rubric_messages(request, answer, criteria)), RUBRIC_LABELS)
    )
    best = max(range(len(RUBRIC_LABELS)), key=lambda i: probabilities[i])
    expected = sum((i + 1) * p for i, p in enumerate(probabilities))
    return RubricJudgement(best + 1, expected, tuple(probabilities))


@dataclass(frozen=True)
class Agreement:
    """How far the judge agrees with people: Cohen's kappa and the share of equal verdicts."""

    kappa: float
    agreement: float
    votes: int


def agreement_with_humans(pairs: Sequence[tuple[Verdict, Verdict]]) -> Agreement | None:
    """Agreement of (judge verdict, human verdict) pairs, one per human vote on a pair the
    judge also judged, in the judge's terms ("both bad" votes count as "tie"). None when
    there are no votes to compare."""
    if not pairs:
        return None
    judge, human = [p[0] for p in pairs], [p[1] for p in pairs]
    same = sum(a == b for a, b in pairs) / len(pairs)
    return Agreement(cohen_kappa(judge, human), same, len(pairs))


def model_scorer(loaded: LoadedModel) -> Scorer:
    """A ``Scorer`` over a loaded model: each candidate's log likelihood after the prompt,
    tokenized as lm-eval tokenizes a context and its continuation."""
    from serving.scoring import score_prompts

    def score(prompt: str, candidates: Sequence[str]) -> list[float]:
        context = list(loaded.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        rows = [
            context + list(loaded.tokenizer(c, add_special_tokens=False)["input_ids"])
            for c in candidates
        ]
        scored = score_prompts(loaded, rows)
        return [s.continuation_logprob(len(context))[0] for s in scored]

    return score
