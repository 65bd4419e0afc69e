"""Preference examples packed into rows: tokenizing, fitting to seq_len, and micro-batches.

An example is one or more *sequences* (a prompt followed by an answer) that must stay together:
a DPO / ORPO pair is (chosen, rejected), a KTO example is one answer with its label. The
sequences of an example are placed side by side in ONE packed row (so a pair is never split
across micro-batches or ranks); position ids restart at 0 for each sequence and attention stays
inside it (varlen attention on CUDA, a block-diagonal mask on the CPU, exactly as for packed
supervised records), so every sequence gets the log-probabilities it would get alone.

A KTO example also carries a *KL sequence*: its prompt with the previous example's answer (TRL's
rotation by one), run without gradient to estimate the KL term. KL sequences are packed into rows
of their own (`PreferenceBatch.kl`).

Targets are the answer's tokens (the prompt's with `all_targets`, for ORPO's next-token term);
`target_sequence` says which sequence of the micro-batch each target belongs to, so the loss
can sum log-probabilities per sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from ..data import IGNORE_INDEX, prompt_messages, tokenize_answer
from ..packing import Batch, BatchStream, RowLists, Segment, batch_from_rows, first_fit, plan_units


@dataclass(frozen=True)
class TokenSequence:
    """Token ids of a prompt followed by an answer; ids[prompt_len:] are the answer's."""

    ids: tuple[int, ...]
    prompt_len: int

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def answer_tokens(self) -> int:
        """Tokens of the answer that are targets (the first token of a sequence never is)."""
        return max(0, len(self.ids) - max(self.prompt_len, 1))

    def truncated(self, length: int) -> TokenSequence:
        """The first `length` tokens (the answer's end is cut, as TRL's keep_start does)."""
        return TokenSequence(self.ids[:length], min(self.prompt_len, length))

    def with_answer_of(self, other: TokenSequence) -> TokenSequence:
        """This sequence's prompt followed by `other`'s answer."""
        prompt = self.ids[: self.prompt_len]
        return TokenSequence(prompt + other.ids[other.prompt_len :], len(prompt))


@dataclass(frozen=True)
class PreferenceExample:
    """One training example: its sequences (packed in one row), its KTO label and KL sequence,
    and `index`, its row in the split's reference log-probabilities."""

    index: int
    sequences: tuple[TokenSequence, ...]
    label: bool = True
    kl: TokenSequence | None = None

    @property
    def length(self) -> int:
        return sum(len(s) for s in self.sequences)


@dataclass
class PreferenceSplit:
    """The examples of one split and, once computed (full fine-tuning), the reference model's
    log-probabilities of their sequences: [examples, sequences (+1 for the KL sequence)]."""

    examples: list[PreferenceExample]
    reference: torch.Tensor | None = None
    dropped: int = 0

    def __len__(self) -> int:
        return len(self.examples)

    def __bool__(self) -> bool:
        return bool(self.examples)

    def __getitem__(self, index: int) -> PreferenceExample:
        return self.examples[index]


# -- tokenizing ---------------------------------------------------------------------------------


def answer_sequence(
    record: dict[str, Any], answer: str, tokenizer: Any, index: int
) -> TokenSequence:
    """The record's prompt conversation followed by `answer` as the assistant's turn."""
    ids, prompt_len = tokenize_answer(prompt_messages(record), answer, tokenizer, index)
    return TokenSequence(tuple(ids), prompt_len)


def fit_pair(
    chosen: TokenSequence, rejected: TokenSequence, seq_len: int
) -> tuple[TokenSequence, TokenSequence]:
    """Cut a pair to share one row of seq_len tokens: the shorter keeps its length when it is
    at most half the row, otherwise each gets half; answers lose their end (keep_start)."""
    if len(chosen) + len(rejected) <= seq_len:
        return chosen, rejected
    half = seq_len // 2
    if len(chosen) <= half:
        return chosen, rejected.truncated(seq_len - len(chosen))
    if len(rejected) <= half:
        return chosen.truncated(seq_len - len(rejected)), rejected
    return chosen.truncated(half), rejected.truncated(seq_len - half)


