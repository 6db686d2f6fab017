"""Toy tasks for fast tests of the harness (no simulator).

``toy``: each item i has a target t_i; the "simulator" predicts
t_i * (1 + sum_j (x_j - c_j)^2), so the loss (MAPE) is minimised at x = c, with value 0.

``toy-seq``: direct optimization. A configuration is a pass-like sequence of letters
and an order of three loops, plus a tile size that must divide 64 (the constraint).
Each item's cost is a positive number that is lowest for the sequence ``"ab"``, the
order ``("k", "i", "j")`` and tile 16; the loss is the geometric mean of cost over the
item's baseline (the default configuration's cost), so the default scores 1.0.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from harness.agent import Agent, TrialContext
from harness.budget import BudgetedObjective
from harness.params import (
    CategoricalParam,
    FloatParam,
    IntParam,
    ParamSpace,
    PermutationParam,
    SequenceParam,
)
from harness.task import DETERMINISTIC, INPUTS, PREDICTOR, TARGETS, Metric, Task

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
    """Calibration-shaped toy: predictions vs targets, MAPE."""

    headline = Metric("mape", "min", "MAPE")
    capabilities = frozenset({DETERMINISTIC, TARGETS, INPUTS, PREDICTOR})

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

    def evaluate(self, config: Mapping[str, Any], split: str, items: np.ndarray) -> np.ndarray:
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

    def inputs(self, split: str, items: np.ndarray) -> list[str]:
        """Item names ``<split>:<i>`` (a predictor looks its targets up by name)."""
        return [f"{split}:{int(i)}" for i in items]

    def loss(self, costs: np.ndarray, split: str, items: np.ndarray) -> float:
        t = self.targets(split, items)
        return float(np.mean(np.abs(np.asarray(costs) - t) / t))

    def score(self, costs: np.ndarray, split: str, items: np.ndarray) -> dict[str, float]:
        value = self.loss(costs, split, items)
        return {"loss": value, "mape": value}


def make_toy_task(n: int = 50, sleep_s: float = 0.0) -> ToyTask:
    """Quadratic toy task for tests (loss 0 at a known centre)."""
    return ToyTask(n=n, sleep_s=sleep_s)


LETTERS = ("a", "b", "c", "d")
LOOPS = ("i", "j", "k")


def tile_divides_64(config: Mapping[str, Any]) -> str | None:
    """The toy constraint: the tile must divide 64."""
    return None if 64 % int(config["tile"]) == 0 else f"tile {config['tile']} does not divide 64"


class ToySeqTask(Task):
    """Direct-optimization toy with a sequence, a permutation and a constraint."""

    headline = Metric("geomean_cost_ratio", "min", "cost / default (geomean)")
    capabilities = frozenset({DETERMINISTIC})

    def __init__(self, n: int = 20) -> None:
        self.name = "toy-seq"
        self.description = "sequence + permutation toy with a divisibility constraint"
        self.param_space = ParamSpace(
            [
                SequenceParam("passes", LETTERS, 0, 4, ("c",)),
                PermutationParam("order", LOOPS, LOOPS),
                IntParam("tile", 1, 64, 8),
            ],
            constraint=tile_divides_64,
        )
        rng = np.random.default_rng(7)
        self._base = {s: rng.uniform(1.0, 2.0, size=n) for s in ("train", "val", "test")}

    def n_items(self, split: str) -> int:
        return len(self._base[split])

    def _penalty(self, cfg: Mapping[str, Any]) -> float:
        seq = "".join(cfg["passes"])
        miss = sum(a != b for a, b in zip(seq.ljust(4), "ab".ljust(4), strict=True))
        order = sum(a != b for a, b in zip(cfg["order"], ("k", "i", "j"), strict=True))
        return 1.0 + 0.1 * miss + 0.05 * order + 0.02 * abs(np.log2(cfg["tile"] / 16))

    def evaluate(self, config: Mapping[str, Any], split: str, items: np.ndarray) -> np.ndarray:
        cfg = self.param_space.validate(config)
        return self._base[split][np.asarray(items)] * self._penalty(cfg)

    def _ratios(self, costs: np.ndarray, split: str, items: np.ndarray) -> np.ndarray:
        default = self._base[split][np.asarray(items)] * self._penalty(self.param_space.default())
        return np.asarray(costs) / default

    def loss(self, costs: np.ndarray, split: str, items: np.ndarray) -> float:
        return float(np.exp(np.mean(np.log(self._ratios(costs, split, items)))))

    def score(self, costs: np.ndarray, split: str, items: np.ndarray) -> dict[str, float]:
        value = self.loss(costs, split, items)
        return {"loss": value, "geomean_cost_ratio": value}


def make_toy_seq_task(n: int = 20) -> ToySeqTask:
    """Direct-optimization toy: a pass sequence, a loop order and a constrained tile."""
    return ToySeqTask(n=n)


class CrashingAgent(Agent):
    """Raises after one evaluation (for tests of failure handling)."""

    name = "toy-crash"
    description = "raises RuntimeError after one evaluation (tests only)"

    def run(self, ctx: TrialContext) -> dict:
        ctx.objective.loss(ctx.param_space.default(), "train", ctx.eval_items)
        raise RuntimeError("toy agent crashed on purpose")


class BigRecordAgent(Agent):
    """Returns the default with ~200 KB of diagnostics (records bigger than a pipe)."""

    name = "toy-big"
    description = "default configuration plus a very large record (tests only)"

    def run(self, ctx: TrialContext) -> dict:
        for i in range(10_000):
            self.set_diagnostic(f"d{i:05d}", float(i))
        return ctx.param_space.default()


class ConstantPredictor:
    """Predicts one value for every input, kept in a torch tensor (tests that torch state
    crosses the isolation channel)."""

    def __init__(self, value: float) -> None:
        import torch

        self.value = torch.tensor([value], dtype=torch.float64)

    def __call__(self, inputs: list[str]) -> np.ndarray:
        return np.full(len(inputs), float(self.value[0]))


class TorchPredictorAgent(Agent):
    """Returns a predictor: the mean training target (a torch tensor inside)."""

    name = "toy-torch-predictor"
    description = "returns a constant predictor holding a torch tensor (tests only)"
    requires = frozenset({TARGETS, PREDICTOR})

    def run(self, ctx: TrialContext) -> ConstantPredictor:
        targets = ctx.objective.targets("train", ctx.eval_items)
        predictor = ConstantPredictor(float(np.mean(targets)))
        ctx.objective.propose_predictor(predictor)
        return predictor
