"""Canary exposure (Carlini et al., "The Secret Sharer", USENIX Security 2019).

exposure = log2 |R| - log2 rank, where R is the space of secrets the template admits (10^8 for
an 8-digit code) and rank is the canary's place among all candidates ordered by the model's
likelihood of the whole sentence (1 = the model prefers the true secret to every other).

Ranking all 10^8 candidates is out of reach, so two estimates from ``samples`` random
candidates of the same template:

* **sampled rank**: rank among the samples, scaled to the space (``1 + better / samples x
  (|R| - 1)``); it cannot resolve exposures above log2(samples) (a canary better than every
  sample reads as "rank 1 among the samples");
* **distribution fit** (the paper's Section 5.3 estimate): candidates' log-likelihoods are
  close to normal; the fitted tail probability of a candidate beating the canary gives
  exposure = -log2 P(candidate >= canary), capped at log2 |R|.

The fit is the figure reported as ``exposure``; the sampled rank beside it shows whether the
canary beat every sample.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scipy.special import log_ndtr

from .canaries import SECRET_SPACE, Canary, random_secret


@dataclass(frozen=True)
class Exposure:
    """One canary's result (no secret: figures only)."""

    repetitions: int
    template: str
    exposure: float  # distribution-fit estimate, bits
    sampled_exposure: float  # from the sampled rank, bits (at most log2 samples)
    sampled_rank: int  # 1 + candidates scoring above the canary
    samples: int
    beats_all_samples: bool


def exposure_of(
    canary: Canary,
    score: Callable[[Sequence[str]], list[float]],
    *,
    samples: int = 100,
    seed: int = 0,
) -> Exposure:
    """Rank ``canary`` among ``samples`` random candidates of its template; ``score`` gives
    each sentence's log-likelihood under the model (higher = more likely)."""
    rng = random.Random(f"{seed}:{canary.prefix}:{canary.secret}")
    candidates: list[str] = []
    while len(candidates) < samples:
        secret = random_secret(rng)
        if secret != canary.secret:
            candidates.append(canary.prefix + secret + canary.suffix)
    values = score([canary.text, *candidates])
    mine, others = values[0], values[1:]
    better = sum(1 for v in others if v > mine)
    space_bits = math.log2(SECRET_SPACE)
    estimated_rank = 1 + better / samples * (SECRET_SPACE - 1)
    return Exposure(
        repetitions=canary.repetitions,
        template=canary.template,
        exposure=round(fitted_exposure(mine, others, space_bits), 3),
        sampled_exposure=round(space_bits - math.log2(estimated_rank), 3),
        sampled_rank=better + 1,
        samples=samples,
        beats_all_samples=better == 0,
    )


def fitted_exposure(mine: float, others: Sequence[float], cap_bits: float) -> float:
    """-log2 P(X >= mine) for X normal with the candidates' mean and deviation, in [0, cap]."""
    mean = statistics.fmean(others)
    deviation = statistics.pstdev(others) or 1e-6
    log_tail = float(log_ndtr(-(mine - mean) / deviation))  # natural log of P(X >= mine)
    return max(0.0, min(cap_bits, -log_tail / math.log(2)))


def by_repetitions(results: Sequence[Exposure]) -> dict[str, dict[str, float]]:
    """Mean and maximum exposure, and how many canaries beat every sample, per count."""
    grouped: dict[int, list[Exposure]] = {}
    for result in results:
        grouped.setdefault(result.repetitions, []).append(result)
    return {
        str(count): {
            "canaries": len(items),
            "mean_exposure": round(statistics.fmean(e.exposure for e in items), 3),
            "max_exposure": round(max(e.exposure for e in items), 3),
            "beat_all_samples": sum(e.beats_all_samples for e in items),
        }
        for count, items in sorted(grouped.items())
    }
