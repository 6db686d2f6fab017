"""Aggregation across tasks (rliable's methods, written here).

Why by hand: rliable (1.2) depends on ``arch``, whose current release fails to import
beside pandas 3 (``TypeError: deprecate_kwarg()``), so the two methods the report needs
are written here as small pure functions, as rliable defines them:

- **IQM of normalized scores** with a *stratified* bootstrap CI (runs resampled within
  each task, so every task keeps its weight);
- **probability of improvement** P(X > Y): per task the Mann-Whitney statistic over
  runs, averaged over tasks, with a stratified bootstrap CI.

Scores are normalized per task as the relative improvement over the ``default``
agent's median on that task (higher is better, 0 = the default, 0.2 = 20% better on the
headline metric), each agent taken at its task's largest sample budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from harness.stats import Estimate, iqm, probability_of_improvement

DEFAULT_AGENT = "default"


class _ComparisonLike(Protocol):
    task_label: str
    budget_samples: int
    budget_labels: int | None
    direction: str
    per_seed: dict[str, dict[int, float]]


@dataclass(frozen=True)
class AggregateRow:
    """One agent across tasks: IQM of normalized scores and P(agent beats default)."""

    agent: str
    tasks: int
    iqm: Estimate
    p_beats_default: Estimate


def normalized_scores(
    per_seed: Mapping[str, Mapping[int, float]], direction: str
) -> dict[str, np.ndarray]:
    """agent -> float64 [runs] relative improvement over the default's median."""
    base = np.median([v for v in per_seed[DEFAULT_AGENT].values() if np.isfinite(v)])
    sign = 1.0 if direction == "min" else -1.0
    out = {}
    for agent, seeds in per_seed.items():
        vals = np.array([v for _, v in sorted(seeds.items()) if np.isfinite(v)], dtype=float)
        out[agent] = sign * (base - vals) / max(abs(base), 1e-12)
    return out


def stratified_iqm(
    per_task: Sequence[np.ndarray], n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> Estimate:
    """IQM over all runs of all tasks, CI by resampling runs within each task."""
    tasks = [np.asarray(t, dtype=float) for t in per_task if len(t)]
    if not tasks:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    point = float(iqm(np.concatenate(tasks)))
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for b in range(n_boot):
        boots[b] = iqm(np.concatenate([t[rng.integers(0, len(t), len(t))] for t in tasks]))
    alpha = (1 - level) / 2
    low, high = np.quantile(boots, [alpha, 1 - alpha])
    return Estimate(point, float(low), float(high), sum(len(t) for t in tasks))


def stratified_poi(
    xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], n_boot: int = 2000, seed: int = 0
) -> Estimate:
    """P(X > Y) averaged over tasks (higher scores better), stratified bootstrap CI."""
    pairs = [
        (np.asarray(x), np.asarray(y)) for x, y in zip(xs, ys, strict=True) if len(x) and len(y)
    ]
    if not pairs:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)

    def poi(ps: list[tuple[np.ndarray, np.ndarray]]) -> float:
        return float(np.mean([probability_of_improvement(x, y, "max") for x, y in ps]))

    point = poi(pairs)
    rng = np.random.default_rng(seed)
    boots = [
        poi(
            [
                (x[rng.integers(0, len(x), len(x))], y[rng.integers(0, len(y), len(y))])
                for x, y in pairs
            ]
        )
        for _ in range(n_boot)
    ]
    low, high = np.quantile(boots, [0.025, 0.975])
    return Estimate(point, float(low), float(high), len(pairs))


def aggregate_across_tasks(comparisons: Sequence[Any]) -> list[AggregateRow]:
    """Rows (best IQM first) over the task settings that have a ``default`` agent, each at
    its largest budget; empty when fewer than two task settings qualify."""
    largest: dict[str, Any] = {}
    for c in comparisons:
        if DEFAULT_AGENT not in c.per_seed or not c.per_seed[DEFAULT_AGENT]:
            continue
        if c.task_label not in largest or c.budget_samples > largest[c.task_label].budget_samples:
            largest[c.task_label] = c
    if len(largest) < 2 or all(len(c.per_seed) < 2 for c in largest.values()):
        return []  # one task, or only the default agent: nothing to aggregate
    scores = {label: normalized_scores(c.per_seed, c.direction) for label, c in largest.items()}
    agents = sorted({a for s in scores.values() for a in s})
    rows = []
    for agent in agents:
        mine = [s[agent] for s in scores.values() if agent in s]
        base = [s[DEFAULT_AGENT] for s in scores.values() if agent in s]
        rows.append(
            AggregateRow(
                agent=agent,
                tasks=len(mine),
                iqm=stratified_iqm(mine),
                p_beats_default=stratified_poi(mine, base),
            )
        )
    rows.sort(key=lambda r: (-r.iqm.point if np.isfinite(r.iqm.point) else np.inf, r.agent))
    return rows
