"""``optuna-cmaes``: Optuna's CMA-ES sampler (categoricals sampled independently)."""

from __future__ import annotations

import optuna

from baselines.optuna_common import OptunaAgent


class OptunaCMAES(OptunaAgent):
    name = "optuna-cmaes"
    description = "Optuna CMA-ES sampler (categoricals at random), default configuration first"

    def make_sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        # CMA-ES handles only numbers; Optuna samples categoricals with a seeded
        # independent sampler, which is what we want, so its warning is noise.
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
