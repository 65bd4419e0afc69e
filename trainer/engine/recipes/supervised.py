"""Supervised fine-tuning: next-token loss on text records, or on the answers of prompt/completion
and chat records (data.py), packed into rows (packing.py).

The loss is the summed token cross-entropy of a micro-batch, normalised by the target tokens of
the whole step: the mean token loss of one big batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..config import TrainConfig
from ..data import TokenizedRecord, tokenize_split
from ..distributed import DistContext
from ..methods import PreparedModel
from ..modeling import PackedLossModel
from ..packing import Batch, BatchStream, fixed_batches
from .base import RecipeDefaults, stream_settings


class SupervisedLoss(PackedLossModel):
    """PackedLossModel returning {"loss": summed token loss} (the recipe protocol's shape)."""

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:  # type: ignore[override]
        return {"loss": super().forward(batch)}


class Supervised(RecipeDefaults):
    """The `supervised` objective."""

    name = "supervised"
    loss_terms = {"loss": "tokens"}

    def prepare(
        self, records: Sequence[dict[str, Any]], tokenizer: Any, split: str
    ) -> list[TokenizedRecord]:
        """Tokenized records of the split; records without a target token are left out."""
        kept, _ = tokenize_split(records, tokenizer)
        return kept

    def train_stream(
        self, examples: list[TokenizedRecord], cfg: TrainConfig, ctx: DistContext, pad_id: int
    ) -> BatchStream:
        return BatchStream(examples, **stream_settings(cfg, ctx, pad_id))

    def eval_batches(
        self, examples: list[TokenizedRecord], cfg: TrainConfig, pad_id: int
    ) -> list[Batch]:
        return list(
            fixed_batches(
                examples,
                seq_len=cfg.seq_len,
                rows_per_batch=cfg.batch_size,
                pad_id=pad_id,
                max_rows=cfg.eval_max_rows,
            )
        )

    def loss_module(self, prepared: PreparedModel) -> nn.Module:
        return SupervisedLoss(prepared.model, varlen=prepared.varlen)

    def counts(self, batch: Batch) -> dict[str, float]:
        return {"tokens": float(batch.n_targets)}


def build(cfg: TrainConfig) -> Supervised:
    """The recipe for `cfg` (supervised has no settings of its own)."""
    return Supervised()
