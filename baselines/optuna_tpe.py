"""``optuna-tpe``: Optuna's Tree-structured Parzen Estimator sampler."""

from __future__ import annotations

import optuna

from baselines.optuna_common import OptunaAgent


class OptunaTPE(OptunaAgent):
    name = "optuna-tpe"
    description = "Optuna TPE sampler (multivariate), default configuration first"

    def make_sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
