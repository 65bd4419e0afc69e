"""Token statistics of a dataset for the review screen and the training-time estimate."""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

HISTOGRAM_BINS = 16
BATCH_SIZE = 256


def token_stats(
    texts: Iterable[str], tokenizer: Any, *, max_seq_len: int, tokens_per_second: float | None
) -> dict[str, Any]:
    """Tokenizes ``texts`` in batches (one batch in memory) and summarizes the lengths.

    Takes any Hugging Face tokenizer (callable on a list of str, special tokens added).
    Returns {"total_tokens", "records", "histogram": {"edges", "counts"}, "share_over_max",
    "max_seq_len", "est_seconds_per_epoch", "trained_tokens_per_epoch", "mean_tokens",
    "p50_tokens", "p95_tokens", "max_tokens"}. Histogram: HISTOGRAM_BINS equal-width bins
    over [0, max_seq_len] (each bin [lo, hi), the last one also holds max_seq_len), plus
    one overflow bin (max_seq_len, longest] only when some record exceeds max_seq_len.
    The epoch estimate assumes records are truncated to max_seq_len (None without
    ``tokens_per_second``). Raises ValueError for non-positive limits or rates.
    """
    if max_seq_len <= 0:
        raise ValueError("max_seq_len must be positive")
    if tokens_per_second is not None and tokens_per_second <= 0:
        raise ValueError("tokens_per_second must be positive or None")
    lengths = np.frombuffer(_token_lengths(texts, tokenizer), dtype=np.uint32).astype(np.int64)
    trained = int(np.minimum(lengths, max_seq_len).sum())
    return {
        "total_tokens": int(lengths.sum()),
        "records": int(lengths.size),
        "histogram": _histogram(lengths, max_seq_len),
        "share_over_max": float((lengths > max_seq_len).mean()) if lengths.size else 0.0,
        "max_seq_len": max_seq_len,
        "est_seconds_per_epoch": trained / tokens_per_second if tokens_per_second else None,
        "trained_tokens_per_epoch": trained,
        **_summary(lengths),
    }


def _batches(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(texts)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _token_lengths(texts: Iterable[str], tokenizer: Any) -> array[int]:
    lengths = array("I")  # 4 bytes per record, so millions of records stay cheap
    for batch in _batches(texts, BATCH_SIZE):
        encoded = tokenizer(
            batch,
            add_special_tokens=True,
            truncation=False,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,  # silences "sequence longer than model max" warnings: we report it
        )["input_ids"]
        lengths.extend(len(ids) for ids in encoded)
    return lengths


def _histogram(lengths: np.ndarray, max_seq_len: int) -> dict[str, list[int]]:
    bins = min(HISTOGRAM_BINS, max_seq_len)
    edges = [round(i * max_seq_len / bins) for i in range(bins + 1)]
    # np.histogram bins are [lo, hi) except the last, which is [lo, hi]: as documented.
    counts, _ = np.histogram(lengths[lengths <= max_seq_len], bins=edges)
    result = {"edges": edges, "counts": [int(c) for c in counts]}
    overflow = lengths[lengths > max_seq_len]
    if overflow.size:
        result["edges"].append(int(overflow.max()))
        result["counts"].append(int(overflow.size))
    return result


def _summary(lengths: np.ndarray) -> dict[str, float | int]:
    if not lengths.size:
        return {"mean_tokens": 0.0, "p50_tokens": 0, "p95_tokens": 0, "max_tokens": 0}
    return {
        "mean_tokens": float(lengths.mean()),
        "p50_tokens": int(np.percentile(lengths, 50, method="lower")),
        "p95_tokens": int(np.percentile(lengths, 95, method="lower")),
        "max_tokens": int(lengths.max()),
    }
