"""A toy task for fast tests of the harness (no simulator): loaded through
``TUNEBENCH_PLUGINS=tests.toy_plugin``.

Each item i has a target t_i; the "simulator" predicts t_i * (1 + sum_j (x_j - c_j)^2)
so the loss (MAPE) is minimised at x = c, with value 0.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from harness.agent import Agent, TrialContext
from harness.budget import BudgetedObjective
from harness.params import CategoricalParam, FloatParam, IntParam, ParamSpace
from harness.task import Task

TASKS = {"toy": "tests.toy_plugin:make_toy_task"}

CENTRE = {"x": 0.3, "y": 7, "z": 2.0}


def trial_context(task: Task, budget: int, n_items: int, seed: int = 0) -> TrialContext:
    """A trial context for calling an agent directly: ``budget`` samples, the first
    ``n_items`` training items per evaluation, generators seeded with ``seed``."""
    return TrialContext(
        objective=BudgetedObjective(task, budget),
        param_space=task.param_space,
        seed=seed,
        eval_items=np.arange(n_items, dtype=np.int64),
        rng=np.random.default_rng(seed),
    )


class ToyTask(Task):
    def __init__(self, n: int = 50, sleep_s: float = 0.0) -> None:
        self.name = "toy"
        self.description = "quadratic toy task"
        self.param_space = ParamSpace(
            [
                FloatParam("x", 0.0, 1.0, 0.9),
                IntParam("y", 0, 10, 1),
                FloatParam("z", 0.1, 10.0, 5.0, log=True),
                CategoricalParam("kind", ("a", "b", "c"), "a"),
            ]
        )
        rng = np.random.default_rng(123)
        self._targets = {s: rng.uniform(50, 500, size=n) for s in ("train", "val", "test")}
        self.sleep_s = sleep_s
        self.calls = 0
        self.fail_on_corner = False

    def n_items(self, split: str) -> int:
        return len(self._targets[split])

    def simulate(self, config: Mapping[str, Any], split: str, items: np.ndarray) -> np.ndarray:
        self.calls += len(items)
        if self.sleep_s:
            time.sleep(self.sleep_s)
        cfg = self.param_space.validate(config)
        if cfg["y"] == 10 and cfg["kind"] == "c" and self.fail_on_corner:
            raise RuntimeError("toy task: corner configuration fails (for tests)")
        dist = (cfg["x"] - CENTRE["x"]) ** 2 + ((cfg["y"] - CENTRE["y"]) / 10) ** 2
        dist += np.log(cfg["z"] / CENTRE["z"]) ** 2 + (0.0 if cfg["kind"] == "b" else 0.05)
        return self._targets[split][np.asarray(items)] * (1.0 + dist)

    def targets(self, split: str, items: np.ndarray) -> np.ndarray:
        return self._targets[split][np.asarray(items)]

    def loss(self, predictions: np.ndarray, targets: np.ndarray) -> float:
        return float(np.mean(np.abs(predictions - targets) / targets))

    def metrics(self, predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        return {"loss": self.loss(predictions, targets), "mape": self.loss(predictions, targets)}


def make_toy_task(n: int = 50, sleep_s: float = 0.0) -> ToyTask:
    """Quadratic toy task for tests (loss 0 at a known centre)."""
    return ToyTask(n=n, sleep_s=sleep_s)


AGENTS = {"toy-crash": "tests.toy_plugin:CrashingAgent"}


class CrashingAgent(Agent):
    """Raises after one evaluation (for tests of failure handling)."""

    name = "toy-crash"
    description = "raises RuntimeError after one evaluation (tests only)"

    def run(self, ctx: TrialContext) -> dict:
        ctx.objective.loss(ctx.param_space.default(), "train", ctx.eval_items)
        raise RuntimeError("toy agent crashed on purpose")


AGENTS["toy-big"] = "tests.toy_plugin:BigRecordAgent"


class BigRecordAgent(Agent):
    """Returns the default with ~200 KB of diagnostics (records bigger than a pipe)."""

    name = "toy-big"
    description = "default configuration plus a very large record (tests only)"

    def run(self, ctx: TrialContext) -> dict:
        self.diagnostics = {f"d{i:05d}": float(i) for i in range(10_000)}
        return ctx.param_space.default()
