"""Direct Preference Optimization (Rafailov et al. 2023), sigmoid loss, as TRL 1.16 computes it.

For a pair, with log-probabilities summed over each answer's tokens and the reference model's
(recipes/preference.py):

    delta = (log pi(chosen) - log ref(chosen)) - (log pi(rejected) - log ref(rejected))
    loss  = -(1 - e) log sigmoid(beta delta) - e log sigmoid(-beta delta)

with e = `label_smoothing`, the probability that a label is flipped (conservative DPO; e = 0 is
TRL's `loss_type="sigmoid"`, and the e > 0 form is TRL's sigmoid loss of the pair and of the
swapped pair weighted 1 - e and e). The loss is the mean over the step's pairs. Reported, as
TRL does: the implicit rewards beta (log pi - log ref) of each answer, their margin, and the
reward accuracy (share of pairs whose chosen answer has the higher reward).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..config import TrainConfig
from .preference import PreferenceRecipe, SequenceLogps, require_kinds
from .preference_data import PreferenceBatch, PreferenceExample, answer_sequence, fit_pair

PAIR_STATS = {
    "reward_accuracy": "pairs",
    "reward_margin": "pairs",
    "reward_chosen": "pairs",
    "reward_rejected": "pairs",
}


class DPO(PreferenceRecipe):
    """The `dpo` objective."""

    name = "dpo"
    loss_terms = {"dpo": "pairs"}
    stats = PAIR_STATS

    def __init__(self, cfg: TrainConfig) -> None:
        super().__init__(cfg)
        self.beta, self.label_smoothing = cfg.beta, cfg.label_smoothing

    def examples_of(
        self, record: dict[str, Any], tokenizer: Any, index: int
    ) -> list[PreferenceExample]:
        return [pair_example(record, tokenizer, index, self)]

    def counts(self, batch: PreferenceBatch) -> dict[str, float]:
        return {"pairs": float(batch.n_examples)}

    def loss(
        self, policy: SequenceLogps, reference: torch.Tensor | None, batch: PreferenceBatch
    ) -> dict[str, torch.Tensor]:
        assert reference is not None
        ratios = policy.answer.view(-1, 2) - reference
        delta = ratios[:, 0] - ratios[:, 1]
        losses = -F.logsigmoid(self.beta * delta)
        if self.label_smoothing:
            e = self.label_smoothing
            losses = losses * (1 - e) - F.logsigmoid(-self.beta * delta) * e
        return {"dpo": losses.sum(), **pair_stats(self.beta * ratios.detach())}

    def preference_metrics(
        self, tuned: torch.Tensor, base: torch.Tensor | None, examples: Any
    ) -> dict[str, float]:
        """Reward accuracy and mean margin of the tuned model against the base on test pairs."""
        if base is None:
            return {}
        rewards = self.beta * (tuned[..., 0] - base[..., 0])
        return pair_metrics(rewards)


def pair_example(
    record: dict[str, Any], tokenizer: Any, index: int, recipe: PreferenceRecipe
) -> PreferenceExample:
    """A (chosen, rejected) example of a preference record, cut to share one row."""
    require_kinds(record, index, recipe.objective)
    chosen = answer_sequence(record, record["chosen"], tokenizer, index)
    rejected = answer_sequence(record, record["rejected"], tokenizer, index)
    return PreferenceExample(index, fit_pair(chosen, rejected, recipe.cfg.seq_len))


def pair_stats(rewards: torch.Tensor) -> dict[str, torch.Tensor]:
    """Summed statistics of [pairs, 2] rewards (chosen, rejected), without gradient."""
    margin = rewards[:, 0] - rewards[:, 1]
    return {
        "reward_accuracy": (margin > 0).float().sum(),
        "reward_margin": margin.sum(),
        "reward_chosen": rewards[:, 0].sum(),
        "reward_rejected": rewards[:, 1].sum(),
    }


def pair_metrics(rewards: torch.Tensor) -> dict[str, float]:
    """{reward_accuracy, reward_margin, test_pairs} of [pairs, 2] rewards (NaN rows skipped)."""
    rewards = rewards[~rewards.isnan().any(dim=1)]
    if not len(rewards):
        return {}
    margin = rewards[:, 0] - rewards[:, 1]
    return {
        "reward_accuracy": float((margin > 0).float().mean()),
        "reward_margin": float(margin.mean()),
        "test_pairs": float(len(rewards)),
    }


def build(cfg: TrainConfig) -> DPO:
    return DPO(cfg)
