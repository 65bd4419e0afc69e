"""Base against tuned: a drop beyond the standard-error band is flagged as forgetting."""

from __future__ import annotations

import pytest

from evaluation.harness.run import Metric, TaskResult, compare


def _result(task: str, *metrics: Metric) -> TaskResult:
    return TaskResult(task, 100, metrics)


def test_a_drop_beyond_the_band_is_flagged_and_one_within_it_is_not() -> None:
    base = [
        _result("general", Metric("acc,none", 0.60, 0.03, True), Metric("f1,none", 0.5, 0.05, True))
    ]
    tuned = [
        _result(
            "general", Metric("acc,none", 0.45, 0.03, True), Metric("f1,none", 0.45, 0.05, True)
        )
    ]
    changes = {c.metric: c for c in compare(base, tuned)}
    # band = 1.96 * sqrt(0.03^2 + 0.03^2) = 0.0832; the accuracy dropped 0.15.
    assert changes["acc,none"].band == pytest.approx(0.08315, abs=1e-4)
    assert changes["acc,none"].drop == pytest.approx(0.15) and changes["acc,none"].forgot
    assert not changes["f1,none"].forgot


def test_lower_is_better_metrics_drop_when_they_rise() -> None:
    base = [_result("wiki", Metric("word_perplexity,none", 20.0, 0.5, False))]
    worse = [_result("wiki", Metric("word_perplexity,none", 25.0, 0.5, False))]
    better = [_result("wiki", Metric("word_perplexity,none", 15.0, 0.5, False))]
    assert compare(base, worse)[0].forgot and compare(base, worse)[0].drop == pytest.approx(5.0)
    assert not compare(base, better)[0].forgot and compare(base, better)[0].drop < 0


def test_without_standard_errors_or_a_direction_nothing_is_flagged() -> None:
    base = [_result("t", Metric("bleu,none", 30.0, None, True), Metric("odd,none", 1.0, 0.0, None))]
    tuned = [_result("t", Metric("bleu,none", 1.0, None, True), Metric("odd,none", 0.0, 0.0, None))]
    assert [c.forgot for c in compare(base, tuned)] == [False, False]
    assert compare(base, [_result("other", Metric("bleu,none", 1.0, None, True))]) == []
