"""Odds Ratio Preference Optimization (Hong et al. 2024), as TRL 1.16's ORPOTrainer computes it.

No reference model. For a pair, with the policy's *mean* log-probability per answer token p_c and
p_r (so P = exp(p) is a per-token likelihood in (0, 1)):

    log odds = (p_c - p_r) - (log(1 - exp(p_c)) - log(1 - exp(p_r)))
    loss     = NLL(chosen) - lambda * mean over pairs of log sigmoid(log odds)

where NLL is the next-token loss over every token of the chosen sequences, prompt included (TRL
computes it "over the full prompt and response"), averaged over the step's chosen tokens, and
lambda is `orpo_lambda` (TRL's `beta`). Reported, as TRL does: rewards lambda * p for each
answer, their margin and the reward accuracy.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..config import TrainConfig
from .dpo import PAIR_STATS, pair_example, pair_metrics, pair_stats
from .preference import PreferenceRecipe, SequenceLogps
from .preference_data import PreferenceBatch, PreferenceExample

_LOG_HALF = -0.6931471805599453


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(x)) for x < 0, switching formula at -ln 2 to avoid cancellation."""
    return torch.where(x < _LOG_HALF, torch.log1p(-torch.exp(x)), torch.log(-torch.expm1(x)))


class ORPO(PreferenceRecipe):
    """The `orpo` objective."""

    name = "orpo"
    all_targets = True  # the next-token term covers the prompt's tokens too
    loss_terms = {"nll": "chosen_tokens", "odds_ratio": "pairs"}
    stats = PAIR_STATS

    def __init__(self, cfg: TrainConfig) -> None:
        super().__init__(cfg)
        self.orpo_lambda = cfg.orpo_lambda

    def examples_of(
        self, record: dict[str, Any], tokenizer: Any, index: int
    ) -> list[PreferenceExample]:
        return [pair_example(record, tokenizer, index, self)]

    def counts(self, batch: PreferenceBatch) -> dict[str, float]:
        chosen = batch.main.target_sequence % 2 == 0  # sequence 2k is pair k's chosen answer
        return {"pairs": float(batch.n_examples), "chosen_tokens": float(chosen.sum())}

    def loss(
        self, policy: SequenceLogps, reference: torch.Tensor | None, batch: PreferenceBatch
    ) -> dict[str, torch.Tensor]:
        mean = (policy.answer / policy.answer_tokens.clamp(min=1.0)).view(-1, 2)
        chosen, rejected = mean[:, 0], mean[:, 1]
        log_odds = (chosen - rejected) - (log1mexp(chosen) - log1mexp(rejected))
        nll = -policy.every_target.view(-1, 2)[:, 0].sum()
        odds_ratio = -self.orpo_lambda * F.logsigmoid(log_odds).sum()
        return {
            "nll": nll,
            "odds_ratio": odds_ratio,
            **pair_stats(self.orpo_lambda * mean.detach()),
        }

    def preference_metrics(
        self, tuned: torch.Tensor, base: torch.Tensor | None, examples: Any
    ) -> dict[str, float]:
        """Reward accuracy and mean margin of lambda x mean answer log-probability (ORPO has no
        reference), for the tuned model and, beside it, the base."""
        metrics = pair_metrics(self.orpo_lambda * _mean_logps(tuned))
        if base is not None:
            before = pair_metrics(self.orpo_lambda * _mean_logps(base))
            metrics.update({f"base_{k}": v for k, v in before.items() if k != "test_pairs"})
        return metrics


def _mean_logps(scores: torch.Tensor) -> torch.Tensor:
    """[examples, sequences] mean answer log-probability from (sum, tokens) scores."""
    return scores[..., 0] / scores[..., 1].clamp(min=1.0)


def build(cfg: TrainConfig) -> ORPO:
    return ORPO(cfg)
