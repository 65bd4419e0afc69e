"""What the preference objectives (dpo, orpo, kto) share: examples, batches, the loss module and
the reference model.

The loss module computes, for every sequence of a micro-batch, the summed log-probability of
its answer tokens (one forward over the packed rows, `modeling.target_log_probs`), then hands
them to the objective's `loss`. The reference model of DPO and KTO is:
- with an adapter method (LoRA, DoRA, QLoRA): the same model with its adapters disabled, run
  without gradient in the same forward: no second copy of the weights;
- otherwise (full, freeze): the model before training, whose log-probabilities are computed
  once before the first step and kept, encrypted, beside the checkpoints (reference.py), so a
  resumed run uses the same numbers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .. import registry
from ..config import TrainConfig
from ..data import DataError, prompt_messages, record_kind
from ..distributed import DistContext
from ..methods import PreparedModel
from ..modeling import target_log_probs
from .base import RecipeDefaults, StepContext, stream_settings
from .preference_data import (
    ExampleStream,
    PackedSequences,
    PreferenceBatch,
    PreferenceExample,
    PreferenceSplit,
    fixed_example_batches,
)

EVALUATION_ROWS = 256  # packed rows of test examples scored by the final evaluation


@dataclass
class SequenceLogps:
    """Per-sequence sums of a micro-batch: answer log-probabilities and answer tokens, and
    (ORPO, prompts included) the log-probabilities of every target token."""

    answer: torch.Tensor
    answer_tokens: torch.Tensor
    every_target: torch.Tensor


def sequence_logps(model: nn.Module, packed: PackedSequences, *, varlen: bool) -> SequenceLogps:
    """Sum the target log-probabilities of `packed` per sequence (gradient when enabled)."""
    logps = target_log_probs(model, packed.batch, varlen=varlen)
    owner, answer = packed.target_sequence, packed.answer_target
    zeros = logps.new_zeros(packed.n_sequences)
    return SequenceLogps(
        answer=zeros.index_add(0, owner, logps * answer),
        answer_tokens=zeros.index_add(0, owner, answer.to(logps.dtype)),
        every_target=zeros.index_add(0, owner, logps),
    )


@contextlib.contextmanager
def adapters_disabled(model: Any) -> Iterator[None]:
    """The base model: the PEFT model's adapters switched off for the block."""
    with model.disable_adapter():
        yield


class PreferenceLoss(nn.Module):
    """forward(batch, phase): the recipe's loss terms ('loss'), the reference log-probabilities
    of the batch's sequences ('reference': [examples, sequences (+1 KL)], from this model as it
    is), or KTO's KL sums ('kl': [sum of policy - reference, count]). One module with phases,
    so DDP and FSDP wrap every forward the same way."""

    def __init__(
        self, model: nn.Module, recipe: PreferenceRecipe, *, varlen: bool, adapter: bool
    ) -> None:
        super().__init__()
        self.model = model
        self.recipe = recipe
        self.varlen = varlen
        self.adapter = adapter

    def forward(self, batch: PreferenceBatch, phase: str = "loss") -> Any:
        if phase == "loss":
            policy = sequence_logps(self.model, batch.main, varlen=self.varlen)
            reference = self._reference(batch) if self.recipe.reference else None
            return self.recipe.loss(policy, reference, batch)
        if phase == "reference":
            return self._own_logps(batch)
        if phase == "kl":
            return self._kl_sums(batch)
        raise ValueError(f"unknown phase {phase!r}")

    def _logps(self, packed: PackedSequences, *, base: bool) -> torch.Tensor:
        """Answer log-probabilities per sequence, without gradient; of the base model when
        `base` (adapters off)."""
        context = adapters_disabled(self.model) if base else contextlib.nullcontext()
        with torch.no_grad(), context:
            return sequence_logps(self.model, packed, varlen=self.varlen).answer

    def _reference(self, batch: PreferenceBatch) -> torch.Tensor:
        """[examples, sequences]: cached, or from the base model (adapters off)."""
        per = batch.sequences_per_example
        if batch.reference is not None:
            return batch.reference[:, :per]
        if not self.adapter:
            raise RuntimeError("full fine-tuning needs the cached reference log-probabilities")
        return self._logps(batch.main, base=True).view(-1, per)

    def _own_logps(self, batch: PreferenceBatch) -> torch.Tensor:
        main = self._logps(batch.main, base=False).view(batch.n_examples, -1)
        if batch.kl is None:
            return main
        return torch.cat([main, self._logps(batch.kl, base=False).view(-1, 1)], dim=1)

    def _kl_sums(self, batch: PreferenceBatch) -> torch.Tensor:
        assert batch.kl is not None
        policy = self._logps(batch.kl, base=False)
        if batch.reference is not None:
            reference = batch.reference[:, -1]
        else:
            reference = self._logps(batch.kl, base=True)
        diff = (policy - reference).sum()
        return torch.stack([diff, diff.new_tensor(float(batch.n_examples))])


