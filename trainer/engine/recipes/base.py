"""The recipe protocol every objective implements, and the defaults most of them share.

The loop asks a recipe, in order:
1. `prepare(records, tokenizer, split)`: tokenize and check one split (raises DataError naming a
   record), returning the split's examples;
2. `train_stream(...)` / `eval_batches(...)`: micro-batches of packed rows;
3. `loss_module(prepared)`: an `nn.Module` whose forward(batch) returns a dict of *summed* loss
   terms (with gradient) and statistics (without); a module so DDP / FSDP can wrap it;
4. `counts(batch)`: the denominators of those sums, computed on the host. The step divides each
   loss term by its denominator totalled over the step's micro-batches and every rank, so
   gradient accumulation and data parallelism give the gradient of one big batch;
5. `before_batches(step, batches)`: step-wide statistics needed before any micro-batch's loss
   (KTO's KL estimate), computed without gradient;
6. at the end, `evaluation_records` / `sequence_scores` / `preference_metrics` for the final
   evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ..config import TrainConfig
    from ..distributed import DistContext
    from ..methods import PreparedModel


class Stream(Protocol):
    """Endless, resumable stream of training micro-batches (see packing.BatchStream)."""

    epoch: int

    @property
    def position(self) -> dict[str, int]: ...

    def seek(self, position: dict[str, int]) -> None: ...

    def batches_per_epoch(self) -> int: ...

    def next_batch(self) -> Any: ...


# Each recipe prepares its own example type (supervised: `TokenizedRecord`, preference
# objectives: `PreferenceExample` in a `PreferenceSplit`) and batches them its own way; the
# protocol passes them through unread, so the loop needs no union of every recipe's types.
Examples = list[Any]
Batches = list[Any]


@dataclass
class StepContext:
    """What `before_batches` may use: the (possibly DDP / FSDP wrapped) loss module, the rank
    layout, the device and the autocast of the run."""

    loss_model: nn.Module
    ctx: DistContext
    device: torch.device
    autocast: Callable[[], AbstractContextManager[None]]


class Recipe(Protocol):
    """One training objective (see the module docstring for the order of calls).

    `loss_terms` maps each loss term the module returns to the name of its denominator in
    `counts`; `stats` does the same for reported statistics (no gradient). The train loss is
    the sum of the normalised terms.
    """

    name: str
    loss_terms: Mapping[str, str]
    stats: Mapping[str, str]

    def prepare(
        self, records: Sequence[dict[str, Any]], tokenizer: Any, split: str
    ) -> Examples: ...

    def train_stream(
        self, examples: Examples, cfg: TrainConfig, ctx: DistContext, pad_id: int
    ) -> Stream: ...

    def eval_batches(self, examples: Examples, cfg: TrainConfig, pad_id: int) -> Batches: ...

    def loss_module(self, prepared: PreparedModel) -> nn.Module: ...

    def counts(self, batch: Any) -> dict[str, float]: ...

    def before_batches(self, step: StepContext, batches: Batches) -> None: ...

    def uses_reference_cache(self, cfg: TrainConfig) -> bool: ...

    def evaluation_records(self, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]: ...

    def sequence_scores(
        self, model: nn.Module, tokenizer: Any, examples: Any, cfg: TrainConfig
    ) -> torch.Tensor | None: ...

    def preference_metrics(
        self, tuned: torch.Tensor, base: torch.Tensor | None, examples: Any
    ) -> dict[str, float]: ...


def stream_settings(cfg: TrainConfig, ctx: DistContext, pad_id: int) -> dict[str, Any]:
    """The keyword arguments every recipe's training stream takes from the run (packing.py)."""
    return {
        "seq_len": cfg.seq_len,
        "rows_per_batch": cfg.batch_size,
        "pad_id": pad_id,
        "seed": cfg.seed,
        "rank": ctx.rank,
        "world_size": ctx.world_size,
    }


class RecipeDefaults:
    """Defaults for the optional parts of the protocol: no statistics, nothing to do before a
    step, no reference model, and the usual evaluation only."""

    stats: Mapping[str, str] = {}

    def before_batches(self, step: StepContext, batches: Batches) -> None:
        """Nothing step-wide to compute."""

    def uses_reference_cache(self, cfg: TrainConfig) -> bool:
        return False

    def evaluation_records(self, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return list(records)

    def sequence_scores(
        self, model: nn.Module, tokenizer: Any, examples: Any, cfg: TrainConfig
    ) -> torch.Tensor | None:
        return None

    def preference_metrics(
        self, tuned: torch.Tensor, base: torch.Tensor | None, examples: Any
    ) -> dict[str, float]:
        return {}
