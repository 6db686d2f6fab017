"""Tasks: what an optimizer tunes (a parameter space) and how it is scored.

A task owns a simulator, its ground truth with a deterministic train/val/test split,
and a loss (lower is better). The harness calls tasks only through this interface,
so it knows no specific simulator.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from harness.dataset import Dataset, Split
from harness.metrics import mape, timing_metrics
from harness.params import ParamSpace


class Task(ABC):
    """The contract every task fulfils.

    Items of a split are addressed by position ``0 .. n_items(split) - 1``. One
    *sample* is the simulation of one item under one parameter setting.
    """

    name: str
    description: str
    param_space: ParamSpace

    @abstractmethod
    def n_items(self, split: str) -> int:
        """Number of items in ``split`` (``train``, ``val`` or ``test``)."""

    @abstractmethod
    def simulate(self, config: Mapping[str, Any], split: str, items: np.ndarray) -> np.ndarray:
        """Predictions, float64 [len(items)], for ``items`` of ``split`` (NaN = failed)."""

    @abstractmethod
    def targets(self, split: str, items: np.ndarray) -> np.ndarray:
        """Ground truth, float64 [len(items)], for ``items`` of ``split``."""

    @abstractmethod
    def loss(self, predictions: np.ndarray, targets: np.ndarray) -> float:
        """Scalar loss, lower is better."""

    @abstractmethod
    def metrics(self, predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        """Named final metrics (the report's columns); includes ``loss``.

        Names containing ``/`` are per-item detail: stored in the records, left out of
        the report's table.
        """

    def inputs(self, split: str, items: np.ndarray) -> list[str]:
        """The raw inputs of ``items`` (e.g. hex blocks), for agents that learn from them."""
        raise NotImplementedError(f"task {self.name} does not expose its inputs")

    def item_tokens(self, split: str, items: np.ndarray) -> list[list[str]]:
        """Per item, its sequence of tokens (e.g. the instruction keys of a block).

        Per-token parameters are named ``<field>:<token>`` in :attr:`param_space`, so an
        agent can tie each token of an item to its parameters (e.g. DiffTune's surrogate).
        """
        raise NotImplementedError(f"task {self.name} does not expose per-item tokens")

    def versions(self) -> dict[str, str]:
        """Versions of the tools behind the simulator."""
        return {}


class Simulator(Protocol):
    """A program with parameters that predicts a cost for each input."""

    name: str

    def predict(self, inputs: Sequence[str], config: Mapping[str, Any]) -> np.ndarray:
        """float64 [n] predictions for n inputs; NaN where the simulator failed."""
        ...

    def versions(self) -> dict[str, str]:
        """Tool versions, e.g. {"llvm-mca": "14.0.6"}."""
        ...


class TimingTask(Task):
    """A simulator predicting timings (cycles per 100 iterations) of measured inputs.

    Loss: MAPE (a fraction). Metrics: MAPE, median relative error, Kendall tau, the
    fraction of failed predictions. The split is the dataset's (80/10/10, seed 0).
    """

    def __init__(
        self,
        name: str,
        description: str,
        dataset: Dataset,
        simulator: Simulator,
        param_space: ParamSpace,
        split_seed: int = 0,
    ) -> None:
        self.name = name
        self.description = description
        self.dataset = dataset
        self.simulator = simulator
        self.param_space = param_space
        self.split: Split = dataset.split(seed=split_seed)

    def n_items(self, split: str) -> int:
        return len(self.split.part(split))

    def _rows(self, split: str, items: np.ndarray) -> np.ndarray:
        return self.split.part(split)[np.asarray(items, dtype=np.int64)]

    def inputs(self, split: str, items: np.ndarray) -> list[str]:
        return [self.dataset.inputs[i] for i in self._rows(split, items)]

    def simulate(self, config: Mapping[str, Any], split: str, items: np.ndarray) -> np.ndarray:
        return self.simulator.predict(self.inputs(split, items), self.param_space.validate(config))

    def targets(self, split: str, items: np.ndarray) -> np.ndarray:
        return self.dataset.targets[self._rows(split, items)]

    def loss(self, predictions: np.ndarray, targets: np.ndarray) -> float:
        return mape(predictions, targets)

    def metrics(self, predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        out = timing_metrics(predictions, targets)
        out["loss"] = out["mape"]
        return out

    def versions(self) -> dict[str, str]:
        return self.simulator.versions()
