"""Packing: packed rows compute exactly the per-token loss of the records run alone."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from trainer.engine.data import IGNORE_INDEX, TokenizedRecord, tokenize_split
from trainer.engine.modeling import VARLEN_ATTENTION, per_token_losses, set_attention
from trainer.engine.models import load_causal_lm, load_tokenizer
from trainer.engine.packing import BatchStream, chunk_record, collate, plan_rows


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_model_dir):
    model = load_causal_lm(tiny_model_dir, dtype=torch.float32).eval()
    return model, load_tokenizer(tiny_model_dir)


@pytest.fixture(scope="module")
def mixed_records(model_and_tokenizer):
    _, tokenizer = model_and_tokenizer
    raw = [{"text": "the quick brown fox " * k} for k in (1, 3, 5)] + [
        {"prompt": "What is 2 plus 2?", "completion": "It is 4."},
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello there"},
            ]
        },
    ]
    records, _ = tokenize_split(raw, tokenizer)
    return records


def _losses_alone(model, records, rows):
    out = []
    for segment in (s for row in rows for s in row):
        record = records[segment.record]
        ids = torch.tensor([record.input_ids[segment.start : segment.end]])
        labels = torch.tensor(record.labels[segment.start + 1 : segment.end])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0, :-1]
        keep = labels != IGNORE_INDEX
        out.append(F.cross_entropy(logits[keep], labels[keep], reduction="none"))
    return torch.cat(out)


def test_packed_row_gives_the_same_per_token_loss_as_records_run_alone(
    model_and_tokenizer, mixed_records
):
    model, tokenizer = model_and_tokenizer
    rows = plan_rows(mixed_records, 80, seed=0, epoch=0)
    assert any(len(row) > 1 for row in rows), "the test needs a row holding several records"
    packed = per_token_losses(model, collate(rows, mixed_records, 80, tokenizer.pad_token_id))
    torch.testing.assert_close(
        packed, _losses_alone(model, mixed_records, rows), atol=1e-5, rtol=1e-5
    )


def test_varlen_attention_path_matches_the_masked_path(model_and_tokenizer, mixed_records):
    model, tokenizer = model_and_tokenizer
    batch = collate(
        plan_rows(mixed_records, 80, seed=0, epoch=0), mixed_records, 80, tokenizer.pad_token_id
    )
    masked = per_token_losses(model, batch)
    set_attention(model, VARLEN_ATTENTION)
    try:
        varlen = per_token_losses(model, batch, varlen=True)
    finally:
        set_attention(model, "sdpa")
    torch.testing.assert_close(varlen, masked, atol=1e-5, rtol=1e-5)


def test_positions_restart_and_targets_never_cross_records(mixed_records):
    rows = plan_rows(mixed_records, 80, seed=0, epoch=0)
    batch = collate(rows, mixed_records, 80, pad_id=3)
    for r, row in enumerate(rows):
        offset = 0
        for segment in row:
            positions = batch.position_ids[r, offset : offset + segment.length]
            assert positions.tolist() == list(range(segment.length))
            assert batch.targets[r, offset + segment.length - 1] == IGNORE_INDEX
            offset += segment.length
        assert (batch.targets[r, offset:] == IGNORE_INDEX).all()  # padding is never trained on
    assert batch.n_targets == int((batch.targets != IGNORE_INDEX).sum())


def test_long_record_is_split_into_chunks_of_seq_len():
    record = TokenizedRecord(list(range(50)), [IGNORE_INDEX, *range(1, 50)])
    chunks = chunk_record(0, record, 16)
    assert [(c.start, c.end) for c in chunks] == [(0, 16), (16, 32), (32, 48), (48, 50)]
    rows = plan_rows([record], 16, seed=0, epoch=0)
    assert sum(seg.length for row in rows for seg in row) == 50
    assert all(sum(seg.length for seg in row) <= 16 for row in rows)


def test_plan_is_deterministic_per_seed_and_epoch(mixed_records):
    first = plan_rows(mixed_records, 64, seed=3, epoch=1)
    assert first == plan_rows(mixed_records, 64, seed=3, epoch=1)
    orders = {
        str(plan_rows(mixed_records, 64, seed=s, epoch=e)) for s in range(4) for e in range(3)
    }
    assert len(orders) > 1


def test_stream_resumes_from_its_position(mixed_records):
    def stream():
        return BatchStream(mixed_records, seq_len=64, rows_per_batch=1, pad_id=0, seed=1)

    straight = stream()
    expected = [straight.next_batch().input_ids for _ in range(9)]
    first = stream()
    for _ in range(4):
        first.next_batch()
    resumed = stream()
    resumed.seek(first.position)
    for want in expected[4:]:
        assert torch.equal(resumed.next_batch().input_ids, want)


def test_each_rank_gets_different_rows(mixed_records):
    ranks = [
        BatchStream(
            mixed_records, seq_len=64, rows_per_batch=1, pad_id=0, seed=1, rank=r, world_size=2
        )
        for r in range(2)
    ]
    a, b = (s.next_batch().input_ids for s in ranks)
    assert not torch.equal(a, b)


def test_grouped_query_attention_model_packs_correctly(tmp_path, mixed_records):
    from trainer.engine import build_tiny_model

    model_dir = build_tiny_model(tmp_path / "gqa", kv_heads=2)
    model, tokenizer = (
        load_causal_lm(model_dir, dtype=torch.float32).eval(),
        load_tokenizer(model_dir),
    )
    records, _ = tokenize_split(
        [{"text": "the quick brown fox " * k} for k in (1, 2, 4)], tokenizer
    )
    rows = plan_rows(records, 64, seed=0, epoch=0)
    batch = collate(rows, records, 64, tokenizer.pad_token_id)
    alone = _losses_alone(model, records, rows)
    torch.testing.assert_close(per_token_losses(model, batch), alone, atol=1e-5, rtol=1e-5)
    set_attention(model, VARLEN_ATTENTION)
    torch.testing.assert_close(
        per_token_losses(model, batch, varlen=True), alone, atol=1e-5, rtol=1e-5
    )
