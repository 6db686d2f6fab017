"""optuna-cmaes: sep-CMA-ES without Optuna's experimental-argument warning."""

from __future__ import annotations

import warnings

import numpy as np
import optuna
from optuna.exceptions import ExperimentalWarning

from baselines.optuna_cmaes import OptunaCMAES
from harness.agent import TrialContext
from harness.budget import BudgetedObjective
from tests.toy_plugin import ToyTask


def test_separable_cma_builds_without_the_experimental_warning_only() -> None:
    task = ToyTask(n=10)
    ctx = TrialContext(
        objective=BudgetedObjective(task, 100),
        param_space=task.param_space,
        seed=0,
        eval_items=np.arange(5, dtype=np.int64),
        rng=np.random.default_rng(0),
    )
    agent = OptunaCMAES(covariance="diagonal")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        agent.setup(ctx)
        assert agent.diagnostics == {"separable_cma": 1.0}
        assert not [w for w in caught if issubclass(w.category, ExperimentalWarning)]
        # The filter is scoped to building the sampler: the same call outside warns.
        optuna.samplers.CmaEsSampler(seed=0, use_separable_cma=True)
    assert [str(w.message).split(".")[0] for w in caught] == [
        "Argument ``use_separable_cma`` is an experimental feature"
    ]
