"""The budgeted objective: the only way an agent reaches the task.

One *sample* is one evaluation of one item under one configuration (or one live
policy). One *label* is the ground truth of one training or validation item. The
harness owns both counters: a request that would pass a budget is refused with
:class:`BudgetExhausted` before anything is evaluated. The test split is never
reachable from here.

Charging rules:

- every evaluation request is charged ``len(items)`` samples, repeats included;
- except with ``reuse=True``: items whose cost this objective has already returned for
  the same configuration are free (the agent already knows them; the parameter-editing
  env uses this to revisit configurations);
- with a label budget, each distinct (split, item) whose ground truth reaches the agent
  (``targets``, or a ``loss``, which is computed from them) is charged one label once.
  Without one (``budget_labels=None``, the calibration tasks' setting) labels are free.

Deterministic tasks (capability ``deterministic``) are evaluated once per (configuration,
split, item): repeats are served from this objective's cache, charged all the same.
The harness's own scoring (the anytime curve's validation losses) shares the cache and
is never charged.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.params import Config, ParamSpace
from harness.task import DETERMINISTIC, POLICY, TARGETS, Policy, Predictor, Task

AGENT_SPLITS = ("train", "val")


class BudgetExhausted(Exception):
    """Raised to an agent whose request would use more samples (or labels) than are left."""


class LabelBudgetExhausted(BudgetExhausted):
    """Raised to an agent whose request would use more labels than are left."""


class TimeLimitReached(BudgetExhausted):
    """Raised to an agent that asks for an evaluation after the trial's time limit (an
    agent too slow to use its budget stops there and is scored on its incumbent)."""


@dataclass
class CurvePoint:
    """Anytime performance after ``samples`` samples (``*_loss`` are task losses)."""

    samples: int
    wall_s: float
    train_loss: float  # best loss the agent has reported on its training evaluations
    val_loss: float  # validation loss of the agent's current best configuration


@dataclass
class TrialLog:
    """What the harness watches while an agent runs: incumbent and anytime curve.

    ``incumbent`` is a configuration, or ``incumbent_predictor`` a predictor (the
    predictor track), whichever the agent proposed last."""

    curve: list[CurvePoint] = field(default_factory=list)
    incumbent: dict[str, Any] | None = None
    incumbent_predictor: Predictor | None = None
    incumbent_train_loss: float = float("inf")
    # True while the last curve point shows the current incumbent (a proposal between
    # curve points leaves it False until the next point or the trial's final one).
    point_is_current: bool = True


class EvalCache:
    """Costs of (configuration key, split, item), for deterministic tasks.

    Bounded: when more than ``max_entries`` costs are held, whole configurations are
    dropped, oldest first (a dropped one is simply evaluated again).
    """

    def __init__(self, max_entries: int = 2_000_000) -> None:
        self.max_entries = int(max_entries)
        self._by_key: OrderedDict[tuple[str, str], dict[int, float]] = OrderedDict()
        self._entries = 0

    def get(self, key: str, split: str, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(costs float64 [n] with NaN where missing, missing bool [n])."""
        known = self._by_key.get((key, split))
        if known is None:
            return np.full(len(items), np.nan), np.ones(len(items), dtype=bool)
        self._by_key.move_to_end((key, split))
        costs = np.array([known.get(int(i), math.nan) for i in items], dtype=np.float64)
        missing = np.array([int(i) not in known for i in items], dtype=bool)
        return costs, missing

    def put(self, key: str, split: str, items: np.ndarray, costs: np.ndarray) -> None:
        known = self._by_key.setdefault((key, split), {})
        before = len(known)
        known.update(zip(np.asarray(items).tolist(), np.asarray(costs).tolist(), strict=True))
        self._entries += len(known) - before
        while self._entries > self.max_entries and len(self._by_key) > 1:
            _, dropped = self._by_key.popitem(last=False)
            self._entries -= len(dropped)


