"""Bounded-memory summaries the detectors keep instead of the records themselves.

All of them are deterministic (fixed seeds, no salted ``hash``), so the same records in
the same order give the same flags in every process.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Iterable
from typing import Generic, Protocol, TypeVar

import numpy as np

OTHER_SOURCE = "(other)"
T = TypeVar("T")
_ROW_MULTIPLIERS = np.array(
    [
        0x9E3779B97F4A7C15,
        0xC2B2AE3D27D4EB4F,
        0x165667B19E3779F9,
        0xD6E8FEB86659FD93,
        0xFF51AFD7ED558CCD,
        0xC4CEB9FE1A85EC53,
        0x94D049BB133111EB,
        0xBF58476D1CE4E5B9,
    ],
    dtype=np.uint64,
)


class CountMinSketch:
    """Approximate counts of 64-bit keys in ``depth`` x ``width`` 32-bit cells.

    Estimates overcount only through collisions, and little: conservative update raises
    only the cells that hold the minimum. (Two keys of one ``add_unique`` call sharing a
    cell may undercount one of them by one.) Memory is fixed: 4 x depth x width bytes (16 MiB for 4 x 2^20).
    """

    def __init__(self, *, width_bits: int = 20, depth: int = 4) -> None:
        if not 8 <= width_bits <= 28 or not 1 <= depth <= len(_ROW_MULTIPLIERS):
            raise ValueError(
                f"need 8 <= width_bits <= 28 and 1 <= depth <= {len(_ROW_MULTIPLIERS)}"
            )
        self._shift = np.uint64(64 - width_bits)
        self._multipliers = _ROW_MULTIPLIERS[:depth, None]
        self._rows = np.arange(depth)[:, None]
        self.table = np.zeros((depth, 1 << width_bits), dtype=np.uint32)

    def _cells(self, keys: np.ndarray) -> np.ndarray:
        # Multiply-shift hashing: one odd multiplier per row, top bits as the column.
        return ((keys[None, :] * self._multipliers) >> self._shift).astype(np.intp)

    def add_unique(self, keys: np.ndarray) -> None:
        """Counts each key once (``keys`` must hold no repeats: use ``np.unique``)."""
        if keys.size == 0:
            return
        cells = self._cells(keys)
        current = self.table[self._rows, cells]
        # Keys are distinct, so two of them share a cell of a row only by a collision (about
        # m^2 / 2w pairs per row); then the last write wins, off by one at most.
        self.table[self._rows, cells] = np.maximum(current, current.min(axis=0) + np.uint32(1))

    def add_documents(self, documents: list[np.ndarray]) -> None:
        """Counts each key once per document (each array holds distinct keys), all
        documents in one conservative update weighted by how many documents hold a key."""
        keys, counts = np.unique(np.concatenate(documents), return_counts=True)
        if keys.size == 0:
            return
        cells = self._cells(keys)
        current = self.table[self._rows, cells]
        raised = current.min(axis=0) + counts.astype(np.uint32)
        self.table[self._rows, cells] = np.maximum(current, raised)

    def estimate(self, keys: np.ndarray) -> np.ndarray:
        """Returns the estimated count of each key (int64)."""
        if keys.size == 0:
            return np.zeros(0, dtype=np.int64)
        counts: np.ndarray = self.table[self._rows, self._cells(keys)].min(axis=0)
        return counts.astype(np.int64)

    @property
    def nbytes(self) -> int:
        """Bytes held by the table (constant)."""
        return int(self.table.nbytes)


class Reservoir(Generic[T]):
    """A uniform sample of at most ``size`` items from a stream (Vitter's algorithm R)."""

    def __init__(self, size: int, *, seed: int = 0) -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        self.size = size
        self.seen = 0
        self.values: list[T] = []
        self._random = random.Random(seed)

    def add(self, value: T) -> None:
        """Offers one value to the sample."""
        self.seen += 1
        if len(self.values) < self.size:
            self.values.append(value)
            return
        slot = self._random.randrange(self.seen)
        if slot < self.size:
            self.values[slot] = value


class Extremes:
    """The ``size`` records with the highest ``value`` seen so far (a min-heap), each with a
    short label (its source). Ties keep the earlier record, whatever the heap's internals."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        self.size = size
        self.dropped = 0
        self._heap: list[tuple[float, int, str]] = []

    def wants(self, value: float) -> bool:
        """True when ``offer(value, ...)`` would keep the value (ties aside)."""
        return len(self._heap) < self.size or value > self._heap[0][0]

    def offer(self, value: float, index: int, label: str = "") -> None:
        """Keeps (value, index, label) if value is among the ``size`` highest so far."""
        entry = (value, -index, label)
        if len(self._heap) < self.size:
            heapq.heappush(self._heap, entry)
            return
        self.dropped += 1
        if entry[:2] > self._heap[0][:2]:
            heapq.heapreplace(self._heap, entry)

    def items(self) -> list[tuple[float, int, str]]:
        """(value, index, label) triples, highest value first."""
        ordered = sorted(self._heap, key=lambda entry: entry[:2], reverse=True)
        return [(value, -negative, label) for value, negative, label in ordered]

    def __len__(self) -> int:
        return len(self._heap)


class SourceCounter:
    """Counts per source for at most ``capacity`` distinct sources; later ones are counted
    under ``OTHER_SOURCE``, so a dataset whose every record names its own source (a file
    and line) cannot grow it without bound."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.counts: Counter[str] = Counter()
        self.total = 0

    def key(self, source: str) -> str:
        """The name ``source`` is counted under."""
        if source in self.counts or len(self.counts) < self.capacity:
            return source
        return OTHER_SOURCE

    def add(self, source: str, amount: int = 1) -> str:
        """Counts ``amount`` records for ``source``; returns the name it was counted under."""
        key = self.key(source)
        self.counts[key] += amount
        self.total += amount
        return key

    def share(self, source: str) -> float:
        """Fraction of all counted records that came from ``source``."""
        return self.counts.get(source, 0) / self.total if self.total else 0.0


def top_share(counts: Counter[str]) -> tuple[str, int]:
    """The most common key and its count (ties: the smallest key), or ("", 0)."""
    if not counts:
        return "", 0
    key = min(counts, key=lambda name: (-counts[name], name))
    return key, counts[key]


def bounded_increment(counts: Counter[str], key: str, capacity: int, amount: int = 1) -> None:
    """Counts ``key`` in a counter of at most ``capacity`` keys (overflow: OTHER_SOURCE)."""
    if key not in counts and len(counts) >= capacity:
        key = OTHER_SOURCE
    counts[key] += amount


def median_and_mad(values: Iterable[float]) -> tuple[float, float]:
    """The median and the median absolute deviation of ``values`` (0.0, 0.0 when empty)."""
    array = np.asarray(list(values), dtype=np.float64)
    if array.size == 0:
        return 0.0, 0.0
    median = float(np.median(array))
    return median, float(np.median(np.abs(array - median)))


class _Cluster(Protocol):
    id: int
    size: int


C = TypeVar("C", bound=_Cluster)


def smallest_tenth(clusters: Iterable[C]) -> list[C]:
    """What a full cluster table forgets: its smallest tenth (at least one), the oldest first
    among equals. A growing pattern stays; chance pairs go."""
    ranked = sorted(clusters, key=lambda cluster: (cluster.size, cluster.id))
    return ranked[: max(1, len(ranked) // 10)]


def bound_notes(detector: str, *, forgotten: int, unremembered: int) -> list[str]:
    """The report lines of a detector whose cluster table or member list was full."""
    notes = []
    if forgotten:
        notes.append(f"{detector}: {forgotten} small clusters were forgotten")
    if unremembered:
        notes.append(f"{detector}: {unremembered} cluster members were not remembered")
    return notes
