"""Small pure statistics over seeds: bootstrap CIs, IQM, paired differences, curve bands,
and the verdict of a comparison.

Conventions: a *score* is a metric value of one seed; ``direction`` is ``min`` (lower
is better) or ``max``. Intervals are percentile bootstrap intervals (95% by default)
drawn with a fixed seed, so a report is reproducible. Aggregation across tasks (IQM of
normalized scores with stratified bootstrap, probability of improvement) uses rliable
(``harness.aggregate``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

N_BOOT = 10_000


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval: ``point`` in [``low``, ``high``]; ``n`` values."""

    point: float
    low: float
    high: float
    n: int = 0

    @property
    def finite(self) -> bool:
        return bool(np.isfinite(self.point))

    def excludes_zero(self) -> bool:
        """True when the interval lies strictly on one side of 0."""
        return bool(self.low > 0 or self.high < 0)


NAN_ESTIMATE = Estimate(float("nan"), float("nan"), float("nan"), 0)


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    x = np.asarray([v for v in values if v is not None], dtype=np.float64)
    return x[np.isfinite(x)]


def iqm(values: np.ndarray, axis: int | None = None) -> float | np.ndarray:
    """Interquartile mean: the mean of the middle 50% of values (rliable's definition:
    25% trimmed from each end, scipy's ``trim_mean(x, 0.25)``)."""
    from scipy.stats import trim_mean

    x = np.asarray(values, dtype=np.float64)
    out = trim_mean(x, 0.25, axis=axis)
    return float(out) if np.ndim(out) == 0 else out


_STATS = {"median": np.median, "mean": np.mean, "iqm": iqm}


