"""Reference log-probabilities for full fine-tuning, computed once and kept encrypted.

DPO and KTO compare the model being trained with the model it started from. With an adapter
method the starting model is the same weights with the adapters off (recipes/preference.py);
with full fine-tuning (`full`, `freeze`) it is gone after the first step. Rather than keep a
frozen copy (a second full set of weights on every GPU, and under FSDP a second sharded model),
the engine runs the starting model once over the train and validation examples before the first
step and keeps each sequence's summed log-probability: a few floats per example. They are
written, encrypted under the job's key, beside the checkpoints (`reference/logps.enc`), so a
resumed run reads the same numbers instead of needing the starting weights again.

The pass is spread over the ranks (each runs every world_size-th micro-batch of a fixed plan;
ranks with fewer real batches repeat the first, so FSDP's collectives stay matched) and the
results are summed across ranks. A stop requested during the pass ends it with nothing saved.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from . import container
from .checkpoint import CheckpointError, CheckpointStore, envelope_errors
from .distributed import any_rank
from .recipes.preference_data import PreferenceSplit, collate_examples, fixed_rows

if TYPE_CHECKING:
    from .steps import Run

CACHE_DIR = "reference"
CACHE_FILE = "logps.enc"
FORMAT = "soberana-reference-v1"


def attach_reference(
    run: Run,
    store: CheckpointStore,
    splits: dict[str, PreferenceSplit],
    *,
    resuming: bool,
    should_stop: Callable[[], bool],
) -> bool:
    """Set `split.reference` of each split: read from the store, or computed now (and saved by
    rank 0) for a fresh run. Returns False when a stop was requested during the pass.

    Raises CheckpointError when a run being resumed finds no cache for its data (or a tampered
    one), since the starting weights it would need are gone."""
    fingerprint = _fingerprint(run, splits)
    saved = read_reference(store, fingerprint)
    if saved is None:
        if resuming:
            raise CheckpointError(
                "the reference log-probabilities of this run are missing or were computed on "
                "other data; start a new job"
            )
        saved = {}
        for name, split in splits.items():
            values = compute_reference(run, split, should_stop) if split else None
            if split and values is None:
                return False
            if values is not None:
                saved[name] = values
        if run.ctx.is_main:
            write_reference(store, fingerprint, saved)
    for name, split in splits.items():
        split.reference = saved.get(name)
    return True


def compute_reference(
    run: Run, split: PreferenceSplit, should_stop: Callable[[], bool]
) -> torch.Tensor | None:
    """[examples, sequences (+1 KL)] log-probabilities of the split under the run's model as
    it is now; None when a stop was requested (module docstring)."""
    cfg, ctx, recipe = run.cfg, run.ctx, run.recipe
    rows = fixed_rows(split, cfg.seq_len)
    per = cfg.batch_size
    n_batches = -(-len(rows) // per)
    width = len(split[0].sequences) + (split[0].kl is not None)
    values = torch.zeros(len(split), width, device=run.device)
    all_targets = bool(getattr(recipe, "all_targets", False))
    run.loss_model.eval()
    try:
        for round_start in range(0, n_batches, ctx.world_size):
            if any_rank(should_stop(), ctx, run.device):
                return None
            number = round_start + ctx.rank
            chosen = rows[number * per : (number + 1) * per] if number < n_batches else rows[:per]
            batch = collate_examples(
                chosen, split, cfg.seq_len, run.pad_id, all_targets=all_targets
            )
            with torch.no_grad(), _autocast(run):
                out = run.loss_model(batch.to(run.device), phase="reference").float()
            if number < n_batches:
                values[batch.example_index.to(run.device)] = out
    finally:
        run.loss_model.train()
    if ctx.enabled:
        torch.distributed.all_reduce(values)  # each entry was written by exactly one rank
    return values.cpu()


def _autocast(run: Run) -> Any:
    from .steps import autocast

    return autocast(run)


def _fingerprint(run: Run, splits: dict[str, PreferenceSplit]) -> str:
    """Digest of what the numbers depend on: base model, precision, objective, and every token
    of every example (so a cache never serves other data)."""
    cfg = run.cfg
    digest = hashlib.sha256()
    settings = [cfg.base_model_dir, cfg.method, cfg.freeze_layers, cfg.objective, cfg.seq_len]
    settings += [cfg.batch_size, run.prepared.precision]
    digest.update(json.dumps(settings).encode())
    for name, split in sorted(splits.items()):
        digest.update(name.encode())
        for example in split.examples:
            for sequence in (*example.sequences, example.kl):
                if sequence is not None:
                    digest.update(json.dumps([sequence.prompt_len, sequence.ids]).encode())
    return digest.hexdigest()


def write_reference(
    store: CheckpointStore, fingerprint: str, values: dict[str, torch.Tensor]
) -> None:
    """Encrypt the cache into the store's `reference/logps.enc` (written atomically)."""
    manifest = {"format": FORMAT, "fingerprint": fingerprint}
    directory = store.directory / CACHE_DIR
    directory.mkdir(exist_ok=True)
    blob = container.tensors_to_bytes({name: t.contiguous() for name, t in values.items()})
    store.write_file(directory / CACHE_FILE, container.pack(manifest, {"logps": blob}), CACHE_DIR)


def read_reference(store: CheckpointStore, fingerprint: str) -> dict[str, torch.Tensor] | None:
    """The cache when the store has one for `fingerprint`, else None; CheckpointError when the
    file fails authentication."""
    path = store.directory / CACHE_DIR / CACHE_FILE
    if not path.is_file():
        return None
    data = store.read_file(path, CACHE_DIR)
    with envelope_errors(path):
        manifest, blobs = container.unpack(data)
    if manifest.get("format") != FORMAT or manifest.get("fingerprint") != fingerprint:
        return None
    return container.tensors_from_bytes(blobs["logps"])
