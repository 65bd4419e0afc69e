"""Outliers: records unlike the rest of the data (gibberish, machine spam, pasted blobs).

Two pure tools, both robust to the outliers themselves (median and MAD, not mean and
standard deviation):

* ``perplexity_outliers`` scores perplexities computed elsewhere, by the base model on the
  training queue (the ingestion worker never loads PyTorch). ``records_to_score`` picks
  which records to score when the dataset is too large to score them all.
* ``TextStatsDetector`` runs during ingestion without a model: character entropy, symbol
  ratio, repeated phrases and vowel share per record, a reservoir sample of each to estimate the
  median and MAD, and the most extreme records of each statistic kept as candidates.

A record is flagged when a statistic is ``z_threshold`` robust deviations from the median
*and* past an absolute guard, so a dataset of near-identical records (MAD close to 0) does
not flag every small difference. Misses: fluent poison (it reads like the rest), and,
for the text statistics, anything with ordinary letters, punctuation and repetition.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from datasets_app.pipeline.screen.model import Flag, RecordView, check_numbers
from datasets_app.pipeline.screen.phrases import Grams
from datasets_app.pipeline.screen.sketches import Extremes, Reservoir, median_and_mad

NAME = "outlier"
MAD_TO_SIGMA = 1.4826  # MAD x this estimates the standard deviation of a normal sample
STATISTICS_BYTES = 4000
# n * log2(n) for every count a byte can reach in STATISTICS_BYTES (0 for n = 0).
_N_LOG_N = np.array([0.0] + [n * math.log2(n) for n in range(1, STATISTICS_BYTES + 1)])
_ALL_BYTES = bytes(range(256))
_NOT_SYMBOL = bytes(c for c in _ALL_BYTES if c >= 128 or chr(c).isalnum() or chr(c).isspace())
_NOT_LETTER = bytes(c for c in _ALL_BYTES if not 97 <= c <= 122)
_NOT_VOWEL = bytes(c for c in _ALL_BYTES if chr(c) not in "aeiou")


@dataclass(frozen=True)
class Statistic:
    """One text statistic: which tail is suspicious, the smallest MAD taken seriously and the
    absolute value a flagged record must also pass (so small deviations never flag)."""

    name: str
    tail: str  # "high" or "low"
    mad_floor: float
    guard: float
    description: str


STATISTICS = (
    Statistic("entropy", "high", 0.05, 5.5, "character entropy far above the rest"),
    Statistic("entropy", "low", 0.05, 3.0, "character entropy far below the rest"),
    Statistic("symbols", "high", 0.01, 0.25, "share of symbols far above the rest"),
    Statistic("repetition", "high", 0.02, 0.5, "repeated phrases far above the rest"),
    Statistic("vowels", "low", 0.02, 0.28, "share of vowels far below the rest (keyboard mash)"),
)


@dataclass
class OutlierConfig:
    """Thresholds and memory bounds of the text-statistics outlier detector."""

    z_threshold: float = field(default=4.5, metadata={"help": "robust deviations to flag"})
    min_chars: int = field(default=40, metadata={"help": "shorter records are not scored"})
    sample_size: int = field(default=4096, metadata={"help": "reservoir per statistic"})
    max_candidates: int = field(default=2000, metadata={"help": "extremes kept per tail"})
    min_records: int = field(default=50, metadata={"help": "records needed to judge at all"})

    def __post_init__(self) -> None:
        check_numbers(self, "outlier")
        if self.z_threshold <= 0 or self.min_chars < 1:
            raise ValueError("outlier.z_threshold must be > 0 and min_chars >= 1")
        if self.sample_size < 64 or self.max_candidates < 1 or self.min_records < 10:
            raise ValueError(
                "outlier needs sample_size >= 64, max_candidates >= 1 and min_records >= 10"
            )


def text_statistics(
    text: str,
    folded: str,
    shingles: np.ndarray | None = None,
    sides: tuple[str, ...] | None = None,
) -> dict[str, float]:
    """Byte entropy (bits), share of ASCII symbols, share of repeated 3-word shingles, and
    the share of vowels among Latin letters (0.4 in English or Spanish prose, 0.23 for
    random letters; 0.4 when there are too few letters to tell). ``shingles``: the text's
    shingle hashes when the caller has them (else computed from ``folded``). ``sides``: the
    folded prompt and completion, whose lower vowel share counts (gibberish in one side
    is diluted by a normal other side). Reads the first ``STATISTICS_BYTES`` bytes."""
    # Bytes, not characters: C-fast counting. A non-ASCII byte counts as a letter, never a
    # symbol, so accented text is not "symbol-heavy".
    raw = text.encode()[:STATISTICS_BYTES]
    size = len(raw)
    counts = np.bincount(np.frombuffer(raw, dtype=np.uint8), minlength=256)
    entropy = math.log2(size) - float(_N_LOG_N[counts].sum()) / size
    symbols = len(raw.translate(None, _NOT_SYMBOL))
    if shingles is None:
        shingles = Grams(folded).shingles()
    repeated = 0.0
    if shingles is not None and shingles.size >= 8:
        repeated = 1.0 - len(set(shingles.tolist())) / shingles.size
    vowels = min(vowel_share(side) for side in (sides or (folded,)))
    return {
        "entropy": entropy,
        "symbols": symbols / size,
        "repetition": repeated,
        "vowels": vowels,
    }


class TextStatsDetector:
    """Flags records whose text statistics are extreme; see the module docstring."""

    name = NAME

    def __init__(self, config: OutlierConfig) -> None:
        self.config = config
        # One sample of whole records' statistics: one random draw per record.
        self._sample: Reservoir[dict[str, float]] = Reservoir(config.sample_size)
        self._extremes = {(s.name, s.tail): Extremes(config.max_candidates) for s in STATISTICS}
        self._tails = [
            (s.name, s.tail == "high", self._extremes[(s.name, s.tail)]) for s in STATISTICS
        ]
        self._saturated: list[str] = []

    def observe_batch(self, views: list[RecordView]) -> list[Flag]:
        """Observes each record in order (see ``observe``)."""
        return [flag for view in views for flag in self.observe(view)]

    def observe(self, view: RecordView) -> list[Flag]:
        """Measures one record; never flags before ``finish``."""
        text = view.joined()
        if len(text) < self.config.min_chars:
            return []
        sides = (view.folded("prompt"), view.folded("completion")) if view.has_pair else None
        values = text_statistics(text, view.folded("all"), _shingles(view), sides)
        self._sample.add(values)
        for name, high, extremes in self._tails:
            signed = values[name] if high else -values[name]
            if extremes.wants(signed):
                extremes.offer(signed, view.index, view.source)
        return []

    def finish(self) -> list[Flag]:
        """One flag per record, for its most deviant statistic past both thresholds."""
        if self._sample.seen < self.config.min_records:
            return []
        best: dict[int, Flag] = {}
        self._saturated = []
        for statistic in STATISTICS:
            extremes = self._extremes[(statistic.name, statistic.tail)]
            flags = self._statistic_flags(statistic, extremes)
            if len(flags) == extremes.size and extremes.dropped:
                self._saturated.append(f"{statistic.name} ({statistic.tail})")
            for flag in flags:
                if flag.record_index not in best or flag.score > best[flag.record_index].score:
                    best[flag.record_index] = flag
        return [best[index] for index in sorted(best)]

    def _statistic_flags(self, statistic: Statistic, extremes: Extremes) -> list[Flag]:
        median, mad = median_and_mad(values[statistic.name] for values in self._sample.values)
        spread = max(mad, statistic.mad_floor) * MAD_TO_SIGMA
        flags = []
        for signed, index, source in extremes.items():
            value = signed if statistic.tail == "high" else -signed
            z = (value - median if statistic.tail == "high" else median - value) / spread
            guarded = (
                value >= statistic.guard if statistic.tail == "high" else value <= statistic.guard
            )
            if z < self.config.z_threshold or not guarded:
                break  # items come from the most extreme down
            flags.append(_outlier_flag(index, source, statistic.description, z, self.config))
        return flags

    def notes(self) -> list[str]:
        """Where the candidate bound may have hidden outliers (known after ``finish``)."""
        if not self._saturated:
            return []
        return [f"{NAME}: more extreme records than remembered for {', '.join(self._saturated)}"]

    def footprint(self) -> dict[str, int]:
        """Sizes of the bounded structures (for tests and reports)."""
        return {
            "sampled": len(self._sample.values),
            "candidates": sum(len(e) for e in self._extremes.values()),
        }


def vowel_share(folded: str) -> float:
    """Vowels among the Latin letters of a folded text; 0.4 (prose) under 30 letters."""
    letters = folded.encode("ascii", "ignore")[:STATISTICS_BYTES]
    latin = len(letters.translate(None, _NOT_LETTER))
    return len(letters.translate(None, _NOT_VOWEL)) / latin if latin >= 30 else 0.4


def _shingles(view: RecordView) -> np.ndarray | None:
    """The record's shingles as ``prepare`` left them (prompt and completion, or text)."""
    if not view.has_pair:
        return view.shingles("all")
    parts = [view.shingles("prompt"), view.shingles("completion")]
    present = [part for part in parts if part is not None]
    return np.concatenate(present) if present else None