class BudgetedObjective:
    """Charges every evaluation an agent causes against ``budget_samples`` (and every
    label against ``budget_labels``, when set).

    Args:
        task: the task evaluated.
        budget_samples: samples the agent may cause in total.
        budget_labels: distinct train/val labels the agent may see (None: unlimited).
        monitor_val_loss: harness callback giving the (uncharged) validation loss of a
            configuration, used only to draw the anytime curve; never seen by the agent.
        monitor_predictor: the same for a proposed predictor.
        cache: shared cache for a deterministic task (default: a new one).
        time_limit_s: wall seconds after which evaluation requests are refused
            (:class:`TimeLimitReached`); None: no limit.
        points_per_decade: the anytime curve gets a point (one validation scoring by the
            monitor) at the first proposal and at most once per 1/points_per_decade of a
            decade of samples after that, so monitoring costs a few percent of a large
            budget (4 per decade: at most ~24 points up to 10^6 samples); None: a point
            at every proposal.
    """

    def __init__(
        self,
        task: Task,
        budget_samples: int,
        budget_labels: int | None = None,
        monitor_val_loss: Callable[[Mapping[str, Any]], float] | None = None,
        monitor_predictor: Callable[[Predictor], float] | None = None,
        cache: EvalCache | None = None,
        time_limit_s: float | None = None,
        points_per_decade: int | None = 4,
    ) -> None:
        if budget_samples < 0 or (budget_labels is not None and budget_labels < 0):
            raise ValueError("budgets must be >= 0")
        self._task = task
        self._budget_samples = int(budget_samples)
        self._budget_labels = None if budget_labels is None else int(budget_labels)
        self._samples_used = 0
        self._labels_seen: set[tuple[str, int]] = set()
        self._evaluations = 0
        self._log = TrialLog()
        self._monitor = monitor_val_loss
        self._monitor_predictor = monitor_predictor
        deterministic = task.has(DETERMINISTIC)
        self._cache = (cache if cache is not None else EvalCache()) if deterministic else None
        # Items whose cost was returned to the agent, per (config key, split): what
        # ``reuse=True`` may give back for free.
        self._shown: dict[tuple[str, str], set[int]] = {}
        self._t0 = time.perf_counter()
        self._deadline = None if time_limit_s is None else self._t0 + float(time_limit_s)
        self._time_limited = False
        self._per_decade = points_per_decade
        self._last_cell: int | None = None

    # ---- read-only state ----------------------------------------------------------
    @property
    def param_space(self) -> ParamSpace:
        return self._task.param_space

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset(self._task.capabilities)

    @property
    def budget_samples(self) -> int:
        return self._budget_samples

    @property
    def samples_used(self) -> int:
        return self._samples_used

    @property
    def samples_left(self) -> int:
        return self._budget_samples - self._samples_used

    @property
    def budget_labels(self) -> int | None:
        return self._budget_labels

    @property
    def labels_used(self) -> int:
        return len(self._labels_seen)

    @property
    def labels_left(self) -> int | None:
        return None if self._budget_labels is None else self._budget_labels - self.labels_used

    @property
    def evaluations(self) -> int:
        return self._evaluations

    @property
    def log(self) -> TrialLog:
        return self._log

    @property
    def stopped_by_time_limit(self) -> bool:
        """True once a request was refused because the time limit had passed."""
        return self._time_limited

    # ---- free reads ---------------------------------------------------------------
    def n_items(self, split: str = "train") -> int:
        """Number of items in an agent-visible split (free)."""
        return self._task.n_items(_agent_split(split))

    def inputs(self, split: str = "train", items: np.ndarray | None = None) -> list[str]:
        """Raw inputs of ``items`` of ``split`` (free: reading inputs is not evaluating)."""
        split = _agent_split(split)
        return self._task.inputs(split, self._items(split, items))

    def item_tokens(self, split: str = "train", items: np.ndarray | None = None) -> list[list[str]]:
        """Per-item tokens of ``items`` of ``split`` (free), see :meth:`Task.item_tokens`."""
        split = _agent_split(split)
        return self._task.item_tokens(split, self._items(split, items))

    # ---- labels -------------------------------------------------------------------
    def targets(self, split: str = "train", items: np.ndarray | None = None) -> np.ndarray:
        """Ground truth of ``items`` (default: all) of ``split``, float64 [n]; charges one
        label per item not seen before when a label budget is set."""
        split = _agent_split(split)
        if not self._task.has(TARGETS):
            raise NotImplementedError(f"task {self._task.name} has no targets")
        idx = self._items(split, items)
        self._charge_labels(split, idx)
        return self._task.targets(split, idx)

    def label_cost(self, split: str, items: np.ndarray | None = None) -> int:
        """Labels a request for ``items`` of ``split`` would be charged (0 without a budget)."""
        if self._budget_labels is None:
            return 0
        split = _agent_split(split)
        return len({(split, int(i)) for i in self._items(split, items)} - self._labels_seen)

    # ---- evaluations --------------------------------------------------------------
    def evaluate(
        self,
        config: Mapping[str, Any],
        split: str = "train",
        items: np.ndarray | None = None,
        reuse: bool = False,
    ) -> np.ndarray:
        """Costs of ``items`` of ``split`` under ``config``, float64 [len(items)] (NaN where
        the evaluation failed). Charges len(items) samples (with ``reuse``: only items not
        returned before for this configuration). Raises BudgetExhausted, charging nothing,
        if fewer samples are left; ValueError for an invalid configuration (free)."""
        split = _agent_split(split)
        idx = self._items(split, items)
        cfg = self._task.param_space.validate(config)
        key = self._task.param_space.key(cfg)
        charged = self._sample_cost(key, split, idx, reuse)
        self._charge(charged)
        if charged:  # a request served entirely from what the agent has seen is no evaluation
            self._evaluations += 1
        costs = self._costs(cfg, key, split, idx)
        shown = self._shown.setdefault((key, split), set())
        shown.update(idx.tolist())
        if len(self._shown) > 200_000:  # bound the memory; reuse then charges again
            self._shown.clear()
        return costs

    def reference_names(self) -> tuple[str, ...]:
        """The task's reference simulators (:meth:`harness.task.Task.reference_names`)."""
        return tuple(self._task.reference_names())

    def evaluate_reference(
        self, name: str, split: str = "train", items: np.ndarray | None = None
    ) -> np.ndarray:
        """Costs of ``items`` of ``split`` under the task's reference simulator ``name``,
        float64 [len(items)] (NaN where it failed). Charges len(items) samples, as
        :meth:`evaluate` does: another simulator's output is a simulator sample too.
        Raises BudgetExhausted (charging nothing) if fewer are left; KeyError for a name
        the task does not offer (free)."""
        split = _agent_split(split)
        idx = self._items(split, items)
        if name not in self._task.reference_names():
            raise KeyError(f"no reference simulator {name!r}: {self.reference_names()}")
        self._charge(len(idx))
        if len(idx):
            self._evaluations += 1
        return self._cached(
            f"reference:{name}", split, idx,
            lambda todo: self._task.evaluate_reference(name, split, todo),
        )  # fmt: skip

    def sample_cost(
        self,
        config: Mapping[str, Any],
        split: str = "train",
        items: np.ndarray | None = None,
        reuse: bool = False,
    ) -> int:
        """Samples :meth:`evaluate` would charge for this request (free to ask)."""
        split = _agent_split(split)
        idx = self._items(split, items)
        key = self._task.param_space.key(self._task.param_space.validate(config))
        return self._sample_cost(key, split, idx, reuse)

    def loss(
        self,
        config: Mapping[str, Any],
        split: str = "train",
        items: np.ndarray | None = None,
        reuse: bool = False,
    ) -> float:
        """Task loss of ``config`` on ``items`` of ``split``: charged as :meth:`evaluate`,
        plus, with a label budget, the labels of items not seen before."""
        split = _agent_split(split)
        idx = self._items(split, items)
        if self._budget_labels is not None:
            need = self.label_cost(split, idx)
            if need > (self.labels_left or 0):
                raise LabelBudgetExhausted(
                    f"loss over {len(idx)} items needs {need} new labels: "
                    f"{self.labels_left} of {self._budget_labels} left"
                )
        costs = self.evaluate(config, split, idx, reuse=reuse)
        self._charge_labels(split, idx)
        return self._task.loss(costs, split, idx)

    def loss_many(
        self,
        configs: Sequence[Mapping[str, Any]],
        split: str = "train",
        items: np.ndarray | None = None,
        propose_improvements: bool = False,
        best_loss: float | None = None,
    ) -> list[float]:
        """Losses of ``configs`` on the same ``items``, in order: exactly :meth:`loss`
        called for each (same charges, cache and curve points). One request for a
        population: an isolated agent pays one channel round trip for all of them.

        With ``propose_improvements``, each configuration whose loss beats the running
        best (starting at ``best_loss``; ``None``: the first is proposed whatever its
        loss) is proposed right after its loss, as an ask/tell loop would. When the
        budget or time limit stops the batch after at least one loss, the losses so far
        are returned (a shorter list); when it stops the first one, the exception
        propagates as from :meth:`loss`."""
        losses: list[float] = []
        best = best_loss
        for config in configs:
            try:
                value = self.loss(config, split, items)
            except BudgetExhausted:
                if not losses:
                    raise
                break
            losses.append(value)
            if propose_improvements and (best is None or value < best):
                self.propose(config, value)
                best = value
        return losses

    def evaluate_policy(
        self, policy: Policy, split: str = "train", items: np.ndarray | None = None
    ) -> np.ndarray:
        """Costs of ``items`` under a live ``policy`` (capability ``policy``), evaluated in
        order; charges len(items) samples (never cached: a policy may be stateful)."""
        split = _agent_split(split)
        if not self._task.has(POLICY):
            raise NotImplementedError(f"task {self._task.name} does not evaluate live policies")
        idx = self._items(split, items)
        self._charge(len(idx))
        self._evaluations += 1
        return np.asarray(self._task.evaluate_policy(policy, split, idx), dtype=np.float64)

    # ---- incumbents ---------------------------------------------------------------
    def propose(self, config: Mapping[str, Any], train_loss: float | None = None) -> None:
        """Declare ``config`` the agent's current best (free); records a curve point.

        The harness scores the last proposed configuration if the agent ends by running
        out of budget without returning one.
        """
        cfg = self._task.param_space.validate(config)
        self._log.incumbent, self._log.incumbent_predictor = cfg, None
        self._note_train_loss(train_loss)
        if self._due():
            self._point(self._monitor(cfg) if self._monitor is not None else float("nan"))

    def propose_predictor(self, predictor: Predictor, train_loss: float | None = None) -> None:
        """Declare ``predictor`` the agent's current best (free; predictor track)."""
        if not callable(predictor):
            raise TypeError("a predictor must be callable on a list of inputs")
        self._log.incumbent, self._log.incumbent_predictor = None, predictor
        self._note_train_loss(train_loss)
        if self._due():
            mon = self._monitor_predictor
            self._point(mon(predictor) if mon is not None else float("nan"))

    # ---- internals ----------------------------------------------------------------
    def _note_train_loss(self, train_loss: float | None) -> None:
        if train_loss is not None:
            self._log.incumbent_train_loss = min(self._log.incumbent_train_loss, float(train_loss))

    def _due(self) -> bool:
        """Whether a proposal now gets a curve point (see ``points_per_decade``)."""
        if self._per_decade is None:
            return True
        cell = int(np.floor(self._per_decade * np.log10(max(self._samples_used, 1))))
        if self._last_cell is not None and cell == self._last_cell:
            self._log.point_is_current = False
            return False
        self._last_cell = cell
        return True

    def _point(self, val: float) -> None:
        self._log.point_is_current = True
        self._log.curve.append(
            CurvePoint(
                samples=self._samples_used,
                wall_s=time.perf_counter() - self._t0,
                train_loss=self._log.incumbent_train_loss,
                val_loss=val,
            )
        )

    def _costs(self, cfg: Config, key: str, split: str, idx: np.ndarray) -> np.ndarray:
        return self._cached(key, split, idx, lambda todo: self._task.evaluate(cfg, split, todo))

    def _cached(
        self,
        key: str,
        split: str,
        idx: np.ndarray,
        compute: Callable[[np.ndarray], np.ndarray],
    ) -> np.ndarray:
        """``compute(items)`` for ``idx``, through the cache under ``key`` when the task
        is deterministic (only the items not cached are computed)."""
        if self._cache is None:
            return np.asarray(compute(idx), dtype=np.float64)
        costs, missing = self._cache.get(key, split, idx)
        if missing.any():
            todo = np.unique(idx[missing])
            fresh = np.asarray(compute(todo), dtype=np.float64)
            self._cache.put(key, split, todo, fresh)
            costs, _ = self._cache.get(key, split, idx)
            if np.isnan(costs).any():  # evicted meanwhile (tiny caches): fill directly
                lookup = dict(zip(todo.tolist(), fresh.tolist(), strict=True))
                costs = np.array(
                    [lookup.get(int(i), c) for i, c in zip(idx, costs, strict=True)],
                    dtype=np.float64,
                )
        return costs

    def _sample_cost(self, key: str, split: str, idx: np.ndarray, reuse: bool) -> int:
        if not reuse:
            return len(idx)
        shown = self._shown.get((key, split))
        if not shown:
            return len(idx)
        return int(sum(1 for i in idx.tolist() if i not in shown))

    def _charge(self, n: int) -> None:
        if n and self._deadline is not None and time.perf_counter() > self._deadline:
            self._time_limited = True
            raise TimeLimitReached(
                f"time limit reached after {time.perf_counter() - self._t0:.0f} s "
                f"({self._samples_used} of {self._budget_samples} samples used)"
            )
        if n > self.samples_left:
            raise BudgetExhausted(
                f"request for {n} samples refused: {self.samples_left} of "
                f"{self._budget_samples} left"
            )
        self._samples_used += n

    def _charge_labels(self, split: str, idx: np.ndarray) -> None:
        if self._budget_labels is None:
            return
        new = {(split, int(i)) for i in idx} - self._labels_seen
        if len(new) > (self.labels_left or 0):
            raise LabelBudgetExhausted(
                f"request for {len(new)} new labels refused: {self.labels_left} of "
                f"{self._budget_labels} left"
            )
        self._labels_seen |= new

    def _items(self, split: str, items: np.ndarray | Sequence[int] | None) -> np.ndarray:
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
