"""Contradictions: one prompt taught two opposite answers, or preference pairs that disagree.

Label flipping poisons a model by pairing real questions with the opposite answer. Records
are grouped by their folded prompt (case, punctuation and hidden characters ignored; only
prompts of ``min_prompt_words`` words or more, since "hi" or "thanks" legitimately get any
answer). Within a prompt, two completions contradict when they are not near-same (MinHash
similarity under ``similar``) and their opening words take opposite stances (one affirms:
"yes", "of course", "sí", "claro"; the other refuses: "no", "unfortunately", "cannot",
"lamentablemente", "no es posible"). Answers that merely differ in wording are not flagged.

Preference records (``prompt``, ``chosen``, ``rejected``) are flagged when a completion is
chosen in one pair and rejected in another for the same prompt (reversed or conflicting
pairs), or when chosen and rejected are near-same (the pair teaches nothing, or noise).

Memory: the last ``max_prompts`` distinct prompts, at most ``max_answers`` answers each.
Misses: contradictions between paraphrased prompts, answers whose stance is not in their
opening words, and conflicts further apart than ``max_prompts`` distinct prompts.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from datasets_app.pipeline.screen.model import Flag, RecordView, check_numbers
from datasets_app.pipeline.screen.text import excerpt

NAME = "contradiction"
SIGNATURE_VALUES = 16  # MinHash values kept per answer
OPENING_CHARS = 120  # enough for the first STANCE_WORDS words
STANCE_WORDS = 12  # the stance of an answer is taken from its opening words
# "we can" and "podemos" affirm unless negated ("we can t", "no podemos").
_AFFIRM = re.compile(
    r"\b(yes|yeah|sure|of course|absolutely|certainly|si|claro|por supuesto|desde luego)\b|"
    r"(?<!\bno )(?<!\bnot )\b(we can|you can|we will|podemos|puedes|puede)\b(?! t\b)"
)
_REFUSE = re.compile(
    r"\b(no|not|cannot|can t|cant|won t|unable|unfortunately|impossible|denied|never|"
    r"lamentablemente|desafortunadamente|imposible|nunca|no podemos|no puedo|no es posible)\b"
)


@dataclass
class ContradictionConfig:
    """Which prompts are compared and how much is remembered."""

    min_prompt_words: int = field(default=5, metadata={"help": "shorter prompts are skipped"})
    similar: float = field(
        default=0.5, metadata={"help": "completions this similar agree (MinHash estimate)"}
    )
    max_prompts: int = field(default=20_000, metadata={"help": "distinct prompts remembered"})
    max_answers: int = field(default=4, metadata={"help": "answers remembered per prompt"})

    def __post_init__(self) -> None:
        check_numbers(self, "contradiction")
        if self.min_prompt_words < 1 or self.max_answers < 1 or self.max_prompts < 16:
            raise ValueError(
                "contradiction needs min_prompt_words >= 1, max_answers >= 1, max_prompts >= 16"
            )
        if not 0.0 < self.similar <= 1.0:
            raise ValueError("contradiction.similar must be in (0, 1]")


@dataclass
class _Answer:
    index: int
    source: str
    key: int
    signature: np.ndarray | None
    opening: str  # the folded answer's start, whose stance is read only when compared
    rejected_key: int = 0  # preference pairs: the rejected completion
    flagged: bool = False


class ContradictionDetector:
    """Flags conflicting answers to one prompt as soon as the second one arrives."""

    name = NAME

    def __init__(self, config: ContradictionConfig) -> None:
        self.config = config
        self._answers: OrderedDict[int, list[_Answer]] = OrderedDict()
        self._forgotten = 0

    def observe_batch(self, views: list[RecordView]) -> list[Flag]:
        """Observes each record in order (see ``observe``)."""
        return [flag for view in views for flag in self.observe(view)]

    def observe(self, view: RecordView) -> list[Flag]:
        """Compares the record with earlier answers to the same prompt."""
        if not view.has_pair:
            return []
        folded_prompt = view.folded("prompt")
        if folded_prompt.count(" ") + 1 < self.config.min_prompt_words:
            return []
        # Python's string hash: salted per process, but only compared within this pass.
        prompt_key = hash(folded_prompt)
        answer = self._answer(view, "completion")
        flags: list[Flag] = []
        if view.rejected is not None:
            rejected = self._answer(view, "rejected")
            answer.rejected_key = rejected.key
            flags += self._same_pair(view, answer, rejected)
        earlier = self._answers.get(prompt_key, [])
        for previous in earlier:
            flags += self._conflict(view, previous, answer)
        self._remember(prompt_key, earlier, answer)
        return flags

    def _answer(self, view: RecordView, part: str) -> _Answer:
        signature = view.signature(part)
        if signature is not None:
            signature = signature[:SIGNATURE_VALUES]
        opening = view.folded(part)[:OPENING_CHARS]
        return _Answer(view.index, view.source, hash(view.canonical(part)), signature, opening)

    def _same_pair(self, view: RecordView, answer: _Answer, rejected: _Answer) -> list[Flag]:
        """A preference pair whose two completions are (nearly) the same."""
        if answer.key != rejected.key and self._similarity(answer, rejected) < 0.9:
            return []
        reason = "contradiction: chosen and rejected completions are nearly the same"
        return [self._flag(view.index, view.source, reason, 0.6, "rejected", "")]

    def _conflict(self, view: RecordView, previous: _Answer, answer: _Answer) -> list[Flag]:
        if previous.rejected_key or answer.rejected_key:
            found = _preference_conflict(previous, answer)
        else:
            similarity = self._similarity(previous, answer)
            found = _answer_conflict(previous, answer, similarity >= self.config.similar)
        if found is None:
            return []
        reason, score = found
        group = f"{NAME}:{min(previous.index, answer.index)}-{max(previous.index, answer.index)}"
        evidence = (
            f'other record {previous.index}; this answer "{excerpt(view.completion, 0, 120)}"'
        )
        flags = [self._flag(view.index, view.source, reason, score, "", group, evidence)]
        if not previous.flagged:
            previous.flagged = True
            flags.append(self._flag(previous.index, previous.source, reason, score, "", group))
        return flags

    def _similarity(self, a: _Answer, b: _Answer) -> float:
        if a.key == b.key:
            return 1.0
        if a.signature is None or b.signature is None:
            return 0.0
        return float(np.count_nonzero(a.signature == b.signature)) / a.signature.size

    def _remember(self, prompt_key: int, earlier: list[_Answer], answer: _Answer) -> None:
        if len(earlier) < self.config.max_answers:
            earlier.append(answer)
        self._answers[prompt_key] = earlier
        self._answers.move_to_end(prompt_key)
        while len(self._answers) > self.config.max_prompts:
            self._answers.popitem(last=False)
            self._forgotten += 1

    @staticmethod
    def _flag(
        index: int,
        source: str,
        reason: str,
        score: float,
        path: str,
        group: str,
        evidence: str = "",
    ) -> Flag:
        return Flag(index, NAME, reason, score, source, path, group, evidence)

    def finish(self) -> list[Flag]:
        """Contradictions are flagged as they are found."""
        return []

    def notes(self) -> list[str]:
        """Where the memory bound was reached."""
        if not self._forgotten:
            return []
        return [f"{NAME}: {self._forgotten} prompts were forgotten (only later ones compared)"]

    def footprint(self) -> dict[str, int]:
        """Sizes of the bounded structures (for tests and reports)."""
        return {
            "prompts": len(self._answers),
            "answers": sum(len(answers) for answers in self._answers.values()),
        }


def stance(folded: str) -> int:
    """+1 when the opening words affirm, -1 when they refuse, 0 when neither or both."""
    opening = " ".join(folded.split(" ")[:STANCE_WORDS])
    affirm, refuse = bool(_AFFIRM.search(opening)), bool(_REFUSE.search(opening))
    return 0 if affirm == refuse else (1 if affirm else -1)


def _answer_conflict(previous: _Answer, answer: _Answer, agree: bool) -> tuple[str, float] | None:
    if agree or stance(previous.opening) * stance(answer.opening) != -1:
        return None
    return "contradiction: the same prompt has answers with opposite stances", 0.8


def _preference_conflict(previous: _Answer, answer: _Answer) -> tuple[str, float] | None:
    if not (previous.rejected_key and answer.rejected_key):
        return None
    if previous.key == answer.rejected_key and previous.rejected_key == answer.key:
        return "contradiction: the same preference pair appears reversed", 0.9
    if previous.key == answer.rejected_key or previous.rejected_key == answer.key:
        return "contradiction: a completion is chosen in one pair and rejected in another", 0.7
    return None