def with_kl_sequences(examples: list[PreferenceExample], seq_len: int) -> list[PreferenceExample]:
    """Give each example a KL sequence: its prompt with the previous example's answer (the
    first takes the last's: TRL's rotation by one), cut to seq_len."""
    return [
        replace(
            example,
            kl=example.sequences[0].with_answer_of(examples[k - 1].sequences[0]).truncated(seq_len),
        )
        for k, example in enumerate(examples)
    ]


# -- micro-batches -----------------------------------------------------------------------------


@dataclass
class PackedSequences:
    """Packed rows of sequences plus, per target token, the number of its sequence (and, when
    prompts are targets too, whether the target is an answer token)."""

    batch: Batch
    target_sequence: torch.Tensor
    answer_target: torch.Tensor
    n_sequences: int

    def to(self, device: torch.device | str) -> PackedSequences:
        return PackedSequences(
            self.batch.to(device),
            self.target_sequence.to(device, non_blocking=True),
            self.answer_target.to(device, non_blocking=True),
            self.n_sequences,
        )

    def pin_memory(self) -> PackedSequences:
        return PackedSequences(
            self.batch.pin_memory(),
            self.target_sequence.pin_memory(),
            self.answer_target.pin_memory(),
            self.n_sequences,
        )


@dataclass
class PreferenceBatch:
    """One micro-batch of preference examples (see the module docstring).

    `main`: every sequence of every example, example k's sequences numbered k*S .. k*S+S-1.
    `reference`: the cached reference log-probabilities of the examples (full fine-tuning).
    `kl` / `kl_value`: KTO's KL sequences and, once `before_batches` ran, the step's KL
    estimate (a detached scalar on the device).
    """

    main: PackedSequences
    n_examples: int
    sequences_per_example: int
    example_index: torch.Tensor
    labels: torch.Tensor
    reference: torch.Tensor | None = None
    kl: PackedSequences | None = None
    kl_value: torch.Tensor | None = field(default=None, repr=False)

    @property
    def n_tokens(self) -> int:
        return self.main.batch.n_tokens

    @property
    def n_targets(self) -> int:
        return self.main.batch.n_targets

    def to(self, device: torch.device | str) -> PreferenceBatch:
        device = torch.device(device)
        if device.type == "cpu":
            return self
        return replace(
            self,
            main=self.main.to(device),
            labels=self.labels.to(device, non_blocking=True),
            reference=None if self.reference is None else self.reference.to(device),
            kl=None if self.kl is None else self.kl.to(device),
            kl_value=None if self.kl_value is None else self.kl_value.to(device),
        )

    def pin_memory(self) -> PreferenceBatch:
        return replace(
            self,
            main=self.main.pin_memory(),
            labels=self.labels.pin_memory(),
            kl=None if self.kl is None else self.kl.pin_memory(),
        )


def pack_sequences(
    rows: Sequence[Sequence[tuple[int, TokenSequence]]],
    seq_len: int,
    pad_id: int,
    *,
    all_targets: bool,
) -> PackedSequences:
    """Rows of (sequence number, sequence) as packed tensors (see PackedSequences)."""
    row_lists: list[RowLists] = []
    owners: list[int] = []
    answers: list[bool] = []
    n_tokens, n_sequences = 0, 0
    for row in rows:
        lists = _row(row, seq_len, pad_id, all_targets, owners, answers)
        row_lists.append(lists)
        n_tokens += sum(len(sequence) for _, sequence in row)
        n_sequences = max([n_sequences, *(number + 1 for number, _ in row)])
    batch = batch_from_rows(row_lists, n_tokens=n_tokens)
    flat_owner = torch.tensor(owners, dtype=torch.long).index_select(0, batch.target_index)
    flat_answer = torch.tensor(answers, dtype=torch.bool).index_select(0, batch.target_index)
    return PackedSequences(batch, flat_owner, flat_answer, n_sequences)


