"""GEMM kernel-configuration tasks over the exhaustive timing table (torch-diode's problem).

``gemm-search`` (per-shape search, direct optimization). Items are shapes (by default
the table's test shapes; the train, val and test splits all hold the same shapes,
because the budget *is* timings on the shapes being tuned). A configuration holds one
schedule per shape: parameters ``s<i>.<name>`` for item i (``s03.tile_m``, ...), the
default being the kernel's heuristic choice for each shape; the constraint is every
sub-schedule's. Evaluating item i times shape i under its own sub-schedule (one sample
= one timing). Agents see the loss = geomean over items of time / the heuristic's time
(not the exhaustive best: that would tell them when to stop); the harness scores
time / exhaustive best, geomean over the shapes (``time_over_best``, the headline).
Per-shape black-box search is the ``per-shape`` agent (agents/gemm) running any
registered ask/tell agent on each shape's sub-space with an equal share of the budget.

``gemm-select`` (learned selection, diode's workflow; predictor track). Items are
(shape, configuration) pairs of a split's shapes, item = shape position * n_configs +
config id. Inputs are ``key=value`` strings (``m=.. n=.. k=.. tile_m=.. ... vec=16``);
targets are measured microseconds; reading one is one label, so the trial's label
budget counts every timing an agent reads (``label_budgets`` in the suite). An agent
returns a predictor of time (a model trained on training shapes); the harness scores it
on the test shapes: per shape the N configurations it predicts fastest (N = 1, 5, 10)
are "timed" (looked up) and the best of them is compared with the exhaustive best
(``top<N>_over_best``, geomean over test shapes; top-1 is the headline). The parameter
space is the analytical model's constants (envs/gemm/model.py): a configuration is a
calibrated model, evaluated as its predicted times (one sample per pair, no timing), so
black-box agents calibrate it against the labels they read; the default is the model
behind the kernel's heuristic.

Both tasks read the table (a timing = a lookup: fast and reproducible); ``live=True``
times each requested (shape, configuration) on this CPU instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from envs.gemm.model import ConfigArrays, heuristic_choice, model_space, predict_us
from envs.gemm.space import PARAM_NAMES, config_key, gemm_space, violation
from envs.gemm.table import DEFAULT_TABLE, SPLITS, GemmTable, load_table
from harness.errors import UserError
from harness.params import ParamSpace
from harness.task import DETERMINISTIC, INPUTS, NOISY, PREDICTOR, TARGETS, Metric, Task

TOP_N = (1, 5, 10)
# A missing or non-positive prediction counts as this log error (a factor of 10).
BAD_LOG_ERROR = float(np.log(10.0))


def shape_input(m: int, n: int, k: int) -> str:
    """The ``key=value`` text of a shape."""
    return f"m={m} n={n} k={k}"


def config_input(config: Mapping[str, Any]) -> str:
    """The ``key=value`` text of a configuration (order as one word, e.g. ``nkm``)."""
    return (
        f"tile_m={config['tile_m']} tile_n={config['tile_n']} tile_k={config['tile_k']} "
        f"order={''.join(config['order'])} pack={config['pack']} vec={config['vec']}"
    )


def geomean(x: np.ndarray) -> float:
    return float(np.exp(np.mean(np.log(np.asarray(x, dtype=np.float64)))))


class _Timer:
    """Live timing of (shape, config id) pairs on this CPU (built on first use)."""

    def __init__(self, table: GemmTable) -> None:
        self.table = table
        self._lib = None

    def __call__(self, row: int, ids: np.ndarray) -> np.ndarray:
        from envs.gemm.build import KernelLibrary
        from envs.gemm.timing import TimingSettings, retime

        if self._lib is None:
            self._lib = KernelLibrary(self.table.configs)
        # the table's own method (clock, repeats, reference), so live times compare
        timing = TimingSettings.from_json(self.table.meta.get("timing", {}))
        return retime(self._lib, self.table, row, np.asarray(ids), timing).median_us


def _provenance(table: GemmTable, rows: dict[str, np.ndarray], live: bool) -> dict[str, Any]:
    meta = table.meta
    out: dict[str, Any] = {
        "dataset": table.name,
        "dataset_items": int(len(table.shapes) * table.n_configs),
        "dataset_cpu": table.uarch(),
        "configs_per_shape": table.n_configs,
        "split": "shapes by a hash of their sizes within each source (log-normal, model): "
        "25% test, 15% val, 60% train",
        "split_sizes": {s: int(len(r)) for s, r in rows.items()},
        "compiler": meta.get("compiler", ""),
    }
    if meta.get("remeasure"):
        r = meta["remeasure"]
        out["noise_floor"] = (
            f"{r['pairs']} random pairs re-timed after the collection: "
            f"{r['within_5pct']:.0%} within 5%, median |diff| {r['median_abs_rel_diff']:.1%}, "
            f"Kendall tau within a shape {r.get('kendall_tau_within_shape', float('nan')):.2f}"
        )
    if live:
        out["notes"] = ["live: timings are measured on this CPU during the trial, not looked up"]
    return out


class GemmSearchTask(Task):
    """Per-shape configuration search on the table's shapes of one split (see the
    module docstring).

    Args:
        table: the loaded table.
        shapes: which table split's shapes are searched (default ``test``).
        max_shapes: use only the first N of them (a quick suite).
        live: time on this CPU instead of looking up.
    """

    headline = Metric("time_over_best", "min", "time / exhaustive best (geomean over shapes)")

    def __init__(
        self,
        table: GemmTable,
        shapes: str = "test",
        max_shapes: int | None = None,
        live: bool = False,
    ) -> None:
        rows = table.rows(shapes)
        if max_shapes is not None:
            rows = rows[: max(1, int(max_shapes))]
        if len(rows) == 0:
            raise UserError(f"gemm table {table.name} has no {shapes} shapes")
        self.table, self.rows, self.live = table, rows, live
        self.name = "gemm-search"
        self.capabilities = frozenset({INPUTS, NOISY if live else DETERMINISTIC})
        self.description = (
            f"per-shape GEMM schedule search on {len(rows)} {shapes} shapes of {table.name} "
            f"({table.n_configs} schedules each; one sample = one timing)"
        )
        self._sub = gemm_space()
        self._cfg = ConfigArrays(table.configs)
        self._id_of = {config_key(c): i for i, c in enumerate(table.configs)}
        self.default_ids = np.array(
            [
                heuristic_choice(table.shapes[r].m, table.shapes[r].n, table.shapes[r].k, self._cfg)
                for r in rows
            ]
        )
        self.best_us = table.best_us()[rows]
        self.default_us = table.times_us[rows, self.default_ids]
        self.param_space = self._product_space()
        self._timer = _Timer(table) if live else None

    def _product_space(self) -> ParamSpace:
        params = []
        for i, cid in enumerate(self.default_ids):
            default = self.table.configs[int(cid)]
            for p in self._sub:
                params.append(_renamed(p, f"s{i:02d}.{p.name}", default[p.name]))
        return ParamSpace(params, constraint=EveryItemFits(len(self.rows)))

    def n_items(self, split: str) -> int:
        return len(self.rows)

    def inputs(self, split: str, items: np.ndarray) -> list[str]:
        """``m=.. n=.. k=..`` per item."""
        return [shape_input(*self._mnk(i)) for i in items]

    def _mnk(self, item: int) -> tuple[int, int, int]:
        s = self.table.shapes[int(self.rows[int(item)])]
        return s.m, s.n, s.k

    def config_ids(self, config: Mapping[str, Any], items: np.ndarray) -> np.ndarray:
        """The table's config id of each item's sub-schedule, int64 [len(items)]."""
        return np.array(
            [self._id_of[config_key(sub_config(config, int(i)))] for i in items], dtype=np.int64
        )

    def evaluate(self, config: Mapping[str, Any], split: str, items: np.ndarray) -> np.ndarray:
        """Microseconds per call of each item's shape under its sub-schedule."""
        items = np.asarray(items, dtype=np.int64)
        ids = self.config_ids(config, items)
        if self._timer is None:
            return self.table.times_us[self.rows[items], ids]
        return np.array(
            [
                self._timer(int(self.rows[i]), np.array([c]))[0]
                for i, c in zip(items, ids, strict=True)
            ]
        )

    def loss(self, costs: np.ndarray, split: str, items: np.ndarray) -> float:
        """Geomean over items of time / the heuristic's time (what agents see)."""
        return geomean(_finite(costs) / self.default_us[np.asarray(items)])

    def score(self, costs: np.ndarray, split: str, items: np.ndarray) -> dict[str, float]:
        items = np.asarray(items)
        c = _finite(costs)
        torch_us = self.table.torch_us[self.rows[items]]
        out = {
            "loss": self.loss(costs, split, items),
            "time_over_best": geomean(c / self.best_us[items]),
            "time_over_default": geomean(c / self.default_us[items]),
            "time_over_torch": geomean(c / torch_us),
            "best_fraction": float(np.mean(c <= self.best_us[items] * 1.0000001)),
        }
        if split == "test" and len(items) == len(self.rows):
            # "/" marks per-item detail: kept in the records, not in the report's table.
            for i, ratio in zip(items.tolist(), (c / self.best_us[items]).tolist(), strict=True):
                out[f"shape/{self.table.shapes[self.rows[i]].name}"] = ratio
        return out

    def versions(self) -> dict[str, str]:
        return {"gemm_table": self.table.name, "compiler": str(self.table.meta.get("compiler", ""))}

    def provenance(self) -> dict[str, Any]:
        # the train, val and test splits of this task are the same shapes
        return _provenance(self.table, dict.fromkeys(SPLITS, self.rows), self.live)


