"""Cost-model agents (learned selection and model-based search), one skeleton, three modes.

- **selection** (a task with the ``predictor`` capability whose inputs are ``key=value``
  text, e.g. ``gemm-select``): read measured times of training pairs within the label
  budget (``design``: ``per-shape`` = the same number of random configurations of every
  training shape; ``random`` = uniform random pairs; ``shapes`` = every configuration
  of as many random shapes as the budget pays for; ``active`` = half per-shape, then
  half on each training shape's schedules a first model ranks fastest), fit the
  regressor to (relative) log time, and
  return it as a predictor (diode's workflow: train offline, predict for new shapes).
- **per-item search** (a per-item product space with ``key=value`` item inputs, e.g.
  ``gemm-search``), AutoTVM's loop with transfer across items: every item starts with
  its default and ``init`` random configurations; then in rounds the regressor is fitted
  to every (item, configuration) timed so far (log cost) and, per item, the
  configurations of a random candidate pool it predicts fastest are timed, with an
  ``epsilon`` share of random picks, until each item's equal share of the budget is spent.
- **plain search** (anything else): the same loop on the space's unit-cube encoding with
  the trial's evaluation items (sequential model-based optimisation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from agents.gemm.features import Featurizer, config_text, parse_kv
from agents.gemm.product import ItemStructure, item_structure
from harness.agent import Agent, TrialContext
from harness.budget import BudgetExhausted
from harness.params import Config, ConstraintViolation, ParamSpace
from harness.task import INPUTS, PREDICTOR, TARGETS

DESIGNS = ("per-shape", "random", "shapes", "active")


class CostModelAgent(Agent):
    """Base of the cost-model agents; subclasses give :meth:`make_regressor`.

    Args:
        max_labels: labels read in selection mode when the trial sets no label budget
            (with one, the whole label budget is used).
        target: ``relative`` (log time minus the shape's mean over the schedules read:
            only the order within a shape matters for selection) or ``absolute``
            (log time); predictions are exp of it either way.
        design: which training pairs selection reads (see the module docstring).
        rounds: model-fitting rounds in search mode.
        init: random configurations per item (search) before the first fit.
        epsilon: share of each round's picks drawn at random (exploration).
        pool: candidate configurations scored per item and round.
    """

    requires: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        max_labels: int = 20000,
        design: str = "per-shape",
        target: str = "relative",
        rounds: int = 5,
        init: int = 3,
        epsilon: float = 0.1,
        pool: int = 300,
    ) -> None:
        super().__init__()
        if design not in DESIGNS:
            raise ValueError(f"design must be one of {DESIGNS}, not {design!r}")
        if max_labels < 1 or rounds < 1 or init < 0 or pool < 1 or not 0 <= epsilon <= 1:
            raise ValueError(
                "need max_labels >= 1, rounds >= 1, init >= 0, pool >= 1, 0 <= epsilon <= 1"
            )
        self.max_labels, self.design, self.rounds = max_labels, design, rounds
        self.init, self.epsilon, self.pool = init, epsilon, pool
        if target not in ("relative", "absolute"):
            raise ValueError(f"target must be 'relative' or 'absolute', not {target!r}")
        self.target = target

    def make_regressor(self, ctx: TrialContext) -> Any:
        """A fresh regressor with ``fit(x, y, groups)`` and ``predict(x)``."""
        raise NotImplementedError

    def session(self, ctx: TrialContext) -> Any:
        """A context manager around the whole run (torch threads for the MLP)."""
        import contextlib

        return contextlib.nullcontext()

    # ---- dispatch ------------------------------------------------------------------
    def run(self, ctx: TrialContext) -> Any:
        with self.session(ctx):
            caps = ctx.objective.capabilities
            if {PREDICTOR, TARGETS, INPUTS} <= caps and _kv_inputs(ctx, "train"):
                return self._select(ctx)
            st = item_structure(ctx.param_space)
            if st is not None and INPUTS in caps and _kv_inputs(ctx, "train"):
                return self._search_items(ctx, st)
            return self._search_plain(ctx)

    # ---- selection (predictor track) -----------------------------------------------
    def _select(self, ctx: TrialContext) -> Any:
        obj = ctx.objective
        n_train = obj.n_items("train")
        budget = obj.labels_left if obj.labels_left is not None else self.max_labels
        budget = int(min(budget, n_train))
        if self.design != "active":
            items = self._design_items(ctx, n_train, budget)
            model, feat = self._fit_labels(ctx, items)
        else:
            # Half the labels spread over the shapes at random, then the other half on
            # each training shape's schedules the first model ranks fastest: labels where
            # the ranking decides (the top of each shape).
            first = self._design_items(ctx, n_train, budget // 2, design="per-shape")
            model, feat = self._fit_labels(ctx, first)
            texts = obj.inputs("train", np.arange(n_train))
            pred = model.predict(feat.transform([parse_kv(t) or {} for t in texts]))
            shape_of = np.unique(np.array([_shape_key(t) for t in texts]), return_inverse=True)[1]
            pred[first] = np.inf  # already read
            n_shapes = int(shape_of.max()) + 1
            per = (budget - len(first)) // n_shapes
            extra = (budget - len(first)) - per * n_shapes
            more: list[int] = []
            for s in range(n_shapes):
                members = np.flatnonzero(shape_of == s)
                take = per + (1 if s < extra else 0)
                order = members[np.argsort(pred[members], kind="stable")]
                more.extend(order[:take][np.isfinite(pred[order[:take]])].tolist())
            items = np.sort(np.concatenate([first, np.array(more, dtype=np.int64)]))
            model, feat = self._fit_labels(ctx, items)
        self.set_diagnostic("labels_read", float(obj.labels_used))
        predictor = _Predictor(feat, model)
        obj.propose_predictor(predictor)
        return predictor

    def _fit_labels(self, ctx: TrialContext, items: np.ndarray) -> tuple[Any, Featurizer]:
        """Read the labels of training ``items`` and fit the regressor to them."""
        obj = ctx.objective
        rows = [parse_kv(t) or {} for t in obj.inputs("train", items)]
        times = obj.targets("train", items)
        ok = np.isfinite(times) & (times > 0)
        rows = [r for r, good in zip(rows, ok, strict=True) if good]
        feat = Featurizer().fit(rows)
        x = feat.transform(rows)
        groups = _shape_groups(rows)
        y = np.log(times[ok])
        if self.target == "relative":
            # Only the order among one shape's schedules matters: learn log time minus
            # the shape's mean over the schedules read (a per-shape offset the model
            # need not spend capacity on; it does not change any within-shape order).
            y = y - (np.bincount(groups, weights=y) / np.bincount(groups))[groups]
        model = self.make_regressor(ctx).fit(x, y, groups)
        self.set_diagnostic("train_rmse_log", float(np.sqrt(np.mean((model.predict(x) - y) ** 2))))
        return model, feat

    def _design_items(
        self, ctx: TrialContext, n_train: int, budget: int, design: str | None = None
    ) -> np.ndarray:
        """Which training pairs to read, int64 [<= budget] (sorted)."""
        rng = ctx.rng
        design = design or self.design
        if design == "random" or budget >= n_train:
            return np.sort(rng.choice(n_train, size=budget, replace=False)).astype(np.int64)
        texts = ctx.objective.inputs("train", np.arange(n_train))
        shape_of = np.array([_shape_key(t) for t in texts])
        shapes, inv = np.unique(shape_of, return_inverse=True)
        members = [np.flatnonzero(inv == s) for s in range(len(shapes))]
        if design == "shapes":
            out: list[int] = []
            for s in rng.permutation(len(shapes)):
                if len(out) + len(members[s]) > budget:
                    break
                out.extend(members[s].tolist())
            return np.sort(np.array(out, dtype=np.int64))
        per = budget // len(shapes)
        extra = budget - per * len(shapes)
        out = []
        for rank, s in enumerate(rng.permutation(len(shapes))):
            take = min(len(members[s]), per + (1 if rank < extra else 0))
            out.extend(rng.choice(members[s], size=take, replace=False).tolist())
        return np.sort(np.array(out, dtype=np.int64))

    # ---- per-item search (AutoTVM-style, transfer across items) ---------------------
    def _search_items(self, ctx: TrialContext, st: ItemStructure) -> Config:
        obj = ctx.objective
        incumbents = ctx.param_space.default()
        n = st.n_items
        item_kv = [parse_kv(t) or {} for t in obj.inputs("train", np.arange(n))]
        budget = obj.samples_left
        share = np.full(n, budget // n)
        share[: budget % n] += 1
        # Per item a fixed pool of distinct valid candidates (the default first), and
        # one featurizer for every (item, candidate): features are computed once.
        pools: list[list[Config]] = []
        for i in range(n):
            space = st.item_space(i, incumbents)
            default = space.default()
            rest = _candidates(space, ctx.rng, self.pool, {config_text(default): 0.0})
            pools.append([default, *rest])
        rows = [
            {**item_kv[i], **(parse_kv(config_text(c)) or {})} for i in range(n) for c in pools[i]
        ]
        featurizer = Featurizer().fit(rows)
        feats = featurizer.transform(rows)
        starts = np.cumsum([0] + [len(p) for p in pools])
        measured: list[dict[int, float]] = [{} for _ in range(n)]
        best = [math.inf] * n

        def measure(i: int, j: int) -> None:
            if j in measured[i] or len(measured[i]) >= share[i]:
                return
            loss = obj.loss(st.with_sub(incumbents, i, pools[i][j]), "train", np.array([i]))
            measured[i][j] = loss
            if loss < best[i]:
                best[i] = loss
                incumbents.update(st.with_sub(incumbents, i, pools[i][j]))

        def left(i: int) -> int:
            return int(min(share[i], len(pools[i])) - len(measured[i]))

        try:
            for i in range(n):
                measure(i, 0)
                for j in ctx.rng.permutation(np.arange(1, len(pools[i])))[: self.init]:
                    measure(i, int(j))
            obj.propose(incumbents)
            per_round = [max(1, math.ceil(left(i) / self.rounds)) for i in range(n)]
            while any(left(i) > 0 for i in range(n)):
                xs = [feats[starts[i] + j] for i in range(n) for j in measured[i]]
                ys = [math.log(max(v, 1e-12)) for i in range(n) for v in measured[i].values()]
                groups = [i for i in range(n) for _ in measured[i]]
                model = self.make_regressor(ctx).fit(np.array(xs), np.array(ys), np.array(groups))
                pred = model.predict(feats)
                for i in range(n):
                    want = min(per_round[i], left(i))
                    if want <= 0:
                        continue
                    todo = np.array([j for j in range(len(pools[i])) if j not in measured[i]])
                    order = todo[np.argsort(pred[starts[i] + todo], kind="stable")]
                    n_rand = int(round(self.epsilon * want))
                    picks = order[: want - n_rand].tolist()
                    rest = order[want - n_rand :]
                    if n_rand and len(rest):
                        picks += ctx.rng.choice(
                            rest, size=min(n_rand, len(rest)), replace=False
                        ).tolist()
                    for j in picks:
                        measure(i, int(j))
                obj.propose(incumbents)
        except BudgetExhausted:
            pass
        self.set_diagnostic("pool_per_item", float(np.mean([len(p) for p in pools])))
        return ctx.param_space.validate(incumbents)

    # ---- plain search (SMBO on the encoding) ---------------------------------------
    def _search_plain(self, ctx: TrialContext) -> Config | None:
        obj, space = ctx.objective, ctx.param_space
        cost = len(ctx.eval_items)
        if cost == 0:
            return None
        xs: list[np.ndarray] = []
        ys: list[float] = []
        keys: set[str] = set()
        best: tuple[float, Config | None] = (math.inf, None)

        def measure(config: Config) -> bool:
            nonlocal best
            key = space.key(config)
            if key in keys or obj.samples_left < cost:
                return False
            loss = obj.loss(config, "train", ctx.eval_items)
            keys.add(key)
            xs.append(space.encode(config))
            ys.append(loss)
            if loss < best[0]:
                best = (loss, config)
                obj.propose(config, loss)
            return True

        try:
            measure(space.default())
            for _ in range(max(self.init, 2)):
                measure(space.sample(ctx.rng))
            evals_left = obj.samples_left // cost
            per_round = max(1, math.ceil(evals_left / self.rounds))
            while obj.samples_left >= cost:
                y = np.array(ys)
                y = (
                    np.log(y - y.min() + 1e-9)
                    if np.all(np.isfinite(y))
                    else np.nan_to_num(y, posinf=1e9)
                )
                model = self.make_regressor(ctx).fit(np.array(xs), y, None)
                cands = [space.sample(ctx.rng) for _ in range(self.pool)]
                cands = [c for c in cands if space.key(c) not in keys]
                if not cands:
                    break
                pred = model.predict(np.array([space.encode(c) for c in cands]))
                done = 0
                for j in np.argsort(pred, kind="stable"):
                    if done >= per_round or obj.samples_left < cost:
                        break
                    done += bool(measure(cands[j]))
                if done == 0:
                    break
        except (BudgetExhausted, ConstraintViolation, ValueError):
            pass
        return best[1]


class _Predictor:
    """A fitted cost model as a predictor: ``key=value`` inputs -> microseconds."""

    def __init__(self, featurizer: Featurizer, model: Any) -> None:
        self.featurizer, self.model = featurizer, model

    def __call__(self, inputs: Sequence[str]) -> np.ndarray:
        rows = [parse_kv(t) or {} for t in inputs]
        return np.exp(self.model.predict(self.featurizer.transform(rows)))


def _kv_inputs(ctx: TrialContext, split: str) -> bool:
    try:
        first = ctx.objective.inputs(split, np.array([0]))
    except (NotImplementedError, IndexError):
        return False
    return bool(first) and parse_kv(first[0]) is not None


def _shape_key(text: str) -> str:
    kv = parse_kv(text) or {}
    return f"{kv.get('m')}x{kv.get('n')}x{kv.get('k')}"


def _shape_groups(rows: Sequence[dict[str, str]]) -> np.ndarray:
    keys = [f"{r.get('m')}x{r.get('n')}x{r.get('k')}" for r in rows]
    _, inv = np.unique(np.array(keys), return_inverse=True)
    return inv


def _candidates(
    space: ParamSpace, rng: np.random.Generator, n: int, seen: dict[str, float]
) -> list[Config]:
    """Up to ``n`` distinct valid configurations of ``space`` not in ``seen``."""
    out: dict[str, Config] = {}
    for _ in range(3 * n):
        try:
            c = space.sample(rng, max_tries=200)
        except ValueError:
            break
        key = config_text(c)
        if key not in seen and key not in out:
            out[key] = c
            if len(out) >= n:
                break
    return list(out.values())