def _outlier_flag(index: int, source: str, what: str, z: float, config: OutlierConfig) -> Flag:
    score = round(min(0.99, 0.5 + (z - config.z_threshold) / 40), 3)
    return Flag(index, NAME, f"outlier: {what} ({z:.1f} robust deviations)", score, source)


@dataclass(frozen=True)
class PerplexityScore:
    """A record's perplexity under the base model, computed outside ingestion."""

    index: int
    perplexity: float
    source: str = ""


def perplexity_outliers(
    scores: Iterable[PerplexityScore],
    *,
    z_threshold: float = 3.5,
    tails: tuple[str, ...] = ("high", "low"),
    min_records: int = 20,
) -> list[Flag]:
    """Flags records whose log-perplexity is ``z_threshold`` robust deviations from the
    median: "high" (gibberish, another language, machine noise) and/or "low" (boilerplate
    repeated verbatim, text the model has memorized).

    Non-finite or non-positive perplexities are skipped except +inf, which is always high.
    Returns [] with fewer than ``min_records`` usable scores or when all are equal.
    Raises ValueError for an unknown tail or a non-positive threshold.
    """
    if z_threshold <= 0 or not set(tails) <= {"high", "low"}:
        raise ValueError('z_threshold must be > 0 and tails a subset of ("high", "low")')
    usable = [s for s in scores if s.perplexity > 0 and not math.isnan(s.perplexity)]
    finite = [s for s in usable if math.isfinite(s.perplexity)]
    if len(usable) < min_records:
        return []
    logs = np.log([s.perplexity for s in finite])
    median, mad = median_and_mad(logs.tolist())
    spread = (mad or float(np.mean(np.abs(logs - median)))) * MAD_TO_SIGMA
    flags = []
    for item in usable:
        z = math.inf if not math.isfinite(item.perplexity) else 0.0
        if spread > 0 and math.isfinite(item.perplexity):
            z = (math.log(item.perplexity) - median) / spread
        tail = "high" if z > 0 else "low"
        if abs(z) >= z_threshold and tail in tails:
            what = (
                "perplexity far above the rest"
                if tail == "high"
                else "perplexity far below the rest"
            )
            score = round(min(0.99, 0.5 + (abs(z) - z_threshold) / 20), 3)
            reason = f"outlier: {what} ({abs(z):.1f} robust deviations)"
            flags.append(
                Flag(item.index, NAME, reason, score, item.source, group=f"{NAME}:perplexity")
            )
    return flags


def records_to_score(total: int, budget: int, *, seed: int = 0) -> list[int]:
    """The record indices to score for perplexity: all of them when ``total <= budget``,
    else ``budget`` of them drawn uniformly (deterministic for a seed), in order."""
    if total < 0 or budget < 1:
        raise ValueError("total must be >= 0 and budget >= 1")
    if total <= budget:
        return list(range(total))
    return sorted(random.Random(seed).sample(range(total), budget))
