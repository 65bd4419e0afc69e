"""Bounded near-duplicate detection with datasketch MinHash + MinHashLSH.

Texts are sketched from word 3-shingles of their normalized form; signatures are computed
with numpy exactly as datasketch's "affine32" MinHash would (tested), then indexed in
datasketch's MinHashLSH. LSH candidates are confirmed by comparing full signatures, so the
threshold is an estimated Jaccard similarity, not just a band collision.

Memory bound (documented limit): only the most recent ``window`` indexed texts can be
matched. The index is kept in two generations of ``window // 2`` texts; when the current
one fills, the older one is dropped. Memory therefore stays around 1.5 KiB x ``window``
(about 150 MiB for the default 100 000) however large the upload, at the cost of missing
near-duplicates that are further apart than the window. Exact duplicates are caught
globally by the Cleaner's hash set.
"""

from __future__ import annotations

import hashlib

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

SHINGLE_WORDS = 3
_WORD_POSITIONS = 64  # bytes past this position in a word reuse the last multiplier
_BASE = 0x100000001B3  # FNV-1 64-bit prime, used as polynomial base
_POWERS = np.array([pow(_BASE, k, 2**64) for k in range(_WORD_POSITIONS)], dtype=np.uint64)
_MIX_1 = np.uint64(0x9E3779B97F4A7C15)
_MIX_2 = np.uint64(0xC2B2AE3D27D4EB4F)
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35))


def _band_key(data: bytes) -> bytes:
    # LSH band keys would otherwise be 4 bytes per permutation; 8 bytes keep collisions
    # negligible at this scale and save about half of the index memory.
    return hashlib.blake2b(data, digest_size=8).digest()


def word_hashes(normalized: str) -> np.ndarray:
    """Returns a 64-bit polynomial hash per word of a single-space-separated text.

    Vectorized (no Python loop per word) and deterministic across processes, unlike
    Python's salted ``hash``. Requires the ``normalize_for_split`` form: words separated
    by exactly one ASCII space, no leading or trailing space.
    """
    data = np.frombuffer(normalized.encode("utf-8"), dtype=np.uint8)
    is_space = data == 32
    starts = np.concatenate(([0], np.flatnonzero(is_space) + 1))
    position = np.arange(data.size) - starts[np.cumsum(is_space)]
    position = np.clip(position, 0, _WORD_POSITIONS - 1)
    contributions = (data.astype(np.uint64) + np.uint64(1)) * _POWERS[position]
    contributions[is_space] = 0
    return np.add.reduceat(contributions, starts)


def shingle_hashes(normalized: str) -> np.ndarray | None:
    """Returns 32-bit hashes of the word 3-shingles, or None for texts under 3 words."""
    if normalized.count(" ") < SHINGLE_WORDS - 1:
        return None
    words = word_hashes(normalized)
    mixed = (words[:-2] * _MIX_1 + words[1:-1]) * _MIX_2 + words[2:]
    folded: np.ndarray = (mixed ^ (mixed >> np.uint64(32))) & np.uint64(0xFFFFFFFF)
    return folded.astype(np.uint32)


def minhash_values(hashes: np.ndarray, permutations: np.ndarray) -> np.ndarray:
    """Returns the MinHash signature exactly as datasketch's "affine32" scheme computes it
    (MurmurHash3 finalizer, then ``a * h + b`` mod 2^32, column minimum), vectorized."""
    shift_1, multiply_1, shift_2, multiply_2 = _FMIX32
    mixed = hashes ^ (hashes >> shift_1)
    mixed = mixed * multiply_1
    mixed = mixed ^ (mixed >> shift_2)
    mixed = mixed * multiply_2
    mixed = mixed ^ (mixed >> shift_1)
    a, b = permutations
    signature: np.ndarray = (mixed[:, None] * a + b).min(axis=0)
    return signature


class NearDuplicateIndex:
    """Remembers recent texts and says whether a new one nearly duplicates one of them."""

    def __init__(
        self, *, threshold: float, num_perm: int = 64, window: int = 100_000, seed: int = 1
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        if window < 2 or num_perm < 16:
            raise ValueError("window must be >= 2 and num_perm >= 16")
        self._threshold = threshold
        self._num_perm = num_perm
        self._generation_size = window // 2
        # Shared permutations: building them per sketch would dominate the cost.
        self._seed = seed
        self._permutations = MinHash(num_perm=num_perm, seed=seed).permutations
        self._signatures = np.zeros((2 * self._generation_size, num_perm), dtype=np.uint32)
        self._current = self._new_lsh()
        self._previous: MinHashLSH | None = None
        self._current_count = 0
        self._next_id = 0

    def _new_lsh(self) -> MinHashLSH:
        return MinHashLSH(threshold=self._threshold, num_perm=self._num_perm, hashfunc=_band_key)

    def sketch(self, normalized: str) -> LeanMinHash | None:
        """Returns the MinHash of a normalized text, or None when it is too short to shingle."""
        hashes = shingle_hashes(normalized)
        if hashes is None:
            return None
        values = minhash_values(hashes, self._permutations)
        return LeanMinHash(seed=self._seed, hashvalues=values, scheme="affine32")

    def check_and_add(self, normalized: str) -> float | None:
        """Returns the estimated similarity (>= threshold) to a remembered text, or None.

        When None, the text was not a near duplicate and is now remembered (if long enough
        to shingle). Texts under 3 words are never near duplicates.
        """
        sketch = self.sketch(normalized)
        if sketch is None:
            return None
        similarity = self._best_similarity(sketch)
        if similarity >= self._threshold:
            return similarity
        self._add(sketch)
        return None

    def _best_similarity(self, sketch: LeanMinHash) -> float:
        best = 0.0
        for lsh in (self._current, self._previous):
            if lsh is None:
                continue
            for key in lsh.query(sketch):
                stored = self._signatures[key % len(self._signatures)]
                best = max(
                    best, float(np.count_nonzero(stored == sketch.hashvalues)) / self._num_perm
                )
        return best

    def _add(self, sketch: LeanMinHash) -> None:
        if self._current_count >= self._generation_size:
            self._previous, self._current, self._current_count = self._current, self._new_lsh(), 0
        key = self._next_id
        self._next_id += 1
        self._signatures[key % len(self._signatures)] = sketch.hashvalues
        self._current.insert(key, sketch, check_duplication=False)
        self._current_count += 1

    @property
    def remembered(self) -> int:
        """How many texts can currently be matched (at most ``window``)."""
        previous = self._generation_size if self._previous is not None else 0
        return previous + self._current_count
