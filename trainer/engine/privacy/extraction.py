"""Verbatim extraction (k-extractability; Carlini et al. 2021, 2023): the measurement's names.

The computation lives in ``records`` (one teacher-forced pass per record gives both the losses
for membership inference and greedy reproduction: greedy decoding from the true prefix
reproduces token j exactly when token j is the argmax given tokens < j at every step so far).
This module names its parts for callers that want extraction alone:

* ``split_for(length, k, m)``: the prompt/suffix lengths tested for a record (k = m = 32 by
  default; records of 16 to k+m-1 tokens are split in half; shorter ones are not tested);
* ``extraction_rate(results)``: share of tested records whose m suffix tokens come out exactly;
* ``longest_spans(results, scores, decode)``: the longest reproduced spans, as quotes
  (evidence: stored encrypted, never in figures).
"""

from __future__ import annotations

from .records import MIN_TOKENS, RecordResult, extraction_rate, longest_spans, measure, split_for

__all__ = [
    "MIN_TOKENS",
    "RecordResult",
    "extraction_rate",
    "longest_spans",
    "measure",
    "split_for",
]
