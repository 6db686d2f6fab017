"""``boosted-residual``: gradient-boosted trees correcting the task's simulator.

cycles(block) = s_0(block) * g(features(block)), with s_0 the task's simulator under
its default configuration (the anchor, re-simulated at test time) and g an xgboost
ensemble fitted to the labels' ratio measured / s_0. With ``loss = "mape"`` (the
default) g is fitted by the absolute error of the ratio weighted by s_0 / measured,
which is exactly the labels' mean absolute percentage error |predicted - measured| /
measured, the metric the task scores: tree leaves become weighted medians that MAPE
rewards, and blocks far under the anchor weigh more than blocks far above it, as in
the metric. ``loss = "log-abs"`` (before 2026-12-05) fitted log g by the unweighted
absolute error of the log ratio (the median ratio), which MAPE does not minimise.

Features of a block (:func:`block_features`):
- how often each table key and each mnemonic occurs (the labelled blocks' vocabulary),
  the instruction count;
- the per-instruction dependency features of :mod:`agents.predictors.featurize`, summed;
- log s_0; per reference simulator the task offers (another CPU's table, the plain
  model: :mod:`envs.blocksim.references`), log s_ref - log s_0; and per sensitivity
  configuration (:func:`agents.predictors.uarchs.
  sensitivity_configs`: every latency + 1, every resource use doubled, ...), log s_v -
  log s_0: how the simulated time responds says whether latency, ports or the front end
  bound the block, which the measured time depends on in ways the table misses.

Budgets: each labelled block costs one label and 1 + len(references) + len(views)
simulator samples (the last views, then references, left out if the samples run
short). Trees, not another network: the labels are few (10^2..10^4) and the signal
sits in rare opcodes and a few numeric features, where boosted trees fit fast and do
not need a learning-rate schedule; xgboost is the project's tree library already (the
gemm family's AutoTVM model).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import sparse

from agents.predictors.common import (
    PredictorAgent,
    all_items,
    check_loss,
    label_items,
    mape,
    read_inputs,
    simulate,
    simulate_reference,
)
from agents.predictors.featurize import FEATURES, BlockTokens, Tokenizer
from agents.predictors.opcode_regression import TokenCounts
from agents.predictors.simulators import BlockSimPredictor, task_blocksim_options, task_cpu
from agents.predictors.uarchs import SENSITIVITIES, sensitivity_configs, table_space
from envs.blocksim.references import BlockSimReference
from harness.agent import TrialContext
from harness.params import ParamSpace
from harness.task import REFERENCES
from harness.trial import stable_int


def loss_targets(ratio: np.ndarray, loss: str) -> tuple[np.ndarray, np.ndarray | None]:
    """What the trees fit, and each label's weight (None: unweighted).

    Args:
        ratio: float64 [n] measured / s_0 (> 0).
        loss: ``"mape"``: the ratio itself weighted by 1 / ratio, so a tree's absolute
            error |g - ratio| / ratio is the label's |predicted - measured| / measured;
            ``"log-abs"``: log ratio, no weights. (Unit weights are not the same as
            none: xgboost's weighted quantiles for the leaves and the intercept give other
            trees, so the old loss passes none to fit as it did.)
    """
    if loss == "mape":
        return ratio, 1.0 / ratio
    return np.log(ratio), None


def predicted_ratio(g: np.ndarray, loss: str, floor: float) -> np.ndarray:
    """The trees' output ``g`` [n] as a ratio to the anchor, float64 [n], at least
    ``floor`` (the "mape" loss fits the ratio itself, so a sum of trees can fall below the
    smallest labelled ratio, or under zero)."""
    g = np.asarray(g, np.float64)
    return np.exp(g) if loss == "log-abs" else np.maximum(g, floor)


def block_features(
    blocks: Sequence[BlockTokens | None], counts: TokenCounts, sims: np.ndarray
) -> sparse.csr_matrix:
    """Feature rows, float64 [n, counts.width + len(FEATURES) + V].

    Args:
        blocks: n decoded blocks (None: undecodable, a zero token row).
        counts: the key / mnemonic columns (fixed at fit time).
        sims: float64 [n, V] simulated cycles, column 0 the anchor s_0 (V >= 1).
    """
    deps = np.array(
        [b.feats.sum(0) if b is not None else np.zeros(len(FEATURES)) for b in blocks]
    ).reshape(len(blocks), len(FEATURES))
    logs = np.log(np.maximum(sims, 1e-3))
    logs[:, 1:] -= logs[:, :1]
    return sparse.hstack([counts.matrix(blocks), sparse.csr_matrix(deps), logs], "csr")


class BoostedPredictor:
    """Picklable: hex blocks -> cycles per 100 iterations, float64 [n] (NaN: a block that
    does not decode or that the anchor cannot simulate).

    Args:
        tokenizer, counts: how blocks become token counts (the training vocabulary).
        sims: the anchor, the references, then the sensitivity views: picklable
            callables, hex blocks -> cycles.
        model: the raw xgboost booster (``Booster.save_raw()``).
        loss: the loss it was fitted with (:data:`agents.predictors.common.LOSSES`),
            which says what it predicts: the ratio measured / s_0 (``"mape"``) or its log
            (``"log-abs"``).
        floor: the least ratio a "mape" predictor returns (the smallest in the labels: a
            tree sum below it is an extrapolation, and a ratio <= 0 no cycle count);
            "log-abs" predictions, exponentials, need none.
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        counts: TokenCounts,
        sims: Sequence[Callable[[Sequence[str]], np.ndarray]],
        model: bytes,
        loss: str,
        floor: float,
    ) -> None:
        self.tokenizer, self.counts, self.sims = tokenizer, counts, list(sims)
        self.model = bytes(model)
        self.loss, self.floor = loss, float(floor)
        self._booster: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_booster": None}

    def __call__(self, blocks_hex: Sequence[str]) -> np.ndarray:
        import xgboost as xgb

        if self._booster is None:
            self._booster = xgb.Booster(params={"nthread": 1})
            self._booster.load_model(bytearray(self.model))
        hexes = list(blocks_hex)
        tokens = self.tokenizer(hexes)
        sims = np.column_stack([s(hexes) for s in self.sims])
        x = block_features(tokens, self.counts, sims)
        g = self._booster.predict(xgb.DMatrix(x))
        out = sims[:, 0] * predicted_ratio(g, self.loss, self.floor)
        bad = ~(np.isfinite(sims[:, 0]) & (sims[:, 0] > 0))
        bad |= np.array([t is None for t in tokens], bool)
        return np.where(bad, np.nan, out)


