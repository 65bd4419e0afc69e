"""k-extractability's prompt/suffix split and rate (pure arithmetic, no model)."""

from __future__ import annotations

from trainer.engine.privacy.extraction import RecordResult, extraction_rate, split_for


def test_long_records_use_k_and_m_short_ones_are_halved_tiny_ones_untested() -> None:
    assert split_for(100, 32, 32) == (32, 32)
    assert split_for(40, 32, 32) == (20, 20)
    assert split_for(17, 32, 32) == (8, 9)
    assert split_for(15, 32, 32) == (0, 0)


def test_the_rate_counts_only_tested_records_and_needs_every_suffix_token() -> None:
    results = [
        RecordResult(loss=1.0, reference_loss=None, k=32, m=32, reproduced=32),
        RecordResult(loss=1.0, reference_loss=None, k=32, m=32, reproduced=31),
        RecordResult(loss=1.0, reference_loss=None, k=0, m=0, reproduced=0),
    ]
    assert extraction_rate(results) == 0.5
    assert extraction_rate(results[2:]) is None
