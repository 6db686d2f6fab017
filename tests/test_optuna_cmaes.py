"""optuna-cmaes: sep-CMA-ES without Optuna's experimental-argument warning."""

from __future__ import annotations

import warnings

import optuna
from optuna.exceptions import ExperimentalWarning

from baselines.optuna_cmaes import OptunaCMAES
from harness.params import IntParam, ParamSpace
from tests.toyfamily.task import ToyTask, trial_context


def test_separable_cma_builds_without_the_experimental_warning_only() -> None:
    task = ToyTask(n=10)
    ctx = trial_context(task, 100, 5)
    agent = OptunaCMAES(covariance="diagonal")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        agent.setup(ctx)
        assert agent.diagnostics() == {"separable_cma": 1.0}
        assert not [w for w in caught if issubclass(w.category, ExperimentalWarning)]
        # The filter is scoped to building the sampler: the same call outside warns.
        optuna.samplers.CmaEsSampler(seed=0, use_separable_cma=True)
    assert [str(w.message).split(".")[0] for w in caught] == [
        "Argument ``use_separable_cma`` is an experimental feature"
    ]


def test_auto_covariance_is_full_up_to_100_parameters_and_diagonal_above() -> None:
    small = ToyTask(n=10)  # 3 numeric parameters
    wide = ToyTask(n=10)
    wide.param_space = ParamSpace([IntParam(f"p{i}", 0, 3, 1) for i in range(101)])
    for task, separable in ((small, 0.0), (wide, 1.0)):
        agent = OptunaCMAES()
        agent.setup(trial_context(task, 100, 5))
        assert agent.diagnostics() == {"separable_cma": separable}
        assert agent.make_sampler(0)._use_separable_cma is bool(separable)