def _row(
    row: Sequence[tuple[int, TokenSequence]],
    seq_len: int,
    pad_id: int,
    all_targets: bool,
    owners: list[int],
    answers: list[bool],
) -> RowLists:
    """One row's lists; appends each position's sequence number (-1: none) and whether its
    target is an answer token to `owners` / `answers`."""
    ids: list[int] = []
    positions: list[int] = []
    targets: list[int] = []
    lengths: list[int] = []
    for number, sequence in row:
        length = len(sequence)
        # Position t predicts token t + 1 of its own sequence; positions before `first` predict
        # prompt tokens, the last position predicts nothing.
        first = min(max(sequence.prompt_len - 1, 0), length - 1)
        scored = length - 1 - first
        ids += sequence.ids
        positions += range(length)
        if all_targets:
            targets += [*sequence.ids[1:], IGNORE_INDEX]
            owners += [number] * (length - 1) + [-1]
        else:
            targets += [IGNORE_INDEX] * first + list(sequence.ids[first + 1 :]) + [IGNORE_INDEX]
            owners += [-1] * first + [number] * scored + [-1]
        answers += [False] * first + [True] * scored + [False]
        lengths.append(length)
    pad = seq_len - len(ids)
    if pad:
        ids += [pad_id] * pad
        positions += range(pad)
        targets += [IGNORE_INDEX] * pad
        owners += [-1] * pad
        answers += [False] * pad
        lengths.append(pad)
    return ids, positions, targets, lengths


def collate_examples(
    rows: Sequence[list[Segment]],
    split: PreferenceSplit,
    seq_len: int,
    pad_id: int,
    *,
    all_targets: bool,
) -> PreferenceBatch:
    """The micro-batch of planned rows (each segment is one whole example of `split`)."""
    order = [split[segment.record] for row in rows for segment in row]
    per_example = len(order[0].sequences)
    main_rows, k = [], 0
    for row in rows:
        numbered = []
        for segment in row:
            for j, sequence in enumerate(split[segment.record].sequences):
                numbered.append((k * per_example + j, sequence))
            k += 1
        main_rows.append(numbered)
    main = pack_sequences(main_rows, seq_len, pad_id, all_targets=all_targets)
    index = torch.tensor([example.index for example in order], dtype=torch.long)
    return PreferenceBatch(
        main=main,
        n_examples=len(order),
        sequences_per_example=per_example,
        example_index=index,
        labels=torch.tensor([example.label for example in order], dtype=torch.bool),
        reference=None if split.reference is None else split.reference.index_select(0, index),
        kl=_kl_rows(order, seq_len, pad_id),
    )


def _kl_rows(order: list[PreferenceExample], seq_len: int, pad_id: int) -> PackedSequences | None:
    """KTO's KL sequences of the micro-batch, packed first-fit into rows of their own."""
    if order[0].kl is None:
        return None
    kl = [example.kl for example in order if example.kl is not None]
    rows = first_fit((Segment(k, 0, len(s)) for k, s in enumerate(kl)), seq_len)
    numbered = [[(segment.record, kl[segment.record]) for segment in row] for row in rows]
    return pack_sequences(numbered, seq_len, pad_id, all_targets=False)


class ExampleStream(BatchStream):
    """BatchStream over preference examples: whole examples are packed (`plan_units`)."""

    def __init__(self, split: PreferenceSplit, *, all_targets: bool, **kwargs: Any) -> None:
        super().__init__(split.examples, **kwargs)
        self.split, self.all_targets = split, all_targets

    def _plan_epoch_rows(self, epoch: int) -> list[list[Segment]]:
        lengths = [example.length for example in self.split.examples]
        return plan_units(lengths, self.seq_len, seed=self.seed, epoch=epoch)

    def _collate(self, rows: list[list[Segment]]) -> PreferenceBatch:
        return collate_examples(
            rows, self.split, self.seq_len, self.pad_id, all_targets=self.all_targets
        )


def fixed_example_batches(
    split: PreferenceSplit,
    *,
    seq_len: int,
    rows_per_batch: int,
    pad_id: int,
    max_rows: int,
    all_targets: bool,
) -> list[PreferenceBatch]:
    """Unshuffled micro-batches over at most `max_rows` rows (validation and evaluation)."""
    rows = fixed_rows(split, seq_len)[:max_rows]
    return [
        collate_examples(
            rows[start : start + rows_per_batch], split, seq_len, pad_id, all_targets=all_targets
        )
        for start in range(0, len(rows), rows_per_batch)
    ]


def fixed_rows(split: PreferenceSplit, seq_len: int) -> list[list[Segment]]:
    """Every example of the split, packed unshuffled."""
    lengths = [example.length for example in split.examples]
    return plan_units(lengths, seq_len, seed=0, epoch=0, shuffle=False)
