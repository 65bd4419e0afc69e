"""Deterministic train/validation/test assignment by keyed hash of the normalized text.

The same normalized text always lands in the same split for a given seed, so exact
duplicates (after normalization) can never straddle splits and re-runs reproduce the
assignment exactly. Different seeds give independent assignments.
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from typing import Literal

Split = Literal["train", "validation", "test"]
SPLITS: tuple[Split, Split, Split] = ("train", "validation", "test")
_SEED_BYTES = 16


def normalize_for_split(text: str) -> str:
    """Returns the text NFKC-normalized, casefolded, with whitespace runs collapsed to one space."""
    if text.isascii():
        return " ".join(text.lower().split())  # same result: NFKC and casefold are trivial here
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(folded.split())


def assign_split(
    normalized_text: str, *, seed: int, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
) -> Split:
    """Returns the split of an already-normalized text.

    Takes ratios (train, validation, test): non-negative, summing to 1 (1e-6 tolerance).
    Raises ValueError for bad ratios or a seed outside the signed 128-bit range.
    """
    _check_ratios(ratios)
    position = _unit_interval(normalized_text, seed)
    cumulative = 0.0
    for split, ratio in zip(SPLITS, ratios, strict=True):
        cumulative += ratio
        if position < cumulative:
            return split
    # Float rounding can leave position just above the sum: use the last non-empty split.
    return next(
        split for split, ratio in zip(reversed(SPLITS), reversed(ratios), strict=True) if ratio > 0
    )


def _check_ratios(ratios: tuple[float, float, float]) -> None:
    if len(ratios) != len(SPLITS):
        raise ValueError("ratios must have three values: train, validation, test")
    if any(not math.isfinite(r) or r < 0 for r in ratios):
        raise ValueError("ratios must be finite and non-negative")
    if not math.isclose(sum(ratios), 1.0, abs_tol=1e-6):
        raise ValueError(f"ratios must sum to 1, got {sum(ratios):g}")


def _unit_interval(normalized_text: str, seed: int) -> float:
    """Maps (text, seed) to a uniform float in [0, 1) with BLAKE2b keyed by the seed."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError("seed must be an int")
    try:
        key = seed.to_bytes(_SEED_BYTES, "big", signed=True)
    except OverflowError:
        raise ValueError("seed must fit in a signed 128-bit integer") from None
    digest = hashlib.blake2b(normalized_text.encode("utf-8"), key=key, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
