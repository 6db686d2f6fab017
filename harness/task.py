"""Tasks: what an optimizer tunes (a parameter space) and how its results are scored.

One contract carries four shapes of problem:

- **calibration**: a simulator's parameters fitted to measured targets (loss: MAPE);
- **direct optimization**: the cost *is* the measurement (kernel time, code size);
  no targets, perhaps a constraint on valid configurations;
- **policies**: a decision per call site or per pass, evaluated by an explicit
  :meth:`Task.evaluate_policy` call with a live policy object;
- **predictors**: the agent returns a model over items' inputs, scored on the test
  split, with labelled samples metered beside simulator samples.

A task evaluates a configuration on items (``evaluate`` -> one cost per item) and scores
costs (``score`` -> named metrics including ``loss`` and the task's declared
:attr:`Task.headline` metric). What else it offers is declared in
:attr:`Task.capabilities`; the harness (and an agent's ``supports``) reads them instead
of probing methods.

Items of a split are addressed by position ``0 .. n_items(split) - 1``. One *sample*
is the evaluation of one item under one configuration.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from harness.dataset import Dataset, Split
from harness.metrics import mape, timing_metrics
from harness.params import ParamSpace

# Capabilities a task may declare (Task.capabilities).
DETERMINISTIC = "deterministic"  # equal config + item -> equal cost: results may be cached
NOISY = "noisy"  # costs are measurements with noise: every request is re-evaluated
TARGETS = "targets"  # ground truth per item (``targets``), e.g. measured cycles
INPUTS = "inputs"  # raw inputs per item (``inputs``), e.g. hex basic blocks
TOKENS = "tokens"  # per-item tokens tied to per-token parameters (``item_tokens``)
POLICY = "policy"  # ``evaluate_policy`` with a live policy object
PREDICTOR = "predictor"  # an agent may return a predictor over inputs (needs inputs+targets)
REFERENCES = "references"  # other simulators' costs of the same items (``evaluate_reference``)
CAPABILITIES = (DETERMINISTIC, NOISY, TARGETS, INPUTS, TOKENS, POLICY, PREDICTOR, REFERENCES)


@dataclass(frozen=True)
class Metric:
    """A metric the task reports: its key in :meth:`Task.score`'s dict and direction.

    Attributes:
        name: key, e.g. ``mape`` (records and reports prefix it with ``test_``).
        direction: ``min`` (lower is better) or ``max``.
        label: human-readable name for reports, e.g. ``MAPE vs measured``.
    """

    name: str
    direction: str = "min"
    label: str = ""

    def __post_init__(self) -> None:
        if self.direction not in ("min", "max"):
            raise ValueError(f"metric {self.name}: direction must be 'min' or 'max'")

    def better(self, a: float, b: float) -> bool:
        """True when ``a`` is strictly better than ``b``."""
        return a < b if self.direction == "min" else a > b


class Predictor(Protocol):
    """What a predictor-returning agent gives the harness: costs for raw inputs."""

    def __call__(self, inputs: Sequence[str]) -> np.ndarray:
        """float64 [len(inputs)] predicted costs (NaN = no prediction)."""
        ...


# A live policy for ``evaluate_policy``: its form is the task's (e.g. inlining: raw
# call-site features -> inline or not).
Policy = Callable[..., Any]


class Task(ABC):
    """The contract every task fulfils. Subclasses set ``name``, ``description``,
    ``param_space``, ``headline`` and ``capabilities`` and implement the abstract methods;
    optional methods belong to the capability that names them."""

    name: str
    description: str
    param_space: ParamSpace
    headline: Metric = Metric("loss", "min", "loss")
    capabilities: frozenset[str] = frozenset()

    def has(self, capability: str) -> bool:
        """Whether the task declares ``capability``."""
        return capability in self.capabilities

    @abstractmethod
    def n_items(self, split: str) -> int:
        """Number of items in ``split`` (``train``, ``val`` or ``test``)."""

    @abstractmethod
    def evaluate(self, config: Mapping[str, Any], split: str, items: np.ndarray) -> np.ndarray:
        """Costs, float64 [len(items)], of ``items`` of ``split`` under ``config``
        (NaN = failed). For a timing task a cost is a predicted time."""

    @abstractmethod
    def loss(self, costs: np.ndarray, split: str, items: np.ndarray) -> float:
        """Scalar loss of ``costs`` of ``items`` of ``split``; lower is better."""

    @abstractmethod
    def score(self, costs: np.ndarray, split: str, items: np.ndarray) -> dict[str, float]:
        """Named final metrics of ``costs`` (the report's columns); includes ``loss`` and
        ``headline.name``. Names containing ``/`` are per-item detail: stored in the
        records, left out of the report's table."""

    # ---- capability-bound methods --------------------------------------------------
    def targets(self, split: str, items: np.ndarray) -> np.ndarray:
        """Ground truth, float64 [len(items)] (capability ``targets``)."""
        raise NotImplementedError(f"task {self.name} has no targets")

    def inputs(self, split: str, items: np.ndarray) -> list[str]:
        """The raw inputs of ``items`` (capability ``inputs``), e.g. hex blocks."""
        raise NotImplementedError(f"task {self.name} does not expose its inputs")

    def item_tokens(self, split: str, items: np.ndarray) -> list[list[str]]:
        """Per item, its sequence of tokens (capability ``tokens``), e.g. the instruction
        keys of a block. Per-token parameters are named ``<field>:<token>`` in
        :attr:`param_space`, so an agent can tie each token of an item to its parameters
        (e.g. DiffTune's surrogate)."""
        raise NotImplementedError(f"task {self.name} does not expose per-item tokens")

    def evaluate_policy(self, policy: Policy, split: str, items: np.ndarray) -> np.ndarray:
        """Costs of ``items`` under a live ``policy`` (capability ``policy``), evaluated
        one item after another in order (a policy may be stateful)."""
        raise NotImplementedError(f"task {self.name} does not evaluate live policies")

    def reference_names(self) -> tuple[str, ...]:
        """Names of the reference simulators (capability ``references``): other models of
        the same items, e.g. another CPU's table, whose costs an agent may buy as
        simulator samples (:meth:`evaluate_reference`) and use as features. Empty: none."""
        return ()

    def evaluate_reference(self, name: str, split: str, items: np.ndarray) -> np.ndarray:
        """Costs, float64 [len(items)], of ``items`` of ``split`` under the reference
        simulator ``name`` (NaN = failed); capability ``references``."""
        raise NotImplementedError(f"task {self.name} has no reference simulators")

    def versions(self) -> dict[str, str]:
        """Versions of the tools behind the task."""
        return {}

    def provenance(self) -> dict[str, Any]:
        """What a report should say about where the task's data came from (dataset, its
        CPU, split rule, notes such as a CPU mismatch); JSON-able."""
        return {}

    def facts(self) -> dict[str, str]:
        """Public facts about the task that agents may read (``TrialContext.task_facts``),
        e.g. ``{"cpu": "znver4"}``: the simulator's CPU model, which a predictor agent
        needs to decode blocks as the task does. Never data of any split."""
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

    Loss: MAPE (a fraction). Metrics: MAPE (the headline), median relative error,
    Kendall tau, the fraction of failed predictions. The split is the dataset's
    (``split``: a :class:`~harness.dataset.Split`, default the 80/10/10 hash split).
    Agents may also return a predictor over the inputs (the predictor track).
    """

    headline = Metric("mape", "min", "MAPE vs measured")
    capabilities = frozenset({DETERMINISTIC, TARGETS, INPUTS, PREDICTOR})

    def __init__(
        self,
        name: str,
        description: str,
        dataset: Dataset,
        simulator: Simulator,
        param_space: ParamSpace,
        split: Split | None = None,
        notes: Sequence[str] = (),
        facts: Mapping[str, str] | None = None,
        references: Mapping[str, Callable[[Sequence[str]], np.ndarray]] | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.dataset = dataset
        self.simulator = simulator
        self.param_space = param_space
        self.split: Split = split if split is not None else dataset.split(seed=0)
        self.notes = list(notes)
        self._facts = dict(facts or {})
        self._references = dict(references or {})
        if self._references:
            self.capabilities = type(self).capabilities | {REFERENCES}

    def n_items(self, split: str) -> int:
        return len(self.split.part(split))

    def _rows(self, split: str, items: np.ndarray) -> np.ndarray:
        return self.split.part(split)[np.asarray(items, dtype=np.int64)]

    def inputs(self, split: str, items: np.ndarray) -> list[str]:
        return [self.dataset.inputs[i] for i in self._rows(split, items)]

    def evaluate(self, config: Mapping[str, Any], split: str, items: np.ndarray) -> np.ndarray:
        return self.simulator.predict(self.inputs(split, items), self.param_space.validate(config))

    def targets(self, split: str, items: np.ndarray) -> np.ndarray:
        return self.dataset.targets[self._rows(split, items)]

    def reference_names(self) -> tuple[str, ...]:
        return tuple(self._references)

    def evaluate_reference(self, name: str, split: str, items: np.ndarray) -> np.ndarray:
        if name not in self._references:
            raise KeyError(
                f"task {self.name} has no reference simulator {name!r} "
                f"(it has: {', '.join(self._references) or 'none'})"
            )
        return np.asarray(self._references[name](self.inputs(split, items)), np.float64)

    def loss(self, costs: np.ndarray, split: str, items: np.ndarray) -> float:
        return mape(costs, self.targets(split, items))

    def score(self, costs: np.ndarray, split: str, items: np.ndarray) -> dict[str, float]:
        out = timing_metrics(costs, self.targets(split, items))
        out["loss"] = out["mape"]
        return out

    def versions(self) -> dict[str, str]:
        return self.simulator.versions()

    def provenance(self) -> dict[str, Any]:
        meta = self.dataset.meta
        out: dict[str, Any] = {
            "dataset": self.dataset.name,
            "dataset_items": len(self.dataset),
            "split": self.split.rule,
            "split_sizes": {s: int(len(self.split.part(s))) for s in ("train", "val", "test")},
        }
        if meta.get("uarch"):
            out["dataset_cpu"] = meta["uarch"]
        if meta.get("noise_floor"):
            out["noise_floor"] = meta["noise_floor"]
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    def facts(self) -> dict[str, str]:
        """The constructor's facts plus ``dataset_cpu`` (the measured data's
        microarchitecture, when its sidecar says)."""
        out = dict(self._facts)
        if self.dataset.meta.get("uarch"):
            out.setdefault("dataset_cpu", str(self.dataset.meta["uarch"]))
        return out
