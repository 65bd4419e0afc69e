"""Kahneman-Tversky Optimization (Ethayarajh et al. 2024), as TRL 1.16's KTOTrainer computes it.

Each example is one answer marked good (`label: true`) or bad; preference pairs are split into
their chosen (good) and rejected (bad) answers, all chosen ones first, as TRL's
`unpair_preference_dataset` does. With r = beta (log pi(answer) - log ref(answer)) and z the KL
estimate:

    good: 1 - sigmoid(r - beta z), weighted by desirable_weight
    bad:  1 - sigmoid(beta z - r), weighted by undesirable_weight

averaged over the step's answers. z is estimated as TRL does, from mismatched pairs: every
example also carries its prompt followed by the previous example's answer (the first takes the
last's; `preference_data.with_kl_sequences`), and z = max(0, mean over the step's KL sequences,
on every rank, of log pi - log ref), computed without gradient before the step's micro-batches
run. TRL computes it per micro-batch; with one micro-batch (no accumulation) the two agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .. import registry
from ..config import TrainConfig
from .base import StepContext
from .preference import PreferenceRecipe, SequenceLogps, require_kinds, step_kl
from .preference_data import (
    PreferenceBatch,
    PreferenceExample,
    PreferenceSplit,
    answer_sequence,
    with_kl_sequences,
)


class KTO(PreferenceRecipe):
    """The `kto` objective."""

    name = "kto"
    loss_terms = {"kto": "answers"}
    stats = {"reward_chosen": "desirable", "reward_rejected": "undesirable", "kl": "answers"}

    def __init__(self, cfg: TrainConfig) -> None:
        super().__init__(cfg)
        self.beta = cfg.beta
        self.desirable_weight, self.undesirable_weight = (
            cfg.desirable_weight,
            cfg.undesirable_weight,
        )

    def prepare(
        self, records: Sequence[dict[str, Any]], tokenizer: Any, split: str
    ) -> PreferenceSplit:
        """The split's answers (those cut to nothing by seq_len dropped and counted), each with
        its KL sequence; DataError for a record KTO cannot train on."""
        good_first, then_bad = [], []
        for index, record in enumerate(records):
            kind = require_kinds(record, index, self.objective)
            if kind == registry.PREFERENCE:
                good_first.append(self._answer(record, record["chosen"], True, tokenizer, index))
                then_bad.append(self._answer(record, record["rejected"], False, tokenizer, index))
            else:
                good_first.append(
                    self._answer(record, record["completion"], record["label"], tokenizer, index)
                )
        candidates = good_first + then_bad
        kept = [e for e in candidates if e.sequences[0].answer_tokens > 0]
        numbered = [PreferenceExample(k, e.sequences, e.label) for k, e in enumerate(kept)]
        examples = with_kl_sequences(numbered, self.cfg.seq_len)
        return PreferenceSplit(examples, dropped=len(candidates) - len(kept))

    def _answer(
        self, record: dict[str, Any], answer: str, label: bool, tokenizer: Any, index: int
    ) -> PreferenceExample:
        sequence = answer_sequence(record, answer, tokenizer, index).truncated(self.cfg.seq_len)
        return PreferenceExample(index, (sequence,), label)

    def counts(self, batch: PreferenceBatch) -> dict[str, float]:
        good = float(batch.labels.sum())
        return {
            "answers": float(batch.n_examples),
            "desirable": good,
            "undesirable": batch.n_examples - good,
        }

    def before_batches(self, step: StepContext, batches: list[PreferenceBatch]) -> None:
        step_kl(step, batches)

    def loss(
        self, policy: SequenceLogps, reference: torch.Tensor | None, batch: PreferenceBatch
    ) -> dict[str, torch.Tensor]:
        assert reference is not None and batch.kl_value is not None
        ratios = policy.answer - reference[:, 0]
        kl = batch.kl_value
        good = batch.labels
        desirable = 1 - torch.sigmoid(self.beta * (ratios - kl))
        undesirable = 1 - torch.sigmoid(self.beta * (kl - ratios))
        losses = torch.where(
            good, self.desirable_weight * desirable, self.undesirable_weight * undesirable
        )
        rewards = self.beta * ratios.detach()
        return {
            "kto": losses.sum(),
            "reward_chosen": (rewards * good).sum(),
            "reward_rejected": (rewards * ~good).sum(),
            "kl": kl * batch.n_examples,
        }

    def preferred_answer(self, record: dict[str, Any]) -> str | None:
        if "chosen" in record:
            return str(record["chosen"])
        return str(record["completion"]) if record.get("label") is True else None

    def preference_metrics(
        self, tuned: torch.Tensor, base: torch.Tensor | None, examples: Any
    ) -> dict[str, float]:
        """On the test answers: reward accuracy (good answers with a positive reward, bad ones
        with a negative one) and margin (mean reward of the good minus that of the bad)."""
        if base is None:
            return {}
        rewards = self.beta * (tuned[:, 0, 0] - base[:, 0, 0])
        labels = torch.tensor([example.label for example in examples.examples])
        scored = ~rewards.isnan()
        rewards, labels = rewards[scored], labels[scored]
        if not len(rewards):
            return {}
        right = torch.where(labels, rewards > 0, rewards < 0).float().mean()
        metrics = {"reward_accuracy": float(right), "test_answers": float(len(rewards))}
        if labels.any() and (~labels).any():
            metrics["reward_margin"] = float(rewards[labels].mean() - rewards[~labels].mean())
        return metrics


def build(cfg: TrainConfig) -> KTO:
    return KTO(cfg)