class PreferenceRecipe(RecipeDefaults):
    """The recipe protocol for objectives that learn from preferences; subclasses give the
    examples of a record (`examples_of`) and the loss (`loss`)."""

    name = ""
    all_targets = False  # ORPO scores the prompt's tokens too

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.objective = registry.objective(cfg.objective)
        self.reference = self.objective.reference

    # -- data -----------------------------------------------------------------------------------
    def examples_of(
        self, record: dict[str, Any], tokenizer: Any, index: int
    ) -> list[PreferenceExample]:
        raise NotImplementedError

    def prepare(
        self, records: Sequence[dict[str, Any]], tokenizer: Any, split: str
    ) -> PreferenceSplit:
        """The split's examples; those whose answers lost every token to seq_len are counted
        in `dropped`. DataError for a record this objective cannot train on."""
        kept: list[PreferenceExample] = []
        dropped = 0
        for index, record in enumerate(records):
            for example in self.examples_of(record, tokenizer, index):
                if all(s.answer_tokens > 0 for s in example.sequences):
                    kept.append(PreferenceExample(len(kept), example.sequences, example.label))
                else:
                    dropped += 1
        return PreferenceSplit(self.finish_examples(kept), dropped=dropped)

    def finish_examples(self, examples: list[PreferenceExample]) -> list[PreferenceExample]:
        """Last touch on a split's examples (KTO adds the KL sequences)."""
        return examples

    def train_stream(
        self, examples: PreferenceSplit, cfg: TrainConfig, ctx: DistContext, pad_id: int
    ) -> ExampleStream:
        return ExampleStream(
            examples, all_targets=self.all_targets, **stream_settings(cfg, ctx, pad_id)
        )

    def eval_batches(
        self, examples: PreferenceSplit, cfg: TrainConfig, pad_id: int, *, max_rows: int = 0
    ) -> list[PreferenceBatch]:
        return fixed_example_batches(
            examples,
            seq_len=cfg.seq_len,
            rows_per_batch=cfg.batch_size,
            pad_id=pad_id,
            max_rows=max_rows or cfg.eval_max_rows,
            all_targets=self.all_targets,
        )

    # -- loss -----------------------------------------------------------------------------------
    def loss_module(self, prepared: PreparedModel) -> nn.Module:
        adapter = registry.method(self.cfg.method).adapter
        return PreferenceLoss(prepared.model, self, varlen=prepared.varlen, adapter=adapter)

    def loss(
        self, policy: SequenceLogps, reference: torch.Tensor | None, batch: PreferenceBatch
    ) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def uses_reference_cache(self, cfg: TrainConfig) -> bool:
        """Full fine-tuning caches the reference log-probabilities (module docstring)."""
        return self.reference and not registry.method(cfg.method).adapter

    # -- evaluation -----------------------------------------------------------------------------
    def evaluation_records(self, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """The preferred answers as chat records, for perplexity and generation scores."""
        out = []
        for record in records:
            preferred = self.preferred_answer(record)
            if preferred is not None:
                messages = [*prompt_messages(record), {"role": "assistant", "content": preferred}]
                out.append({"messages": messages})
        return out

    def preferred_answer(self, record: dict[str, Any]) -> str | None:
        return record.get("chosen")

    @torch.no_grad()
    def sequence_scores(
        self, model: nn.Module, tokenizer: Any, examples: PreferenceSplit, cfg: TrainConfig
    ) -> torch.Tensor | None:
        """[examples, sequences, 2]: each answer's summed log-probability and token count under
        `model` (a plain model, as loaded for evaluation)."""
        if not examples:
            return None
        device = next(model.parameters()).device
        # NaN marks examples past EVALUATION_ROWS, left unscored.
        scores = torch.full((len(examples), len(examples[0].sequences), 2), float("nan"))
        batches = self.eval_batches(examples, cfg, tokenizer.pad_token_id, max_rows=EVALUATION_ROWS)
        for batch in batches:
            logps = sequence_logps(model, batch.main.to(device), varlen=False)
            pairs = torch.stack([logps.answer, logps.answer_tokens], dim=-1).float().cpu()
            scores[batch.example_index] = pairs.view(batch.n_examples, -1, 2)
        return scores


def require_kinds(record: dict[str, Any], index: int, objective: registry.Objective) -> str:
    """The record's kind when `objective` trains on it; DataError naming what it needs."""
    kind = record_kind(record, index)
    if kind not in objective.record_kinds:
        needs = " or ".join(registry.RECORD_FIELDS[k] for k in objective.record_kinds)
        raise DataError(
            f"record {index}: objective {objective.name} trains on records shaped {needs}, "
            f"not {kind}"
        )
    return kind


def step_kl(step: StepContext, batches: list[PreferenceBatch]) -> None:
    """KTO's KL estimate over the step's micro-batches and every rank (mean of policy minus
    reference log-probability of the KL sequences, at least 0, no gradient), set on each
    batch as `kl_value`."""
    total = torch.zeros(2, device=step.device)
    with torch.no_grad(), step.autocast():
        for batch in batches:
            total += step.loss_model(batch.to(step.device), phase="kl").float()
    if step.ctx.enabled:
        torch.distributed.all_reduce(total)
    kl = (total[0] / total[1].clamp(min=1.0)).clamp(min=0.0)
    for batch in batches:
        batch.kl_value = kl
