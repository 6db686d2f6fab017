"""Small pure statistics over seeds: medians with bootstrap CIs, IQM, curve bands."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def bootstrap_ci(
    values: Sequence[float],
    stat: str = "median",
    level: float = 0.95,
    n_boot: int = 10_000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(statistic, low, high): percentile bootstrap CI of the median/mean/iqm over seeds.

    NaNs are dropped; with one value the interval is that value; with none, all NaN.
    """
    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    if x.size == 0:
        return (float("nan"),) * 3
    fn = {"median": np.median, "mean": np.mean, "iqm": iqm}[stat]
    point = float(fn(x))
    if x.size == 1:
        return point, point, point
    rng = np.random.default_rng(seed)
    samples = x[rng.integers(0, x.size, size=(n_boot, x.size))]
    if stat == "iqm":
        boots = np.array([iqm(s) for s in samples])
    else:
        boots = fn(samples, axis=1)
    alpha = (1 - level) / 2
    return point, float(np.quantile(boots, alpha)), float(np.quantile(boots, 1 - alpha))


def iqm(values: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50% of values."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = x.size
    lo, hi = int(np.floor(0.25 * n)), int(np.ceil(0.75 * n))
    return float(x[lo:hi].mean()) if hi > lo else float(x.mean())


def step_values(samples: Sequence[int], values: Sequence[float], grid: np.ndarray) -> np.ndarray:
    """Value of a step curve (last value at or before x) at each grid point; NaN before
    its first point. ``samples`` must be non-decreasing."""
    s = np.asarray(samples, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    idx = np.searchsorted(s, grid, side="right") - 1
    out = np.where(idx >= 0, v[np.clip(idx, 0, None)] if v.size else np.nan, np.nan)
    return out.astype(np.float64)


def curve_band(
    curves: Sequence[tuple[Sequence[int], Sequence[float]]], grid: np.ndarray
) -> np.ndarray:
    """[3, len(grid)]: 25th percentile, median, 75th percentile over curves at each x."""
    if not curves:
        return np.full((3, grid.size), np.nan)
    mat = np.vstack([step_values(s, v, grid) for s, v in curves])
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanpercentile(mat, [25, 50, 75], axis=0)
