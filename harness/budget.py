"""The budgeted objective: the only way an agent reaches the simulator.

One *sample* is one simulation of one item under one parameter setting. The harness
owns the counter: a request that would pass the budget is refused with
:class:`BudgetExhausted` before anything is simulated, and repeated configurations
are charged again. The test split is never reachable from here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.task import Task

AGENT_SPLITS = ("train", "val")


class BudgetExhausted(Exception):
    """Raised to an agent whose request would use more samples than are left."""


@dataclass
class CurvePoint:
    """Anytime performance after ``samples`` samples (``*_loss`` are task losses)."""

    samples: int
    wall_s: float
    train_loss: float  # best loss the agent has reported on its training evaluations
    val_loss: float  # validation loss of the agent's current best configuration


@dataclass
class TrialLog:
    """What the harness watches while an agent runs: incumbent and anytime curve."""

    curve: list[CurvePoint] = field(default_factory=list)
    incumbent: dict[str, Any] | None = None
    incumbent_train_loss: float = float("inf")


class BudgetedObjective:
    """Charges every simulation an agent causes against ``budget_samples``.

    Args:
        task: the task whose simulator is called.
        budget_samples: samples the agent may cause in total.
        monitor_val_loss: harness callback giving the (uncharged) validation loss of a
            configuration, used only to draw the anytime curve; never seen by the agent.
    """

    def __init__(
        self,
        task: Task,
        budget_samples: int,
        monitor_val_loss: Callable[[Mapping[str, Any]], float] | None = None,
    ) -> None:
        if budget_samples < 0:
            raise ValueError("budget_samples must be >= 0")
        self._task = task
        self.budget_samples = int(budget_samples)
        self.samples_used = 0
        self.evaluations = 0
        self.log = TrialLog()
        self._monitor = monitor_val_loss
        self._t0 = time.perf_counter()

    @property
    def param_space(self):  # type: ignore[no-untyped-def]
        return self._task.param_space

    @property
    def samples_left(self) -> int:
        return self.budget_samples - self.samples_used

    def n_items(self, split: str = "train") -> int:
        """Number of items in an agent-visible split (free)."""
        return self._task.n_items(_agent_split(split))

    def targets(self, split: str = "train", items: np.ndarray | None = None) -> np.ndarray:
        """Ground truth of ``items`` (default: all) of ``split``, float64 [n] (free)."""
        split = _agent_split(split)
        return self._task.targets(split, self._items(split, items))

    def inputs(self, split: str = "train", items: np.ndarray | None = None) -> list[str]:
        """Raw inputs of ``items`` of ``split`` (free: reading data is not simulating)."""
        split = _agent_split(split)
        return self._task.inputs(split, self._items(split, items))

    def item_tokens(self, split: str = "train", items: np.ndarray | None = None) -> list[list[str]]:
        """Per-item tokens of ``items`` of ``split`` (free), see :meth:`Task.item_tokens`."""
        split = _agent_split(split)
        return self._task.item_tokens(split, self._items(split, items))

    def predict(
        self, config: Mapping[str, Any], split: str = "train", items: np.ndarray | None = None
    ) -> np.ndarray:
        """Simulate ``items`` of ``split`` under ``config``; charges len(items) samples.

        Returns float64 [len(items)] predictions (NaN where the simulator failed).
        Raises BudgetExhausted, charging nothing, if fewer samples are left.
        """
        split = _agent_split(split)
        idx = self._items(split, items)
        self._charge(len(idx))
        self.evaluations += 1
        return self._task.simulate(config, split, idx)

    def loss(
        self, config: Mapping[str, Any], split: str = "train", items: np.ndarray | None = None
    ) -> float:
        """Task loss of ``config`` on ``items`` of ``split``; charges len(items) samples."""
        split = _agent_split(split)
        idx = self._items(split, items)
        pred = self.predict(config, split, idx)
        return self._task.loss(pred, self._task.targets(split, idx))

    def propose(self, config: Mapping[str, Any], train_loss: float | None = None) -> None:
        """Declare ``config`` the agent's current best (free); records a curve point.

        The harness scores the last proposed configuration if the agent ends by running
        out of budget without returning one.
        """
        cfg = self._task.param_space.validate(config)
        self.log.incumbent = cfg
        if train_loss is not None:
            self.log.incumbent_train_loss = min(self.log.incumbent_train_loss, float(train_loss))
        val = self._monitor(cfg) if self._monitor is not None else float("nan")
        self.log.curve.append(
            CurvePoint(
                samples=self.samples_used,
                wall_s=time.perf_counter() - self._t0,
                train_loss=self.log.incumbent_train_loss,
                val_loss=val,
            )
        )

    def _charge(self, n: int) -> None:
        if n > self.samples_left:
            raise BudgetExhausted(
                f"request for {n} samples refused: {self.samples_left} of "
                f"{self.budget_samples} left"
            )
        self.samples_used += n

    def _items(self, split: str, items: np.ndarray | None) -> np.ndarray:
        n = self._task.n_items(split)
        if items is None:
            return np.arange(n, dtype=np.int64)
        idx = np.asarray(items, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"items out of range for split {split!r} of {n} items")
        return idx


def _agent_split(split: str) -> str:
    if split not in AGENT_SPLITS:
        raise ValueError(f"agents may use splits {AGENT_SPLITS}, not {split!r}")
    return split