class BoostedResidualAgent(PredictorAgent):
    """Options:
    cpu: blocksim CPU whose decoder names the tokens.
        Empty: the task's (``ctx.task_facts['cpu']``), else znver3.
    references: the task's reference simulators to use (None: every one it offers).
    views: sensitivity configurations simulated beside the anchor (names in
        :data:`agents.predictors.uarchs.SENSITIVITIES`); empty: none.
    depths: tree depths tried; the one with the lowest held-out MAPE is refitted on
        every label.
    learning_rate, max_rounds, patience: boosting (rounds chosen by early stopping on
        the held-out labels, at most ``max_rounds``).
    threads: xgboost threads (1: the same numbers on any machine).
    loss: ``"mape"``: the ratio measured / s_0 fitted by its absolute error weighted by
        s_0 / measured (exactly MAPE); ``"log-abs"``: log ratio, unweighted absolute error
        (the agent before 2026-12-05).
    """

    name = "boosted-residual"
    description = "gradient-boosted trees correcting the task's simulator, fitted on labels"

    def __init__(
        self,
        cpu: str = "",
        references: Sequence[str] | None = None,
        views: Sequence[str] = SENSITIVITIES,
        depths: Sequence[int] = (6, 8),
        learning_rate: float = 0.03,
        max_rounds: int = 3000,
        patience: int = 100,
        threads: int = 1,
        loss: str = "mape",
    ) -> None:
        super().__init__()
        check_loss(loss)
        unknown = [v for v in views if v not in SENSITIVITIES]
        if unknown:
            raise ValueError(f"unknown view {unknown[0]!r}; known: {', '.join(SENSITIVITIES)}")
        if not depths or min(depths) < 1:
            raise ValueError("depths must be a non-empty list of integers >= 1")
        if learning_rate <= 0 or max_rounds < 1 or patience < 1 or threads < 1:
            raise ValueError("learning_rate must be > 0; max_rounds, patience, threads >= 1")
        self.cpu, self.views = cpu, tuple(views)
        self.references = None if references is None else tuple(references)
        self.depths = tuple(int(d) for d in depths)
        self.learning_rate, self.max_rounds = float(learning_rate), int(max_rounds)
        self.patience, self.threads = int(patience), int(threads)
        self.loss = loss

    def versions(self) -> dict[str, str]:
        import xgboost as xgb

        return {"xgboost": str(xgb.__version__)}

    def run(self, ctx: TrialContext) -> BoostedPredictor | None:
        obj, space = ctx.objective, ctx.param_space
        cpu = task_cpu(self.cpu, ctx.task_facts)
        models = task_blocksim_options(ctx.task_facts)
        if table_space(space) is None:
            return None  # not a blocksim task: nothing to anchor on (the default is scored)
        pool = all_items(obj)
        lab = label_items(ctx, pool)
        n = len(lab.rows)
        if n == 0 or obj.samples_left < n:
            return None
        # 1. Simulator samples: the anchor, references, views, as many as samples allow.
        offered = obj.reference_names() if REFERENCES in obj.capabilities else ()
        refs = list(offered if self.references is None else self.references)
        missing = [r for r in refs if r not in offered]
        if missing:
            raise ValueError(f"the task offers no reference simulator {missing[0]!r}")
        room = obj.samples_left // n - 1
        refs = refs[:room]
        views = self.views[: max(0, room - len(refs))]
        configs = [space.default(), *sensitivity_configs(space, views)]
        cols = [simulate(obj, configs[0], lab.items)]
        cols += [simulate_reference(obj, r, lab.items) for r in refs]
        cols += [simulate(obj, cfg, lab.items) for cfg in configs[1:]]
        sims = np.column_stack(cols)
        self.set_diagnostic("references", float(len(refs)))
        self.set_diagnostic("views", float(len(views)))
        tokenizer = Tokenizer(cpu)
        tokens = tokenizer(read_inputs(obj, lab.items))
        ok = np.isfinite(lab.targets) & (lab.targets > 0)
        ok &= np.all(np.isfinite(sims) & (sims > 0), axis=1)
        ok &= np.array([t is not None for t in tokens], bool)
        if not ok.any():
            return None
        counts = TokenCounts([t for t, k in zip(tokens, ok, strict=True) if k and t is not None])
        x = block_features(tokens, counts, sims)
        ratio = np.where(ok, lab.targets, 1.0) / np.where(ok, sims[:, 0], 1.0)
        r, weight = loss_targets(ratio, self.loss)
        floor = float(ratio[ok].min())  # "log-abs" predictions are positive without it

        def w(rows: np.ndarray) -> np.ndarray | None:
            return None if weight is None else weight[rows]

        fit_rows = np.flatnonzero(ok & ~lab.holdout)
        hold_rows = np.flatnonzero(ok & lab.holdout)
        # 2. Trees: depth and rounds chosen on the held-out labels, then refitted on all.
        t0 = time.perf_counter()
        seed = stable_int("boosted-residual", ctx.seed) % 2**31
        depth, rounds = self.depths[0], min(200, self.max_rounds)
        if len(hold_rows) and len(fit_rows):
            best = float("inf")
            for d in self.depths:
                m = self._model(d, self.max_rounds, seed, early=True)
                hold_w = None if weight is None else [weight[hold_rows]]
                m.fit(x[fit_rows], r[fit_rows], sample_weight=w(fit_rows),
                      eval_set=[(x[hold_rows], r[hold_rows])],
                      sample_weight_eval_set=hold_w, verbose=False)  # fmt: skip
                g = predicted_ratio(m.predict(x[hold_rows]), self.loss, floor)
                err = mape(sims[hold_rows, 0] * g, lab.targets[hold_rows])
                if err < best:
                    best, depth, rounds = err, d, int(m.best_iteration) + 1
            self.set_diagnostic("holdout_mape", best)
        rows = np.flatnonzero(ok)
        final = self._model(depth, rounds, seed, early=False)
        final.fit(x[rows], r[rows], sample_weight=w(rows), verbose=False)
        self.set_diagnostic("depth", float(depth))
        self.set_diagnostic("rounds", float(rounds))
        self.set_diagnostic("labels_fit", float(len(rows)))
        self.set_diagnostic("train_s", time.perf_counter() - t0)
        view_tables = [table_changes(cfg, space) for cfg in configs[1:]]
        sim_predictors: list[Callable[[Sequence[str]], np.ndarray]] = [
            BlockSimPredictor(cpu, **models),  # the anchor: the task's default configuration
            *(BlockSimReference(r, models) for r in refs),
            *(BlockSimPredictor(cpu, list(t), list(t.values()), **models) for t in view_tables),
        ]
        predictor = BoostedPredictor(
            tokenizer, counts, sim_predictors, bytes(final.get_booster().save_raw("ubj")),
            loss=self.loss, floor=floor,
        )  # fmt: skip
        obj.propose_predictor(predictor)
        return predictor

    def _model(self, depth: int, rounds: int, seed: int, early: bool) -> Any:
        import xgboost as xgb

        # The ratio starts at 1 (the anchor as it is); xgboost's own intercept estimate
        # for the log ratio, as before.
        start = {"base_score": 1.0} if self.loss == "mape" else {}
        return xgb.XGBRegressor(**start,
            n_estimators=rounds, max_depth=depth, learning_rate=self.learning_rate,
            objective="reg:absoluteerror", subsample=0.8, colsample_bytree=0.5,
            min_child_weight=2, tree_method="hist", n_jobs=self.threads,
            random_state=seed, verbosity=0,
            early_stopping_rounds=self.patience if early else None,
        )  # fmt: skip


def table_changes(config: Mapping[str, Any], space: ParamSpace) -> dict[str, float]:
    """The table parameters of ``config`` that differ from ``space``'s default (what a
    :class:`BlockSimPredictor` sets on the task's base table)."""
    default = space.default()
    tables = table_space(space)
    names = [] if tables is None else list(tables.names)
    return {k: float(config[k]) for k in names if config[k] != default[k]}
