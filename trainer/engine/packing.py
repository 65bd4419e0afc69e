"""Packing tokenized records into fixed-length rows, and the resumable stream of micro-batches.

A row of `seq_len` tokens holds several records ("segments"). Position ids restart at 0 for every
segment and attention stays inside a segment (block-diagonal causal), so a packed row gives each
token the same loss as running its record alone. Targets are shifted *within* a segment, so no
token is ever trained to predict the first token of the next record. Unused tail space becomes a
padding segment whose targets are all -100.

The row plan of an epoch is a pure function of (records, seq_len, seed, epoch): resuming needs only
the data position (epoch, next micro-batch index).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .data import IGNORE_INDEX, TokenizedRecord

OPEN_ROWS = 16  # rows kept open for first-fit placement; more = denser rows, more bookkeeping


@dataclass(frozen=True)
class Segment:
    """Tokens [start, end) of record `record` placed in a row."""

    record: int
    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass
class Batch:
    """One micro-batch, ready for the model.

    input_ids/position_ids/targets are [rows, seq_len]; targets are already shifted (target of
    position t is the token at t+1 of the same segment, else -100). target_index/target_ids list
    the flat positions that have a target and those targets, computed on the CPU so the GPU never
    has to synchronise to find them. cu_seqlens/max_seqlen describe the segments of the flattened
    batch for variable-length attention kernels.
    """

    input_ids: torch.Tensor
    position_ids: torch.Tensor
    targets: torch.Tensor
    target_index: torch.Tensor
    target_ids: torch.Tensor
    cu_seqlens: torch.Tensor
    max_seqlen: int
    n_targets: int
    n_tokens: int

    def _tensor_fields(self) -> tuple[str, ...]:
        return ("input_ids", "position_ids", "targets", "target_index", "target_ids", "cu_seqlens")

    def to(self, device: torch.device | str) -> Batch:
        """Copy the tensors to `device`; from pinned memory the copy does not block the host."""
        device = torch.device(device)
        if device.type == "cpu":
            return self
        moved = {
            name: getattr(self, name).to(device, non_blocking=True)
            for name in self._tensor_fields()
        }
        return Batch(
            **moved, max_seqlen=self.max_seqlen, n_targets=self.n_targets, n_tokens=self.n_tokens
        )

    def pin_memory(self) -> Batch:
        """Page-locked copy, so host-to-GPU copies run asynchronously."""
        pinned = {name: getattr(self, name).pin_memory() for name in self._tensor_fields()}
        return Batch(
            **pinned, max_seqlen=self.max_seqlen, n_targets=self.n_targets, n_tokens=self.n_tokens
        )


def chunk_record(record_index: int, record: TokenizedRecord, seq_len: int) -> list[Segment]:
    """Split a record into segments of at most seq_len tokens, dropping ones without targets."""
    segments = []
    for start in range(0, len(record.input_ids), seq_len):
        end = min(start + seq_len, len(record.input_ids))
        if any(label != IGNORE_INDEX for label in record.labels[start + 1 : end]):
            segments.append(Segment(record_index, start, end))
    return segments


def plan_rows(
    records: Sequence[TokenizedRecord], seq_len: int, *, seed: int, epoch: int, shuffle: bool = True
) -> list[list[Segment]]:
    """Deterministic first-fit packing of (shuffled) records into rows of at most seq_len tokens."""
    order = _epoch_order(len(records), seed, epoch, shuffle)
    return first_fit(
        (segment for index in order for segment in chunk_record(index, records[index], seq_len)),
        seq_len,
    )


def plan_units(
    lengths: Sequence[int], seq_len: int, *, seed: int, epoch: int, shuffle: bool = True
) -> list[list[Segment]]:
    """First-fit packing of whole units (one segment of `lengths[i]` tokens each, never split:
    a preference pair's two sequences share a row) in the same shuffled order as plan_rows."""
    order = _epoch_order(len(lengths), seed, epoch, shuffle)
    return first_fit((Segment(index, 0, lengths[index]) for index in order), seq_len)


def _epoch_order(count: int, seed: int, epoch: int, shuffle: bool) -> list[int]:
    order = list(range(count))
    if shuffle:
        random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return order


def first_fit(segments: Iterable[Segment], seq_len: int) -> list[list[Segment]]:
    """Place segments in order into rows of seq_len tokens, first fit among OPEN_ROWS rows."""
    rows: list[list[Segment]] = []
    open_rows: list[tuple[int, list[Segment]]] = []  # (free tokens, segments)
    for segment in segments:
        _place(segment, open_rows, rows, seq_len)
    rows.extend(segments for _, segments in open_rows)
    return rows


def _place(
    segment: Segment,
    open_rows: list[tuple[int, list[Segment]]],
    rows: list[list[Segment]],
    seq_len: int,
) -> None:
    for slot, (free, segments) in enumerate(open_rows):
        if segment.length <= free:
            segments.append(segment)
            open_rows[slot] = (free - segment.length, segments)
            if free - segment.length == 0:
                rows.append(open_rows.pop(slot)[1])
            return
    open_rows.append((seq_len - segment.length, [segment]))
    if len(open_rows) > OPEN_ROWS:
        rows.append(open_rows.pop(0)[1])


def collate(
    rows: Sequence[list[Segment]], records: Sequence[TokenizedRecord], seq_len: int, pad_id: int
) -> Batch:
    """Build the tensors of one micro-batch from planned rows."""
    lists = [_row_lists(row, records, seq_len, pad_id) for row in rows]
    return batch_from_rows(lists, n_tokens=sum(seg.length for row in rows for seg in row))


RowLists = tuple[list[int], list[int], list[int], list[int]]  # ids, positions, targets, lengths


def batch_from_rows(rows: Sequence[RowLists], *, n_tokens: int) -> Batch:
    """A Batch from each row's token ids, position ids, shifted targets and segment lengths
    (rows already padded to the same length, the padding a segment of its own)."""
    ids, positions, targets, lengths = [], [], [], []
    for row_ids, row_pos, row_tgt, row_len in rows:
        ids.append(row_ids)
        positions.append(row_pos)
        targets.append(row_tgt)
        lengths.extend(row_len)
    target_tensor = torch.tensor(targets, dtype=torch.long)
    flat = target_tensor.reshape(-1)
    target_index = torch.nonzero(flat != IGNORE_INDEX).squeeze(1)
    cu = torch.zeros(len(lengths) + 1, dtype=torch.int32)
    cu[1:] = torch.cumsum(torch.tensor(lengths, dtype=torch.int32), 0)
    return Batch(
        input_ids=torch.tensor(ids, dtype=torch.long),
        position_ids=torch.tensor(positions, dtype=torch.long),
        targets=target_tensor,
        target_index=target_index,
        target_ids=flat.index_select(0, target_index),
        cu_seqlens=cu,
        max_seqlen=max(lengths),
        n_targets=int(target_index.numel()),
        n_tokens=n_tokens,
    )


def _row_lists(
    row: list[Segment], records: Sequence[TokenizedRecord], seq_len: int, pad_id: int
) -> tuple[list[int], list[int], list[int], list[int]]:
    ids: list[int] = []
    positions: list[int] = []
    targets: list[int] = []
    lengths: list[int] = []
    for seg in row:
        record = records[seg.record]
        ids += record.input_ids[seg.start : seg.end]
        positions += range(seg.length)
        targets += record.labels[seg.start + 1 : seg.end] + [IGNORE_INDEX]
        lengths.append(seg.length)
    pad = seq_len - len(ids)
    if pad:
        ids += [pad_id] * pad
        positions += range(pad)
        targets += [IGNORE_INDEX] * pad
        lengths.append(pad)
    return ids, positions, targets, lengths


class BatchStream:
    """Endless, resumable stream of micro-batches over epochs of a packed split.

    `position` is (epoch, next micro-batch index in that epoch); `seek` restores it. Each
    micro-batch holds `rows_per_batch` rows; under DDP every rank builds the same plan and takes
    its own slice, so ranks never see the same row in a step.
    """

    def __init__(
        self,
        records: Sequence[Any],
        *,
        seq_len: int,
        rows_per_batch: int,
        pad_id: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.records, self.seq_len, self.pad_id, self.seed = records, seq_len, pad_id, seed
        self.rows_per_batch, self.rank, self.world_size = rows_per_batch, rank, world_size
        self.epoch, self.index = 0, 0
        self._plan: list[list[Segment]] = []
        self._plan_epoch = -1

    @property
    def position(self) -> dict[str, int]:
        return {"epoch": self.epoch, "index": self.index}

    def seek(self, position: dict[str, int]) -> None:
        """Continue from a saved `position` (epoch, index)."""
        self.epoch, self.index = int(position["epoch"]), int(position["index"])

    def _rows_for_epoch(self) -> list[list[Segment]]:
        if self._plan_epoch != self.epoch:
            self._plan = self._plan_epoch_rows(self.epoch)
            self._plan_epoch = self.epoch
        return self._plan

    def _plan_epoch_rows(self, epoch: int) -> list[list[Segment]]:
        """The rows of an epoch (subclasses pack other kinds of examples)."""
        return plan_rows(self.records, self.seq_len, seed=self.seed, epoch=epoch)

    def _collate(self, rows: list[list[Segment]]) -> Any:
        """The micro-batch of `rows` (a Batch here; subclasses build their own kind)."""
        return collate(rows, self.records, self.seq_len, self.pad_id)

    def batches_per_epoch(self) -> int:
        """Micro-batches in the current epoch (the last one may be short; at least 1)."""
        global_rows = self.rows_per_batch * self.world_size
        return max(1, -(-len(self._rows_for_epoch()) // global_rows))

    def next_batch(self) -> Any:
        """Return the next micro-batch and advance the position (rolls over into a new epoch)."""
        if self.index >= self.batches_per_epoch():
            self.epoch, self.index = self.epoch + 1, 0
        plan = self._rows_for_epoch()
        global_rows = self.rows_per_batch * self.world_size
        chunk = plan[self.index * global_rows : (self.index + 1) * global_rows]
        mine = chunk[self.rank :: self.world_size] or chunk[:1]
        self.index += 1
        return self._collate(mine)


def fixed_batches(
    records: Sequence[TokenizedRecord],
    *,
    seq_len: int,
    rows_per_batch: int,
    pad_id: int,
    max_rows: int,
) -> Iterator[Batch]:
    """Unshuffled micro-batches over at most `max_rows` packed rows (validation / test loss)."""
    rows = plan_rows(records, seq_len, seed=0, epoch=0, shuffle=False)[:max_rows]
    for start in range(0, len(rows), rows_per_batch):
        yield collate(rows[start : start + rows_per_batch], records, seq_len, pad_id)
