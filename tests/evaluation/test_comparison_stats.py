"""Win-rate intervals, rankings and agreement against published worked examples."""

from __future__ import annotations

import math

import pytest

from evaluation import stats
from evaluation.stats import Comparison

# Newcombe (1998), "Two-sided confidence intervals for the single proportion: comparison of
# seven methods", Statistics in Medicine 17:857-872, Table I: 95% intervals of four examples by
# the Wilson score method (method 3) and the exact Clopper-Pearson method (method 5).
NEWCOMBE_TABLE_I = [
    # successes, n, Wilson, Clopper-Pearson
    (81, 263, (0.2553, 0.3662), (0.2527, 0.3676)),
    (15, 148, (0.0624, 0.1605), (0.0578, 0.1617)),
    (0, 20, (0.0, 0.1611), (0.0, 0.1684)),
    (1, 29, (0.0061, 0.1718), (0.0009, 0.1776)),
]


@pytest.mark.parametrize(("x", "n", "wilson", "exact"), NEWCOMBE_TABLE_I)
def test_binomial_intervals_match_newcombes_table(
    x: int, n: int, wilson: tuple[float, float], exact: tuple[float, float]
) -> None:
    assert stats.wilson_interval(x, n) == pytest.approx(wilson, abs=5e-5)
    assert stats.clopper_pearson_interval(x, n) == pytest.approx(exact, abs=5e-5)


def test_the_exact_interval_is_never_narrower_than_wilsons_on_these_cases() -> None:
    for x, n, _, _ in NEWCOMBE_TABLE_I:
        w_low, w_high = stats.wilson_interval(x, n)
        e_low, e_high = stats.clopper_pearson_interval(x, n)
        assert e_high - e_low >= w_high - w_low


def test_ties_count_half_by_default_and_can_be_left_out() -> None:
    half = stats.win_rate(6, 2, 2)
    assert half.rate == pytest.approx(0.7) and half.votes == 10
    assert half.low < 0.7 < half.high
    decisive = stats.win_rate(6, 2, 2, tie_rule="exclude")
    assert decisive.rate == pytest.approx(0.75)
    assert (decisive.low, decisive.high) == pytest.approx(stats.wilson_interval(6, 8))


def test_a_model_that_always_ties_sits_at_one_half() -> None:
    result = stats.win_rate(0, 0, 40)
    assert result.rate == 0.5 and result.low < 0.5 < result.high
    assert result.high - result.low < stats.win_rate(0, 0, 4).high - stats.win_rate(0, 0, 4).low


def test_the_exact_interval_refuses_half_counted_ties() -> None:
    assert stats.win_rate(81, 182, method="exact").low == pytest.approx(0.2527, abs=5e-5)
    with pytest.raises(ValueError, match="whole counts"):
        stats.win_rate(3, 1, 1, method="exact")


def test_no_votes_give_the_whole_interval() -> None:
    result = stats.win_rate(0, 0, 0)
    assert (result.rate, result.low, result.high) == (0.5, 0.0, 1.0)


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        stats.wilson_interval(5, 4)
    with pytest.raises(ValueError):
        stats.clopper_pearson_interval(2, 3, confidence=1.0)
    with pytest.raises(ValueError):
        stats.win_rate(-1, 2)


def _votes(a: str, b: str, a_wins: int, b_wins: int, ties: int = 0) -> list[Comparison]:
    return (
        [Comparison(a, b, "a")] * a_wins
        + [Comparison(a, b, "b")] * b_wins
        + [Comparison(a, b, "tie")] * ties
    )


def test_bradley_terry_of_two_models_is_their_win_share() -> None:
    strengths = stats.bradley_terry(_votes("base", "tuned", 3, 7))
    assert strengths["tuned"] / (strengths["tuned"] + strengths["base"]) == pytest.approx(0.7)
    assert sum(strengths.values()) == pytest.approx(1.0)


