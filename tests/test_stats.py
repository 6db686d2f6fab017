"""Known-answer tests of the statistics behind the report's numbers and verdicts."""

import numpy as np
import pytest

from harness.aggregate import normalized_scores, stratified_iqm, stratified_poi
from harness.stats import (
    bootstrap_ci,
    curve_band,
    iqm,
    paired_difference,
    probability_of_improvement,
    step_values,
    verdict,
)


def test_iqm_is_the_mean_of_the_middle_half() -> None:
    assert iqm(np.arange(8.0)) == pytest.approx(3.5)  # mean of 2, 3, 4, 5
    assert iqm(np.array([0.0, 0.0, 1.0, 1.0, 100.0, -100.0, 1.0, 0.0])) == pytest.approx(0.5)


def test_bootstrap_ci_brackets_the_median_and_degenerates_sensibly() -> None:
    est = bootstrap_ci([1.0, 2.0, 3.0, 4.0, 100.0])
    assert est.point == 3.0 and est.low <= 3.0 <= est.high and est.n == 5
    assert est.low >= 1.0 and est.high <= 100.0
    one = bootstrap_ci([0.25])
    assert (one.point, one.low, one.high) == (0.25, 0.25, 0.25)
    assert np.isnan(bootstrap_ci([float("nan"), None]).point)  # type: ignore[list-item]
    same = bootstrap_ci([0.5] * 4)
    assert (same.low, same.high) == (0.5, 0.5)


def test_paired_difference_uses_only_shared_seeds_and_cancels_seed_effects() -> None:
    # Seed effects of +-10 cancel in the pairs: a constant 0.1 difference, zero width.
    a = {0: 10.1, 1: -9.9, 2: 0.1, 3: 5.1}
    b = {0: 10.0, 1: -10.0, 2: 0.0, 3: 5.0, 9: 99.0}
    d = paired_difference(a, b)
    assert d.point == pytest.approx(0.1) and d.n == 4
    assert d.low == pytest.approx(0.1) and d.high == pytest.approx(0.1)
    assert d.excludes_zero()


def test_probability_of_improvement_counts_ties_half() -> None:
    assert probability_of_improvement([1, 2], [3, 4], "min") == 1.0
    assert probability_of_improvement([1, 2], [3, 4], "max") == 0.0
    assert probability_of_improvement([1, 3], [1, 3], "min") == 0.5
    assert probability_of_improvement([2.0], [1.0, 2.0, 3.0], "min") == pytest.approx(0.5)


def test_verdict_names_a_winner_only_when_every_paired_ci_is_clear() -> None:
    seeds = range(6)
    clear = {
        "a": {s: 0.10 + 0.01 * s for s in seeds},
        "b": {s: 0.20 + 0.01 * s for s in seeds},
        "c": {s: 0.30 + 0.01 * s for s in seeds},
    }
    v = verdict(clear, "min", "mape")
    assert v.kind == "winner" and v.leaders == ("a",) and "**a** wins" in v.text
    # b is as good as a on some seeds and worse on others: a tie, never "lowest".
    noisy = {**clear, "b": {s: 0.10 + 0.01 * s + (0.05 if s % 2 else -0.05) for s in seeds}}
    v = verdict(noisy, "min", "mape")
    assert v.kind == "tie" and set(v.leaders) == {"a", "b"} and "Tie" in v.text
    # Identical results (every agent = the default): a tie of all of them.
    same = {k: {s: 0.64 for s in seeds} for k in ("default", "random", "tpe")}
    assert verdict(same, "min").kind == "tie"
    # Direction matters: for a max metric the largest wins.
    assert verdict(clear, "max").leaders == ("c",)
    # Too few shared seeds: undecided.
    few = {"a": {0: 0.1, 1: 0.1}, "b": {0: 0.5, 1: 0.6}}
    assert verdict(few, "min").kind == "undecided"
    assert verdict({}, "min").kind == "none"


def test_step_values_and_curve_band() -> None:
    grid = np.array([1, 5, 10, 20])
    assert step_values([5, 10], [0.9, 0.5], grid).tolist()[1:] == [0.9, 0.5, 0.5]
    assert np.isnan(step_values([5, 10], [0.9, 0.5], grid)[0])
    curves = [([1], [v]) for v in (1.0, 2.0, 3.0)]
    low, med, high = curve_band(curves, np.array([1, 2]))
    assert med.tolist() == [2.0, 2.0] and (low <= med).all() and (med <= high).all()
    assert low[0] >= 1.0 and high[0] <= 3.0


def test_normalized_scores_and_stratified_aggregates() -> None:
    per_seed = {"default": {0: 1.0, 1: 1.0}, "a": {0: 0.5, 1: 0.75}}
    s = normalized_scores(per_seed, "min")
    assert s["default"].tolist() == [0.0, 0.0] and s["a"].tolist() == [0.5, 0.25]
    assert normalized_scores(per_seed, "max")["a"].tolist() == [-0.5, -0.25]
    est = stratified_iqm([np.array([0.5, 0.5]), np.array([0.5, 0.5])])
    assert (est.point, est.low, est.high) == (0.5, 0.5, 0.5)
    poi = stratified_poi([np.array([1.0, 1.0])], [np.array([0.0, 0.0])])
    assert poi.point == 1.0 and poi.low == 1.0
