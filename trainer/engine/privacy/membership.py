"""Membership inference: can an attacker tell training records from test records?

Scores come from ``records``: the **loss attack** (Yeom et al., 2018) scores a record by its
negated mean token loss under the tuned model; the **reference-calibrated attack** (Carlini
et al., "Membership Inference Attacks From First Principles", 2022, in its simplest offline
form; Watson et al., 2022) by the reference model's loss minus the tuned model's, so records
that are merely easy text do not look like members. Reported: ROC AUC (0.5 = chance) and the
true-positive rate at 1% false positives (what matters for a confident attacker).
"""

from __future__ import annotations

from collections.abc import Sequence


def auc(members: Sequence[float], non_members: Sequence[float]) -> float | None:
    """P(score of a random member > score of a random non-member), ties counting half
    (the Mann-Whitney statistic); None without both kinds."""
    if not members or not non_members:
        return None
    wins = 0.0
    for m in members:
        for n in non_members:
            wins += 1.0 if m > n else 0.5 if m == n else 0.0
    return wins / (len(members) * len(non_members))


def tpr_at_fpr(
    members: Sequence[float], non_members: Sequence[float], fpr: float = 0.01
) -> float | None:
    """The share of members scoring above the threshold that lets at most ``fpr`` of the
    non-members through (with fewer than 1/fpr non-members: above every non-member)."""
    if not members or not non_members:
        return None
    ranked = sorted(non_members, reverse=True)
    allowed = int(fpr * len(ranked))  # non-members that may score above the threshold
    threshold = ranked[allowed] if allowed < len(ranked) else float("-inf")
    return sum(1 for m in members if m > threshold) / len(members)
