"""``optuna-cmaes``: Optuna's CMA-ES sampler (categoricals sampled independently).

Covariance: full CMA-ES up to ``FULL_COVARIANCE_MAX_DIMS`` numeric parameters, the
separable variant (sep-CMA-ES, diagonal covariance; Ros & Hansen 2008) above, unless
the suite sets ``covariance = "full"`` or ``"diagonal"``. Why: Optuna's CmaEsSampler
pickles its whole optimizer into the study after every generation and restores it on
every ask, so a d x d covariance costs O(d^2) per ask: on blocksim's 1,591-parameter
table that was 8.2 s per ask (a 200-evaluation trial ~27 min), against 0.3 s for the
diagonal one. A full covariance also needs far more evaluations than such budgets
give to adapt (its learning rate is ~2/d^2), so the diagonal one loses nothing there.
"""

from __future__ import annotations

import warnings

import optuna
from optuna.exceptions import ExperimentalWarning

from baselines.optuna_common import OptunaAgent
from harness.agent import TrialContext
from harness.params import CategoricalParam

FULL_COVARIANCE_MAX_DIMS = 100
COVARIANCES = ("auto", "full", "diagonal")


class OptunaCMAES(OptunaAgent):
    name = "optuna-cmaes"
    description = (
        "Optuna CMA-ES sampler (sep-CMA-ES above 100 parameters; categoricals at random), "
        "default configuration first"
    )

    def __init__(self, covariance: str = "auto") -> None:
        if covariance not in COVARIANCES:
            raise ValueError(f"covariance must be one of {COVARIANCES}, got {covariance!r}")
        super().__init__()
        self.covariance = covariance
        self._separable = False

    def setup(self, ctx: TrialContext) -> None:
        numeric = sum(not isinstance(p, CategoricalParam) for p in ctx.param_space)
        self._separable = self.covariance == "diagonal" or (
            self.covariance == "auto" and numeric > FULL_COVARIANCE_MAX_DIMS
        )
        self.set_diagnostic("separable_cma", float(self._separable))
        super().setup(ctx)

    def make_sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        # CMA-ES handles only numbers; Optuna samples categoricals with a seeded
        # independent sampler, which is what we want, so its warning is noise. So is
        # "Argument ``use_separable_cma`` is an experimental feature" (in every run log):
        # only that warning is silenced, only while the sampler is built.
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore",
                message=r"Argument ``use_separable_cma`` is an experimental feature",
                category=ExperimentalWarning,
            )
            return optuna.samplers.CmaEsSampler(
                seed=seed, use_separable_cma=self._separable, warn_independent_sampling=False
            )