def test_bradley_terry_solves_its_likelihood_equations_for_several_models() -> None:
    """At the maximum-likelihood estimate every model's expected wins equal its actual wins
    (Hunter 2004, eq. 3); a tie counts half a win to each side."""
    votes = (
        _votes("a", "b", 6, 4, 2)
        + _votes("b", "c", 7, 3)
        + _votes("a", "c", 8, 2, 1)
        + _votes("c", "d", 5, 5)
        + _votes("a", "d", 9, 1)
    )
    s = stats.bradley_terry(votes)
    players, wins = stats._pair_counts(votes)
    for i in players:
        actual = sum(w for (x, _), w in wins.items() if x == i)
        expected = sum(
            (wins[(i, j)] + wins[(j, i)]) * s[i] / (s[i] + s[j]) for (x, j) in wins if x == i
        )
        assert expected == pytest.approx(actual, abs=1e-6)
    assert max(s, key=s.__getitem__) == "a"


def test_a_prior_keeps_a_model_that_never_won_above_zero() -> None:
    votes = _votes("good", "bad", 5, 0)
    assert stats.bradley_terry(votes)["bad"] == pytest.approx(0.0, abs=1e-6)
    assert stats.bradley_terry(votes, prior=1.0)["bad"] > 0.05
    ratings = stats.bradley_terry_ratings(stats.bradley_terry(votes, prior=1.0))
    assert ratings["good"] > 1000 > ratings["bad"]
    assert (ratings["good"] + ratings["bad"]) / 2 == pytest.approx(1000)
    assert stats.bradley_terry_ratings({"x": 0.0, "y": 1.0})["x"] == -math.inf


def test_elo_matches_the_worked_tournament_example() -> None:
    """Wikipedia, "Elo rating system", Mathematical details: a player rated 1613 scores 2.5
    against 1609, 1477, 1388, 1586 and 1720, expected 0.51 + 0.69 + 0.79 + 0.54 + 0.35
    (rounded there), and is rated 1601 after."""
    games = [(1609, 0), (1477, 0.5), (1388, 1), (1586, 1), (1720, 0)]
    expected = [round(stats.elo_expected(1613, r), 2) for r, _ in games]
    assert expected == [0.51, 0.69, 0.79, 0.54, 0.35]
    assert round(stats.elo_update(1613, games)) == 1601


def test_elo_from_votes_moves_sixteen_points_on_a_first_win() -> None:
    ratings = stats.elo_ratings([Comparison("a", "b", "a")])
    assert ratings == {"a": 1016.0, "b": 984.0}
    assert stats.elo_ratings([Comparison("a", "b", "tie")]) == {"a": 1000.0, "b": 1000.0}


def test_cohens_kappa_matches_the_worked_example() -> None:
    """Wikipedia, "Cohen's kappa", first example: 50 proposals read by two readers, 20 both
    yes, 15 both no, 5 yes/no, 10 no/yes: p_o = 0.7, p_e = 0.5, kappa = 0.4."""
    first = ["yes"] * 20 + ["yes"] * 5 + ["no"] * 10 + ["no"] * 15
    second = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert stats.cohen_kappa(first, second) == pytest.approx(0.4)


def test_cohens_kappa_edges() -> None:
    assert stats.cohen_kappa(["a", "b"], ["a", "b"]) == 1.0
    assert stats.cohen_kappa(["a", "a"], ["a", "a"]) == 1.0
    assert stats.cohen_kappa(["a", "b"], ["b", "a"]) == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        stats.cohen_kappa(["a"], [])


FLEISS_EXAMPLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_fleiss_kappa_matches_the_worked_example() -> None:
    """Wikipedia, "Fleiss' kappa", worked example: 14 raters put 10 subjects in 5 categories;
    P-bar = 0.378, P-bar_e = 0.213, kappa = 0.210."""
    assert stats.fleiss_kappa(FLEISS_EXAMPLE) == pytest.approx(0.210, abs=5e-4)


def test_fleiss_kappa_of_two_raters_is_close_to_cohens_and_skips_single_ratings() -> None:
    first = ["yes"] * 20 + ["yes"] * 5 + ["no"] * 10 + ["no"] * 15
    second = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    table = stats.fleiss_table(zip(first, second, strict=True), ["yes", "no"])
    # Fleiss pools the raters' marginals (Scott's pi for two raters), Cohen keeps them apart.
    assert stats.fleiss_kappa(table) == pytest.approx(0.3939, abs=1e-4)
    assert stats.fleiss_kappa([*table, [1, 0]]) == stats.fleiss_kappa(table)
    with pytest.raises(ValueError):
        stats.fleiss_kappa([[1, 0], [0, 1]])
