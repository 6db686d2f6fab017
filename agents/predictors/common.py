"""What every predictor agent shares: which tasks it fits, which items it labels, and
the items it may read for free.

Labelled items: the pool is every train and validation item (both splits are the
agent's; by-source puts whole applications in each). A trial labels the first
``min(budget_labels, pool)`` items of a permutation fixed by the trial's seed alone, so
every agent of one seed and label budget learns from the same labelled blocks (common
random numbers: the report's paired differences compare models, not luck of the draw).
A hash-chosen ``holdout_fraction`` of them is kept out of fitting for early stopping
and model selection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from harness.agent import Agent, TrialContext
from harness.budget import BudgetedObjective
from harness.task import INPUTS, PREDICTOR, TARGETS, Task
from harness.trial import stable_int

# What a learned predictor may fit (its option ``loss``): "log-abs", mean |log predicted
# - log measured| (minimised by the median ratio); "mape", mean |predicted / measured -
# 1|, the metric the timing tasks score (minimised lower: MAPE charges over-prediction
# more). Each agent says how it fits them.
LOSSES = ("log-abs", "mape")


def check_loss(loss: str) -> None:
    """ValueError unless ``loss`` is one of :data:`LOSSES`."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; known: {', '.join(LOSSES)}")


SPLITS = ("train", "val")
_HEX = re.compile(r"^(?:[0-9a-fA-F]{2})+$")


@dataclass(frozen=True)
class Items:
    """Items of the agent-visible splits, in one order.

    Attributes:
        split: n split names (``train`` / ``val``).
        index: int64 [n] item positions within their split.
    """

    split: np.ndarray
    index: np.ndarray

    def __len__(self) -> int:
        return len(self.index)

    def take(self, rows: np.ndarray) -> Items:
        return Items(self.split[rows], self.index[rows])

    def by_split(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """(split, rows of self, item positions) per split present."""
        out = []
        for s in SPLITS:
            rows = np.flatnonzero(self.split == s)
            if len(rows):
                out.append((s, rows, self.index[rows]))
        return out


def all_items(obj: BudgetedObjective) -> Items:
    """Every train then validation item."""
    n_tr, n_va = obj.n_items("train"), obj.n_items("val")
    return Items(
        np.array(["train"] * n_tr + ["val"] * n_va),
        np.concatenate([np.arange(n_tr), np.arange(n_va)]).astype(np.int64),
    )


def read_inputs(obj: BudgetedObjective, items: Items) -> list[str]:
    """Hex blocks of ``items`` (free)."""
    out: list[str] = [""] * len(items)
    for split, rows, idx in items.by_split():
        for r, h in zip(rows, obj.inputs(split, idx), strict=True):
            out[r] = h
    return out


def read_targets(obj: BudgetedObjective, items: Items) -> np.ndarray:
    """Ground truth of ``items``, float64 [n] (charged: one label per new item)."""
    out = np.empty(len(items))
    for split, rows, idx in items.by_split():
        out[rows] = obj.targets(split, idx)
    return out


def simulate(obj: BudgetedObjective, config: dict, items: Items) -> np.ndarray:
    """The task's simulator under ``config`` on ``items``, float64 [n] (charged: one
    sample per item; NaN where it failed)."""
    out = np.empty(len(items))
    for split, rows, idx in items.by_split():
        out[rows] = obj.evaluate(config, split, idx)
    return out


def simulate_reference(obj: BudgetedObjective, name: str, items: Items) -> np.ndarray:
    """The task's reference simulator ``name`` on ``items``, float64 [n] (charged as
    :func:`simulate`; NaN where it failed)."""
    out = np.empty(len(items))
    for split, rows, idx in items.by_split():
        out[rows] = obj.evaluate_reference(name, split, idx)
    return out


@dataclass(frozen=True)
class Labelled:
    """The trial's labelled items and their ground truth.

    Attributes:
        items: the labelled items (positions into :func:`all_items` order: ``rows``).
        rows: int64 [n] rows of :func:`all_items`.
        targets: float64 [n] measured cycles per 100 iterations.
        holdout: bool [n] kept out of fitting (early stopping, model selection).
    """

    items: Items
    rows: np.ndarray
    targets: np.ndarray
    holdout: np.ndarray


def label_items(
    ctx: TrialContext, pool: Items, holdout_fraction: float = 0.15, min_holdout: int = 5
) -> Labelled:
    """Label the trial's share of ``pool`` (see the module docstring); charges labels."""
    obj = ctx.objective
    budget = obj.labels_left
    n = len(pool) if budget is None else min(int(budget), len(pool))
    perm = np.random.default_rng(stable_int("predictor-labels", ctx.seed)).permutation(len(pool))
    rows = np.sort(perm[:n])
    items = pool.take(rows)
    targets = read_targets(obj, items) if n else np.zeros(0)
    u = np.random.default_rng(stable_int("predictor-holdout", ctx.seed)).random(len(pool))[rows]
    holdout = u < holdout_fraction
    if n >= 2 * min_holdout and holdout.sum() < min_holdout:
        holdout[np.argsort(u)[:min_holdout]] = True
    if n and holdout.all():
        holdout[np.argmax(u)] = False
    return Labelled(items, rows, targets, holdout)


def are_hex_blocks(task: Task) -> bool:
    """Whether the task's inputs are x86-64 blocks as hex (what these predictors read)."""
    try:
        sample = task.inputs("train", np.arange(min(3, task.n_items("train"))))
    except Exception:  # noqa: BLE001 - a task without readable inputs fits no predictor
        return False
    return bool(sample) and all(isinstance(h, str) and _HEX.match(h) for h in sample)


class PredictorAgent(Agent):
    """Base of the predictor-track agents: timing tasks over hex basic blocks."""

    requires = frozenset({INPUTS, TARGETS, PREDICTOR})

    @classmethod
    def supports(cls, task: Task) -> tuple[bool, str]:
        ok, why = super().supports(task)
        if not ok:
            return ok, why
        if not are_hex_blocks(task):
            return False, "needs a timing task whose inputs are hex x86-64 basic blocks"
        return True, ""


def mape(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean absolute percentage error (a fraction); a NaN prediction counts as 100%."""
    err = np.abs(np.asarray(pred) - target) / target
    return float(np.mean(np.where(np.isfinite(err), err, 1.0))) if len(target) else float("nan")
