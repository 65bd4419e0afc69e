"""Hashes of the word runs of a folded text, computed once per text and shared.

A run of words is hashed by its *letters* only, spaces left out: "cf delta", "cf-delta",
"c.f. delta" and "cfdelta" give the same hash. Together with ``text.fold`` this makes a
trigger phrase count as one phrase however it is spelled with case, punctuation, spacing,
zero-width characters or homoglyphs. One prefix hash over the bytes gives every run in
O(1) (vectorized with numpy: no Python loop per phrase); runs are deterministic across
processes.

``Grams.phrases()`` are the runs of 1..4 words (trigger candidates); ``Grams.shingles()``
the runs of 3 words as 32-bit values, ready for ``near_dedup.minhash_values``.
``completion_keys`` turns a MinHash signature into LSH band keys: two completions with
estimated Jaccard similarity 0.8 share at least one of 5 bands of 3 rows with
probability 0.97; at 0.3, 0.13.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import numpy as np

MAX_PHRASE_WORDS = 4
SHINGLE_WORDS = 3
MAX_PHRASE_BYTES = 16_384  # bytes of a folded text whose runs are hashed
CHUNK_BYTES = 8 * MAX_PHRASE_BYTES  # bytes hashed together by ``batch_runs`` (2 MiB of tables)
_BASE = 0x100000001B3  # odd, so it has an inverse modulo 2^64


def _powers(base: int, count: int) -> np.ndarray:
    """base^0 .. base^(count-1) modulo 2^64 (uint64 products wrap: that is the modulo)."""
    powers = np.ones(count, dtype=np.uint64)
    np.cumprod(np.full(count - 1, base, dtype=np.uint64), out=powers[1:])
    return powers


_POWERS = _powers(_BASE, CHUNK_BYTES + 1)
_INVERSE_POWERS = _powers(pow(_BASE, -1, 2**64), CHUNK_BYTES + 1)
_MIX = np.uint64(0xFF51AFD7ED558CCD)
_EMPTY = np.zeros(0, dtype=np.uint64)
_DIGITS = re.compile(r"\d+")
_PHRASE_SHIFT = np.uint64(16)  # phrase hashes keep the top 48 bits
_OWNER_SHIFT = np.uint64(48)


@lru_cache(maxsize=4096)
def _run_bounds(words: int, max_words: int) -> tuple[np.ndarray, np.ndarray]:
    """(first word, one past the last word) of every run of 1..max_words words."""
    starts = [np.arange(words - n + 1) for n in range(1, min(max_words, words) + 1)]
    ends = [s + n for n, s in enumerate(starts, start=1)]
    return np.concatenate(starts), np.concatenate(ends)


class Grams:
    """The words of one folded text and the prefix hash of its letters."""

    __slots__ = ("words", "_prefix", "_offsets", "_phrases", "_shingles")

    def __init__(self, folded: str) -> None:
        words = folded.split(" ") if folded else []
        if folded.isascii():
            lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        else:
            lengths = np.array([len(word.encode()) for word in words], dtype=np.int64)
        offsets = np.zeros(len(words) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        kept = int(np.searchsorted(offsets, MAX_PHRASE_BYTES, side="right")) - 1
        self.words = words[:kept]
        self._offsets = offsets[: kept + 1]
        data = np.frombuffer("".join(self.words).encode(), dtype=np.uint8)
        self._prefix = np.zeros(data.size + 1, dtype=np.uint64)
        np.cumsum(
            (data.astype(np.uint64) + np.uint64(1)) * _POWERS[: data.size], out=self._prefix[1:]
        )
        self._phrases: np.ndarray | None = None
        self._shingles: np.ndarray | None = None

    def _hashes(self, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        starts, ends = self._offsets[first], self._offsets[last]
        # (P[end] - P[start]) / B^start: the hash of the letters alone, wherever they start.
        raw: np.ndarray = (self._prefix[ends] - self._prefix[starts]) * _INVERSE_POWERS[starts]
        raw ^= raw >> np.uint64(31)
        raw *= _MIX
        mixed: np.ndarray = raw ^ (raw >> np.uint64(29))
        return mixed

    def phrases(self) -> np.ndarray:
        """Distinct phrase hashes (48-bit values in uint64, sorted) of every run of 1..4
        words. 48 bits leave room to tag them with their text in ``batch_runs``."""
        if self._phrases is None:
            if not self.words:
                self._phrases = _EMPTY
            else:
                first, last = _run_bounds(len(self.words), MAX_PHRASE_WORDS)
                self._phrases = np.unique(self._hashes(first, last) >> _PHRASE_SHIFT)
        return self._phrases

    def shingles(self) -> np.ndarray | None:
        """32-bit hashes of the runs of 3 words, or None for texts under 3 words."""
        if self._shingles is None and len(self.words) >= SHINGLE_WORDS:
            first = np.arange(len(self.words) - SHINGLE_WORDS + 1)
            hashes = self._hashes(first, first + SHINGLE_WORDS)
            self._shingles = (hashes >> np.uint64(32)).astype(np.uint32)
        return self._shingles

    def span_of(self, target: int) -> tuple[int, int] | None:
        """(first word, one past the last) of the longest run whose phrase hash is
        ``target``, or None."""
        if not self.words:
            return None
        first, last = _run_bounds(len(self.words), MAX_PHRASE_WORDS)
        hits = np.flatnonzero((self._hashes(first, last) >> _PHRASE_SHIFT) == np.uint64(target))
        if not hits.size:
            return None
        best = max(hits.tolist(), key=lambda i: (int(last[i] - first[i]), -i))
        return int(first[best]), int(last[best])


def _truncated(folded: str) -> str:
    """The words of ``folded`` that fit in ``MAX_PHRASE_BYTES`` bytes (what Grams keeps)."""
    if len(folded) <= MAX_PHRASE_BYTES // 4 or len(folded.encode()) <= MAX_PHRASE_BYTES:
        return folded
    return " ".join(Grams(folded).words)


def batch_runs(
    texts: list[str], *, phrases: bool, shingles: bool
) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """``Grams(t).phrases()`` and ``Grams(t).shingles()`` for many folded texts at once:
    the same values, with a fixed number of numpy calls per chunk of texts instead of per
    text. Lists hold [] when not asked for."""
    all_phrases: list[np.ndarray] = []
    all_shingles: list[np.ndarray | None] = []
    for chunk in _chunks([_truncated(text) for text in texts]):
        chunk_phrases, chunk_shingles = _chunk_runs(chunk, phrases, shingles)
        all_phrases += chunk_phrases
        all_shingles += chunk_shingles
    return all_phrases, all_shingles


def _chunks(texts: list[str]) -> list[list[str]]:
    """Consecutive groups of texts whose letters fit in ``CHUNK_BYTES`` together, at most
    65,536 texts each (the text number is tagged in 16 bits)."""
    chunks: list[list[str]] = [[]]
    size = 0
    for text in texts:
        length = len(text.encode()) if not text.isascii() else len(text)
        if chunks[-1] and (size + length > CHUNK_BYTES or len(chunks[-1]) >= 1 << 16):
            chunks.append([])
            size = 0
        chunks[-1].append(text)
        size += length
    return chunks


def _chunk_runs(
    texts: list[str], phrases: bool, shingles: bool
) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    # The texts go to numpy as one byte string, a newline between texts and a space between
    # words (folded texts hold no newline): words, their text and their lengths come from
    # the separators, with no Python loop over words.
    data = np.frombuffer("\n".join(texts).encode(), dtype=np.uint8)
    newline = data == 10
    separator = newline | (data == 32)
    edges = np.flatnonzero(separator)
    starts = np.concatenate(([0], edges + 1))
    lengths = np.concatenate((edges, [data.size])) - starts
    words = lengths > 0
    owner = np.concatenate(([0], np.cumsum(newline)))[starts[words]]
    grams = Grams.__new__(Grams)
    grams._offsets = np.zeros(int(words.sum()) + 1, dtype=np.int64)
    np.cumsum(lengths[words], out=grams._offsets[1:])
    letters = data[~separator]
    grams._prefix = np.zeros(letters.size + 1, dtype=np.uint64)
    np.cumsum(
        (letters.astype(np.uint64) + np.uint64(1)) * _POWERS[: letters.size], out=grams._prefix[1:]
    )
    counts = np.bincount(owner, minlength=len(texts))
    return (
        _split_phrases(grams, owner, len(texts)) if phrases else [_EMPTY] * len(texts),
        _split_shingles(grams, owner, counts) if shingles else [None] * len(texts),
    )


def _runs(owner: np.ndarray, n: int) -> np.ndarray:
    """First words of the runs of ``n`` words that stay inside one text."""
    first = np.arange(owner.size - n + 1)
    inside: np.ndarray = first[owner[first] == owner[first + n - 1]]
    return inside


def _split_phrases(grams: Grams, owner: np.ndarray, texts: int) -> list[np.ndarray]:
    firsts = [_runs(owner, n) for n in range(1, MAX_PHRASE_WORDS + 1)]
    hashes = np.concatenate([grams._hashes(f, f + n) for n, f in enumerate(firsts, start=1)])
    owners = np.concatenate([owner[f] for f in firsts]).astype(np.uint64)
    # Text number in the top 16 bits, phrase hash below: one sort gives every text's
    # distinct phrases, grouped by text and sorted within it.
    tagged = np.unique((owners << _OWNER_SHIFT) | (hashes >> _PHRASE_SHIFT))
    bounds = np.searchsorted(tagged >> _OWNER_SHIFT, np.arange(texts + 1, dtype=np.uint64))
    phrases = tagged & np.uint64((1 << 48) - 1)
    # Copies: a slice would keep the whole chunk's array alive as long as one text's
    # phrases are remembered.
    return [phrases[bounds[i] : bounds[i + 1]].copy() for i in range(texts)]


def _split_shingles(grams: Grams, owner: np.ndarray, counts: np.ndarray) -> list[np.ndarray | None]:
    first = _runs(owner, SHINGLE_WORDS)
    values = (grams._hashes(first, first + SHINGLE_WORDS) >> np.uint64(32)).astype(np.uint32)
    per_text = np.maximum(counts - SHINGLE_WORDS + 1, 0)
    bounds = np.concatenate(([0], np.cumsum(per_text)))
    return [values[bounds[i] : bounds[i + 1]] if per_text[i] else None for i in range(counts.size)]


def batch_minhash(
    shingles: list[np.ndarray | None], permutations: np.ndarray
) -> list[np.ndarray | None]:
    """``near_dedup.minhash_values`` of each shingle array (None stays None), computed for
    all of them at once: one product and one segmented minimum."""
    present = [i for i, values in enumerate(shingles) if values is not None and values.size]
    result: list[np.ndarray | None] = [None] * len(shingles)
    if not present:
        return result
    arrays = [values for values in shingles if values is not None and values.size]
    hashes = np.concatenate(arrays)
    starts = np.zeros(len(arrays), dtype=np.intp)
    np.cumsum([a.size for a in arrays[:-1]], out=starts[1:])
    signatures = np.minimum.reduceat(_affine(hashes, permutations), starts, axis=0)
    for row, i in enumerate(present):
        result[i] = signatures[row].copy()  # not a view keeping the whole matrix alive
    return result


def _affine(hashes: np.ndarray, permutations: np.ndarray) -> np.ndarray:
    # Exactly near_dedup.minhash_values before its column minimum (tested equal).
    shift_1, multiply_1, shift_2, multiply_2 = (
        np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35)
    )  # fmt: skip
    mixed = hashes ^ (hashes >> shift_1)
    mixed = mixed * multiply_1
    mixed = mixed ^ (mixed >> shift_2)
    mixed = mixed * multiply_2
    mixed = mixed ^ (mixed >> shift_1)
    a, b = permutations
    values: np.ndarray = mixed[:, None] * a + b
    return values


def phrase_hashes(folded: str) -> np.ndarray:
    """Distinct hashes of every run of 1..4 words of a ``fold``-ed text (sorted uint64)."""
    return Grams(folded).phrases()


def phrase_text(folded: str, target: int) -> str | None:
    """The longest run of words of ``folded`` whose phrase hash (numbers collapsed, as the
    detectors hash them) is ``target``, or None. The words come back as written."""
    grams = Grams(_DIGITS.sub("0", folded))
    found = grams.span_of(target)
    if found is None:
        return None
    return " ".join(folded.split(" ")[found[0] : found[1]])


def band_keys(signature: np.ndarray, bands: int, rows: int) -> list[int]:
    """LSH band keys of a MinHash signature of at least ``bands * rows`` values, the band
    index included so equal rows in different bands never collide. (Hashes of tuples of
    ints are not salted: the keys are the same in every process.)"""
    values = signature[: bands * rows].tolist()
    return [hash((band, *values[band * rows : band * rows + rows])) for band in range(bands)]


def exact_key(text: str) -> int:
    """A 64-bit digest of ``text`` (for texts too short to shingle)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