class EveryItemFits:
    """The product space's constraint: every item's sub-schedule fits (a module-level
    callable, so the space pickles into the agent's process)."""

    def __init__(self, n_items: int) -> None:
        self.n_items = int(n_items)

    def __call__(self, config: Mapping[str, Any]) -> str | None:
        for i in range(self.n_items):
            why = violation(sub_config(config, i))
            if why is not None:
                return f"shape {i}: {why}"
        return None


def sub_config(config: Mapping[str, Any], item: int) -> dict[str, Any]:
    """Item ``item``'s schedule out of a ``gemm-search`` configuration."""
    return {p: config[f"s{item:02d}.{p}"] for p in PARAM_NAMES}


def _renamed(p: Any, name: str, default: Any) -> Any:
    from dataclasses import replace

    return replace(p, name=name, default=tuple(default) if isinstance(default, list) else default)


def _finite(costs: np.ndarray) -> np.ndarray:
    """Costs with failures (NaN, <= 0) replaced by +inf-like 1e12 us."""
    c = np.asarray(costs, dtype=np.float64)
    return np.where(np.isfinite(c) & (c > 0), c, 1e12)


class GemmSelectTask(Task):
    """Learned configuration selection over (shape, configuration) pairs (see the module
    docstring).

    Args:
        table: the loaded table.
        live: time requested labels on this CPU instead of looking them up.
    """

    headline = Metric("top1_over_best", "min", "top-1 time / exhaustive best (geomean)")
    capabilities = frozenset({DETERMINISTIC, TARGETS, INPUTS, PREDICTOR})

    def __init__(self, table: GemmTable, live: bool = False) -> None:
        self.table, self.live = table, live
        self.name = "gemm-select"
        self.rows = {s: table.rows(s) for s in ("train", "val", "test")}
        if any(len(r) == 0 for r in self.rows.values()):
            raise UserError(f"gemm table {table.name} needs train, val and test shapes")
        self.param_space = model_space()
        self._cfg = ConfigArrays(table.configs)
        self._config_text = [config_input(c) for c in table.configs]
        self._timer = _Timer(table) if live else None
        self._live_cache: dict[tuple[int, int], float] = {}
        c = table.n_configs
        self.description = (
            f"learned GEMM schedule selection on {table.name}: {len(self.rows['train'])} train / "
            f"{len(self.rows['val'])} val / {len(self.rows['test'])} test shapes x {c} schedules "
            "(labels = timings read)"
        )

    def n_items(self, split: str) -> int:
        return len(self.rows[split]) * self.table.n_configs

    def _pairs(self, split: str, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(table rows, config ids), int64 [len(items)] each."""
        items = np.asarray(items, dtype=np.int64)
        pos, cid = np.divmod(items, self.table.n_configs)
        return self.rows[split][pos], cid

    def inputs(self, split: str, items: np.ndarray) -> list[str]:
        rows, cids = self._pairs(split, items)
        shapes = self.table.shapes
        return [
            f"{shape_input(shapes[r].m, shapes[r].n, shapes[r].k)} {self._config_text[c]}"
            for r, c in zip(rows.tolist(), cids.tolist(), strict=True)
        ]

    def targets(self, split: str, items: np.ndarray) -> np.ndarray:
        """Measured microseconds per call of each pair."""
        rows, cids = self._pairs(split, items)
        if self._timer is None:
            return self.table.times_us[rows, cids]
        out = np.empty(len(rows))
        for i, (r, c) in enumerate(zip(rows.tolist(), cids.tolist(), strict=True)):
            if (r, c) not in self._live_cache:
                self._live_cache[(r, c)] = float(self._timer(r, np.array([c]))[0])
            out[i] = self._live_cache[(r, c)]
        return out

    def evaluate(self, config: Mapping[str, Any], split: str, items: np.ndarray) -> np.ndarray:
        """The analytical model's predicted microseconds per pair under the constants
        ``config`` (no timing)."""
        p = self.param_space.validate(config)
        rows, cids = self._pairs(split, items)
        m = np.array([self.table.shapes[r].m for r in rows], dtype=np.float64)
        n = np.array([self.table.shapes[r].n for r in rows], dtype=np.float64)
        k = np.array([self.table.shapes[r].k for r in rows], dtype=np.float64)
        return predict_us(m, n, k, self._cfg.take(cids), p)

    def loss(self, costs: np.ndarray, split: str, items: np.ndarray) -> float:
        """Mean absolute log error of predicted vs measured time after removing each
        shape's mean log ratio (only the order among a shape's schedules matters for
        selection, not the absolute scale)."""
        rows, _ = self._pairs(split, items)
        return float(np.mean(_centered_log_errors(costs, self.targets(split, items), rows)))

    def score(self, costs: np.ndarray, split: str, items: np.ndarray) -> dict[str, float]:
        """``loss``, and for every shape whose schedules are all among ``items``: the
        best measured time among the N predicted fastest over the exhaustive best
        (``top<N>_over_best``), over torch.matmul (``top<N>_over_torch``), and the mean
        Kendall tau of predicted vs measured order within a shape."""
        items = np.asarray(items, dtype=np.int64)
        out: dict[str, float] = {"loss": self.loss(costs, split, items)}
        pred = np.full((len(self.rows[split]), self.table.n_configs), np.nan)
        pos, cid = np.divmod(items, self.table.n_configs)
        pred[pos, cid] = np.asarray(costs, dtype=np.float64)
        seen = np.zeros(pred.shape, dtype=bool)
        seen[pos, cid] = True
        complete = np.flatnonzero(seen.all(axis=1))
        if len(complete) == 0:
            return out
        rows = self.rows[split][complete]
        times = self.table.times_us[rows]
        best = np.nanmin(times, axis=1)
        p = pred[complete]
        p = np.where(np.isfinite(p), p, np.inf)
        order = np.argsort(p, axis=1, kind="stable")
        names = [self.table.shapes[r].name for r in rows]
        for n in TOP_N:
            chosen = np.take_along_axis(times, order[:, :n], axis=1).min(axis=1)
            out[f"top{n}_over_best"] = geomean(chosen / best)
            out[f"top{n}_over_torch"] = geomean(chosen / self.table.torch_us[rows])
            if split == "test":  # per-shape detail ("/": records only)
                for name, ratio in zip(names, (chosen / best).tolist(), strict=True):
                    out[f"top{n}/{name}"] = ratio
        from scipy.stats import kendalltau

        taus = [kendalltau(p[i], times[i]).statistic for i in range(len(rows))]
        out["kendall_tau"] = float(np.nanmean(taus))
        return out

    def versions(self) -> dict[str, str]:
        return {"gemm_table": self.table.name, "compiler": str(self.table.meta.get("compiler", ""))}

    def provenance(self) -> dict[str, Any]:
        return _provenance(self.table, self.rows, self.live)


def _centered_log_errors(pred: np.ndarray, target: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """|log(pred/target) - mean of that within the pair's group|, float64 [n]; a missing
    or non-positive prediction counts as :data:`BAD_LOG_ERROR`."""
    pred = np.asarray(pred, dtype=np.float64)
    ok = np.isfinite(pred) & (pred > 0)
    r = np.where(ok, np.log(np.where(ok, pred, 1.0) / target), 0.0)
    _, inv = np.unique(groups, return_inverse=True)
    sums = np.bincount(inv, weights=np.where(ok, r, 0.0))
    counts = np.bincount(inv, weights=ok.astype(np.float64))
    mean = sums / np.maximum(counts, 1.0)
    return np.where(ok, np.abs(r - mean[inv]), BAD_LOG_ERROR)


def make_gemm_search_task(
    table: str = DEFAULT_TABLE,
    shapes: str = "test",
    max_shapes: int | None = None,
    live: bool = False,
) -> GemmSearchTask:
    """Per-shape GEMM schedule search on the measured table (one sample = one timing)."""
    return GemmSearchTask(load_table(table), shapes=shapes, max_shapes=max_shapes, live=live)


def make_gemm_select_task(table: str = DEFAULT_TABLE, live: bool = False) -> GemmSelectTask:
    """Learned GEMM schedule selection (diode's workflow): a time model trained on training
    shapes picks top-N schedules for test shapes; labels = timings read."""
    return GemmSelectTask(load_table(table), live=live)


__all__ = ["GemmSearchTask", "GemmSelectTask", "make_gemm_search_task", "make_gemm_select_task"]