def bootstrap_ci(
    values: Sequence[float],
    stat: str = "median",
    level: float = 0.95,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> Estimate:
    """The statistic over ``values`` with its percentile bootstrap CI.

    NaNs and None are dropped; with one value the interval is that value; with none,
    all NaN.
    """
    x = _finite(values)
    if x.size == 0:
        return NAN_ESTIMATE
    fn = _STATS[stat]
    point = float(fn(x))
    if x.size == 1:
        return Estimate(point, point, point, 1)
    rng = np.random.default_rng(seed)
    samples = x[rng.integers(0, x.size, size=(n_boot, x.size))]
    boots = np.asarray(fn(samples, axis=1), dtype=np.float64)
    alpha = (1 - level) / 2
    low, high = np.quantile(boots, [alpha, 1 - alpha])
    return Estimate(point, float(low), float(high), int(x.size))


def paired_difference(
    a: Mapping[int, float],
    b: Mapping[int, float],
    level: float = 0.95,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> Estimate:
    """Mean of ``a[s] - b[s]`` over the seeds ``s`` both have (finite values only),
    with a percentile bootstrap CI over those seeds (resampling seeds, so each seed's
    two values stay together: common random numbers cancel)."""
    seeds = sorted(s for s in a.keys() & b.keys() if np.isfinite(a[s]) and np.isfinite(b[s]))
    d = np.array([a[s] - b[s] for s in seeds], dtype=np.float64)
    return bootstrap_ci(d, stat="mean", level=level, n_boot=n_boot, seed=seed)


def probability_of_improvement(x: Sequence[float], y: Sequence[float], direction: str) -> float:
    """P(a random run of x beats a random run of y): the Mann-Whitney statistic over all
    pairs, ties counting one half (rliable's per-task probability of improvement)."""
    xs, ys = _finite(x), _finite(y)
    if xs.size == 0 or ys.size == 0:
        return float("nan")
    diff = xs[:, None] - ys[None, :]
    if direction == "min":
        diff = -diff
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


@dataclass(frozen=True)
class Verdict:
    """The outcome of a comparison at one task and budget.

    Attributes:
        kind: ``winner`` (one agent's paired CI against every other lies on the better
            side of 0), ``tie`` (several agents are not separated from the best),
            ``undecided`` (too few shared seeds), ``none`` (nothing finished).
        leaders: the winner, or the agents tied at the top (best median first).
        text: one honest sentence.
    """

    kind: str
    leaders: tuple[str, ...]
    text: str


MIN_SEEDS_TO_DECIDE = 3


def verdict(
    scores: Mapping[str, Mapping[int, float]],
    direction: str,
    metric: str = "the metric",
    level: float = 0.95,
) -> Verdict:
    """Decide a comparison from per-agent, per-seed scores.

    The agent with the best median leads. Each other agent is compared with it by the
    paired bootstrap CI of their per-seed differences (:func:`paired_difference`): an
    agent whose interval includes 0 is tied with the leader. One leader left is a
    winner; otherwise the leaders are reported as a tie, never as an arbitrary "best".
    """
    finite = {
        a: {s: v for s, v in per.items() if v is not None and np.isfinite(v)}
        for a, per in scores.items()
    }
    finite = {a: per for a, per in finite.items() if per}
    if not finite:
        return Verdict("none", (), "No finished trials.")
    sign = 1.0 if direction == "min" else -1.0
    order = sorted(finite, key=lambda a: (sign * float(np.median(list(finite[a].values()))), a))
    best = order[0]
    if len(order) == 1:
        return Verdict("winner", (best,), f"Only **{best}** finished.")
    tied, worse, undecided = [best], [], []
    for other in order[1:]:
        shared = finite[best].keys() & finite[other].keys()
        if len(shared) < MIN_SEEDS_TO_DECIDE:
            undecided.append(other)
            continue
        d = paired_difference(finite[other], finite[best], level=level)
        # d = other - best: the best is better when d > 0 (min) or d < 0 (max).
        if (d.low > 0) if direction == "min" else (d.high < 0):
            worse.append(other)
        else:
            tied.append(other)
    pct = f"{level:.0%}"
    if undecided:
        names = ", ".join(undecided)
        return Verdict(
            "undecided",
            tuple(tied + undecided),
            f"Undecided: fewer than {MIN_SEEDS_TO_DECIDE} seeds shared with {best} for "
            f"{names}; run more seeds.",
        )
    if len(tied) == 1:
        runner = order[1]
        d = paired_difference(finite[runner], finite[best], level=level)
        return Verdict(
            "winner",
            (best,),
            f"**{best}** wins on {metric}: better than every other agent, the runner-up "
            f"({runner}) by {abs(d.point):.4g} on average over seeds (paired {pct} CI of the "
            f"difference [{d.low:.4g}, {d.high:.4g}]).",
        )
    names = ", ".join(f"**{a}**" for a in tied)
    rest = f"; {len(worse)} other agent(s) are worse" if worse else ""
    return Verdict(
        "tie",
        tuple(tied),
        f"Tie on {metric} between {names}: the paired {pct} CIs of their differences "
        f"include 0{rest}.",
    )


def step_values(samples: Sequence[int], values: Sequence[float], grid: np.ndarray) -> np.ndarray:
    """Value of a step curve (last value at or before x) at each grid point; NaN before
    its first point. ``samples`` must be non-decreasing."""
    s = np.asarray(samples, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    idx = np.searchsorted(s, grid, side="right") - 1
    out = np.where(idx >= 0, v[np.clip(idx, 0, None)] if v.size else np.nan, np.nan)
    return out.astype(np.float64)


def curve_band(
    curves: Sequence[tuple[Sequence[int], Sequence[float]]],
    grid: np.ndarray,
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> np.ndarray:
    """[3, len(grid)]: bootstrap CI low, median, CI high of the median over curves at
    each x (curves without a value at x are left out there)."""
    if not curves:
        return np.full((3, grid.size), np.nan)
    mat = np.vstack([step_values(s, v, grid) for s, v in curves])  # [runs, grid]
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, mat.shape[0], size=(n_boot, mat.shape[0]))
    alpha = (1 - level) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        med = np.nanmedian(mat, axis=0)
        boots = np.nanmedian(mat[picks], axis=1)  # [n_boot, grid]
        low, high = np.nanquantile(boots, [alpha, 1 - alpha], axis=0)
    return np.vstack([low, med, high])
