"""Outliers: perplexity scores computed elsewhere, and model-free text statistics."""

import math
import random

import pytest
from screen_data import tickets

from datasets_app.pipeline.screen import (
    PerplexityScore,
    ScreenConfig,
    perplexity_outliers,
    records_to_score,
    screen_records,
)

ONLY = ScreenConfig(detectors=("outlier",))


def scores(values, source="upload"):
    return [PerplexityScore(i, value, source) for i, value in enumerate(values)]


def ordinary_perplexities(count=200, seed=1):
    rng = random.Random(seed)
    return [math.exp(rng.gauss(2.5, 0.3)) for _ in range(count)]


def test_extreme_perplexities_are_flagged_both_ways_by_default():
    values = ordinary_perplexities() + [5000.0, 1.01]
    flags = perplexity_outliers(scores(values))
    assert {flag.record_index for flag in flags} == {200, 201}
    reasons = {flag.record_index: flag.reason for flag in flags}
    assert "far above" in reasons[200] and "far below" in reasons[201]
    assert all(flag.source == "upload" and flag.detector == "outlier" for flag in flags)


def test_only_the_high_tail_when_asked():
    values = ordinary_perplexities() + [5000.0, 1.01]
    flags = perplexity_outliers(scores(values), tails=("high",))
    assert [flag.record_index for flag in flags] == [200]


def test_infinite_perplexity_is_flagged_and_nan_is_skipped():
    values = ordinary_perplexities() + [math.inf, math.nan, -3.0]
    flags = perplexity_outliers(scores(values))
    assert [flag.record_index for flag in flags] == [200]


def test_too_few_or_identical_scores_flag_nothing():
    assert perplexity_outliers(scores([10.0, 5000.0])) == []
    assert perplexity_outliers(scores([12.0] * 100)) == []


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        perplexity_outliers(scores([1.0]), tails=("sideways",))
    with pytest.raises(ValueError):
        perplexity_outliers(scores([1.0]), z_threshold=0)


def test_records_to_score_takes_all_small_datasets_and_a_fixed_sample_of_large_ones():
    assert records_to_score(5, 10) == [0, 1, 2, 3, 4]
    sample = records_to_score(10_000, 100, seed=3)
    assert len(sample) == 100 and sample == sorted(set(sample))
    assert sample == records_to_score(10_000, 100, seed=3)
    assert sample != records_to_score(10_000, 100, seed=4)


def spam_records():
    rng = random.Random(2)
    mash = " ".join(
        "".join(rng.choice("qwrtzpsdfghjklxcvbnm") for _ in range(rng.randint(3, 8)))
        for _ in range(40)
    )
    return [
        {"prompt": mash, "completion": "Sorry, could you say that again?"},
        {"prompt": "BUY CHEAP WATCHES NOW " * 20, "completion": "Please stop."},
        {"prompt": "%$#@!&*^~+=<>|{}[]" * 12, "completion": "We could not read this."},
    ]


def test_gibberish_repetition_and_symbol_spam_are_flagged_among_ordinary_tickets():
    records = tickets(800, seed=4) + spam_records()
    flags = screen_records(records, ONLY).flags
    assert {flag.record_index for flag in flags} == {800, 801, 802}
    assert all("robust deviations" in flag.reason for flag in flags)


def test_ordinary_technical_pastes_are_not_outliers():
    records = tickets(800, seed=6)
    records[10]["prompt"] += (
        "\nLog:\n2026-04-11T10:12:01Z ERROR net.wifi: association failed (reason=15)\n"
        "2026-04-11T10:12:07Z WARN  net.wifi: retrying in 5s [attempt 3/5]"
    )
    assert screen_records(records, ONLY).flags == []


def test_nothing_is_judged_with_too_few_records():
    assert screen_records(spam_records(), ONLY).flags == []
