"""Statistics of model comparisons: win rates with confidence intervals, Bradley-Terry and Elo
rankings, and inter-rater agreement (Cohen's and Fleiss' kappa).

Pure Python (``math``, ``statistics``): no NumPy, no Django. Every function takes plain counts
or labels and returns plain numbers, so the arena, the judge and the report share one
definition of each figure.

Ties: a pairwise vote is a win for A, a win for B, or a tie ("both bad" is a tie for ranking
purposes: neither answer won). By default a tie counts as half a win for each side, as
Chatbot Arena and AlpacaEval count them, so a model that ties every time sits at 0.5 and the
interval still narrows with every vote. ``ties="exclude"`` scores decisive votes only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

TieRule = Literal["half", "exclude"]
IntervalMethod = Literal["wilson", "exact"]


# --- binomial intervals -------------------------------------------------------------------


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie strictly between 0 and 1")
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def wilson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (Wilson 1927). ``successes`` may be fractional
    (half-counted ties). Returns (0, 1) when ``n`` is 0."""
    if n < 0 or not 0 <= successes <= n:
        raise ValueError("need 0 <= successes <= n")
    if n == 0:
        return 0.0, 1.0
    z = _z(confidence)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _binomial_tail_at_least(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in log space (stable for large n)."""
    if k <= 0:
        return 1.0
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(n + 1)
        - math.lgamma(i + 1)
        - math.lgamma(n - i + 1)
        + i * log_p
        + (n - i) * log_q
        for i in range(k, n + 1)
    ]
    peak = max(terms)
    return math.exp(peak) * sum(math.exp(t - peak) for t in terms)


def _bisect(increasing: bool, target: float, f: Callable[[float], float]) -> float:
    """The p in [0, 1] where the monotonic ``f`` reaches ``target`` (60 halvings)."""
    low, high = 0.0, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        value = f(mid)
        if (value < target) == increasing:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def clopper_pearson_interval(
    successes: int, n: int, confidence: float = 0.95
) -> tuple[float, float]:
    """The exact (Clopper-Pearson 1934) interval: the p whose binomial tails at ``successes``
    equal (1 - confidence) / 2. Conservative: covers at least ``confidence``."""
    if n < 0 or not 0 <= successes <= n or int(successes) != successes:
        raise ValueError("need whole counts with 0 <= successes <= n")
    if n == 0:
        return 0.0, 1.0
    alpha = (1 - confidence) / 2
    _z(confidence)
    lower = (
        0.0
        if successes == 0
        else _bisect(True, alpha, lambda p: _binomial_tail_at_least(successes, n, p))
    )
    upper = (
        1.0
        if successes == n
        else _bisect(False, alpha, lambda p: 1 - _binomial_tail_at_least(successes + 1, n, p))
    )
    return lower, upper


@dataclass(frozen=True)
class WinRate:
    """A's share of the votes against B, with its confidence interval."""

    wins: int
    losses: int
    ties: int
    rate: float
    low: float
    high: float
    confidence: float

    @property
    def votes(self) -> int:
        return self.wins + self.losses + self.ties


def win_rate(
    wins: int,
    losses: int,
    ties: int = 0,
    *,
    tie_rule: TieRule = "half",
    method: IntervalMethod = "wilson",
    confidence: float = 0.95,
) -> WinRate:
    """A's win rate against B and its interval (see the module docstring for ties).

    ``method="exact"`` (Clopper-Pearson) needs whole counts, so it refuses half-counted ties
    (ValueError) unless there are none. With no votes the rate is 0.5 and the interval (0, 1).
    """
    if min(wins, losses, ties) < 0:
        raise ValueError("vote counts cannot be negative")
    successes: float = wins + (ties / 2 if tie_rule == "half" else 0)
    n = wins + losses + (ties if tie_rule == "half" else 0)
    if method == "exact":
        if successes != int(successes):
            raise ValueError("the exact interval needs whole counts: use tie_rule='exclude'")
        low, high = clopper_pearson_interval(int(successes), n, confidence)
    else:
        low, high = wilson_interval(successes, n, confidence)
    rate = successes / n if n else 0.5
    return WinRate(wins, losses, ties, rate, low, high, confidence)


# --- rankings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One pairwise verdict: ``winner`` is ``"a"``, ``"b"`` or ``"tie"``."""

    a: Hashable
    b: Hashable
    winner: Literal["a", "b", "tie"]


def _pair_counts(
    comparisons: Iterable[Comparison],
) -> tuple[list[Hashable], dict[tuple[Hashable, Hashable], float]]:
    """Players in first-seen order and wins[(i, j)]: i's wins over j, a tie half to each."""
    players: dict[Hashable, None] = {}
    wins: dict[tuple[Hashable, Hashable], float] = {}
    for c in comparisons:
        if c.a == c.b:
            raise ValueError("a model cannot be compared with itself")
        players.setdefault(c.a)
        players.setdefault(c.b)
        share = {"a": (1.0, 0.0), "b": (0.0, 1.0), "tie": (0.5, 0.5)}[c.winner]
        wins[(c.a, c.b)] = wins.get((c.a, c.b), 0.0) + share[0]
        wins[(c.b, c.a)] = wins.get((c.b, c.a), 0.0) + share[1]
    return list(players), wins


def bradley_terry(
    comparisons: Iterable[Comparison],
    *,
    prior: float = 0.0,
    max_iterations: int = 10_000,
    tolerance: float = 1e-10,
) -> dict[Hashable, float]:
    """Bradley-Terry strengths by the MM algorithm of Hunter (2004, Ann. Statist. 32:384),
    normalised to sum to 1; P(i beats j) = s_i / (s_i + s_j).

    Ties count half a win to each side. ``prior`` adds that many virtual ties to every pair
    that met, which keeps a model that never won above zero (the plain maximum-likelihood
    estimate then sits on the boundary). A player with no wins and no prior goes to 0.
    """
    players, wins = _pair_counts(comparisons)
    if prior:
        for i, j in list(wins):
            wins[(i, j)] += prior / 2
    games = {(i, j): wins.get((i, j), 0.0) + wins.get((j, i), 0.0) for (i, j) in wins}
    strength = dict.fromkeys(players, 1.0 / max(len(players), 1))
    for _ in range(max_iterations):
        updated = {}
        for i in players:
            won = sum(w for (x, _), w in wins.items() if x == i)
            rate = sum(
                n / (strength[i] + strength[j])
                for (x, j), n in games.items()
                if x == i and strength[i] + strength[j] > 0
            )
            updated[i] = won / rate if rate else 0.0
        total = sum(updated.values()) or 1.0
        updated = {k: v / total for k, v in updated.items()}
        change = max(abs(updated[k] - strength[k]) for k in players)
        strength = updated
        if change < tolerance:
            break
    return strength


def bradley_terry_ratings(
    strengths: dict[Hashable, float], *, scale: float = 400.0, anchor: float = 1000.0
) -> dict[Hashable, float]:
    """Strengths on the Elo scale: 400 log10(s) shifted so that the mean rating is
    ``anchor`` (a zero strength maps to -inf)."""
    logs = {k: scale * math.log10(v) if v > 0 else -math.inf for k, v in strengths.items()}
    finite = [v for v in logs.values() if math.isfinite(v)]
    shift = anchor - (sum(finite) / len(finite) if finite else 0.0)
    return {k: v + shift for k, v in logs.items()}


def elo_expected(rating: float, opponent: float, scale: float = 400.0) -> float:
    """The expected score of a player against an opponent (logistic, base 10)."""
    return 1 / (1 + 10 ** ((opponent - rating) / scale))


def elo_update(rating: float, results: Sequence[tuple[float, float]], k: float = 32.0) -> float:
    """The new rating after games against opponents, each ``(opponent rating, score)`` with
    score 1, 0.5 or 0, expectations taken from the ratings before the games."""
    expected = sum(elo_expected(rating, opponent) for opponent, _ in results)
    actual = sum(score for _, score in results)
    return rating + k * (actual - expected)


def elo_ratings(
    comparisons: Iterable[Comparison], *, k: float = 32.0, initial: float = 1000.0
) -> dict[Hashable, float]:
    """Elo ratings updated vote by vote, in the order given (Elo depends on that order;
    Bradley-Terry does not, which is why the report ranks by it and shows Elo beside)."""
    ratings: dict[Hashable, float] = {}
    for c in comparisons:
        ra, rb = ratings.setdefault(c.a, initial), ratings.setdefault(c.b, initial)
        score = {"a": 1.0, "b": 0.0, "tie": 0.5}[c.winner]
        ratings[c.a] = elo_update(ra, [(rb, score)], k)
        ratings[c.b] = elo_update(rb, [(ra, 1 - score)], k)
    return ratings


# --- agreement ----------------------------------------------------------------------------


def cohen_kappa(first: Sequence[Hashable], second: Sequence[Hashable]) -> float:
    """Cohen's kappa (1960) of two raters who labelled the same items, in the same order.

    Returns 1.0 when both raters used one and the same label throughout (perfect, though
    chance agreement is 1 too). Raises ValueError on different lengths or no items.
    """
    if len(first) != len(second) or not first:
        raise ValueError("two non-empty label lists of the same length are needed")
    n = len(first)
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / n
    labels = set(first) | set(second)
    expected = sum((list(first).count(c) / n) * (list(second).count(c) / n) for c in labels)
    if expected == 1:
        return 1.0
    return (observed - expected) / (1 - expected)


def fleiss_kappa(counts: Sequence[Sequence[int]]) -> float:
    """Fleiss' kappa (1971) from a table with one row per item and one column per category,
    each cell the number of raters who chose that category for that item.

    Items may have different numbers of raters (each item's agreement is taken over its own
    rater pairs; with equal numbers this is Fleiss' formula); items with fewer than two are
    left out. Raises ValueError when no item has two ratings.
    """
    rows = [list(r) for r in counts if sum(r) >= 2]
    if not rows:
        raise ValueError("Fleiss' kappa needs items rated at least twice")
    total = sum(sum(r) for r in rows)
    shares = [sum(r[j] for r in rows) / total for j in range(len(rows[0]))]
    agreement = [sum(c * (c - 1) for c in r) / (sum(r) * (sum(r) - 1)) for r in rows]
    observed = sum(agreement) / len(rows)
    expected = sum(p * p for p in shares)
    if expected == 1:
        return 1.0
    return (observed - expected) / (1 - expected)


def fleiss_table(
    ratings: Iterable[Sequence[Hashable]], categories: Sequence[Hashable]
) -> list[list[int]]:
    """Turn each item's list of labels into a row of category counts for ``fleiss_kappa``."""
    index = {c: i for i, c in enumerate(categories)}
    table = []
    for labels in ratings:
        row = [0] * len(categories)
        for label in labels:
            row[index[label]] += 1
        table.append(row)
    return table
