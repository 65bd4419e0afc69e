"""Per-record measurements from one teacher-forced pass over sampled train and test records.

* **Loss** (mean token negative log-likelihood) under the tuned model and, when given, under
  the reference model: the membership-inference scores (``membership``).
* **k-extractability** (Carlini et al., "Extracting Training Data from Large Language Models",
  2021; "Quantifying Memorization Across Neural Language Models", 2023): prompted with a
  record's first k tokens, does greedy decoding reproduce its next m tokens exactly? Greedy
  decoding from the true prefix reproduces token j exactly when token j is the most likely one
  given tokens < j at every step so far, so the teacher-forced pass answers it without
  generating: the record is extractable when tokens k .. k+m-1 are all argmax hits, and the
  reproduced span is the run of hits starting at k. Defaults k = m = 32; a shorter record
  (at least 16 tokens) is split in half; shorter ones are not counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .scoring import TextScores

MIN_TOKENS = 16


@dataclass(frozen=True)
class RecordResult:
    """One record: losses, and its extraction test when long enough (``k`` 0 = not tested)."""

    loss: float
    reference_loss: float | None
    k: int
    m: int
    reproduced: int  # suffix tokens greedy decoding reproduces before its first miss

    @property
    def extractable(self) -> bool:
        return self.k > 0 and self.reproduced >= self.m


def split_for(length: int, k: int, m: int) -> tuple[int, int]:
    """(prefix, suffix) tokens for a record of ``length`` tokens; (0, 0) when too short."""
    if length >= k + m:
        return k, m
    if length >= MIN_TOKENS:
        return length // 2, length - length // 2
    return 0, 0


def measure(
    tuned: Sequence[TextScores],
    reference: Sequence[TextScores] | None,
    *,
    k: int = 32,
    m: int = 32,
) -> list[RecordResult]:
    """Results of records scored by ``tuned`` (and ``reference``, same order)."""
    out = []
    for index, scores in enumerate(tuned):
        prefix, suffix = split_for(len(scores.ids), k, m)
        reproduced = 0
        for hit in scores.hits[prefix - 1 : prefix - 1 + suffix] if prefix else []:
            if not hit:
                break
            reproduced += 1
        out.append(
            RecordResult(
                loss=scores.mean_loss,
                reference_loss=reference[index].mean_loss if reference is not None else None,
                k=prefix,
                m=suffix,
                reproduced=reproduced,
            )
        )
    return out


def extraction_rate(results: Sequence[RecordResult]) -> float | None:
    tested = [r for r in results if r.k]
    return sum(r.extractable for r in tested) / len(tested) if tested else None


def longest_spans(
    results: Sequence[RecordResult],
    scores: Sequence[TextScores],
    decode: Callable[[list[int]], str],
    top: int = 5,
) -> list[dict[str, Any]]:
    """The longest reproduced spans (quotes of training data: evidence, stored encrypted)."""
    ranked = sorted(
        (i for i, r in enumerate(results) if r.k and r.reproduced),
        key=lambda i: -results[i].reproduced,
    )
    spans = []
    for index in ranked[:top]:
        result, ids = results[index], scores[index].ids
        spans.append(
            {
                "tokens": result.reproduced,
                "prompt": decode(ids[: result.k]),
                "reproduced": decode(ids[result.k : result.k + result.reproduced]),
            }
        )
    return spans
