"""``nevergrad``: nevergrad's NGOpt, its algorithm selector for the given budget and
dimension (it picks e.g. a (1+1) evolution strategy, CMA or DE variants).

The search runs on the unit cube of the task's space (``ParamSpace.encode``/``decode``,
one coordinate per integer, float or categorical and ``width`` per sequence or
permutation), started at the default configuration with a mutation scale of 0.1 (a
tenth of each range), and is told the budget in evaluations
(``budget_samples // eval_items``), which NGOpt uses to choose its method.
"""

from __future__ import annotations

import warnings

import nevergrad as ng
import numpy as np

from harness.agent import AskTellAgent, TrialContext
from harness.params import Config, ParamSpace


class NevergradAgent(AskTellAgent):
    name = "nevergrad"
    description = "nevergrad NGOpt (algorithm chosen for the budget and dimension), default first"

    def __init__(self, optimizer: str = "NGOpt", sigma: float = 0.1) -> None:
        super().__init__()
        if optimizer not in ng.optimizers.registry:
            raise ValueError(f"unknown nevergrad optimizer {optimizer!r}")
        if not 0 < sigma <= 1:
            raise ValueError("sigma must be in (0, 1]")
        self.optimizer, self.sigma = optimizer, float(sigma)
        self._opt: ng.optimization.Optimizer | None = None
        self._space: ParamSpace | None = None
        self._pending: ng.p.Array | None = None  # ask and tell alternate

    def setup(self, ctx: TrialContext) -> None:
        space = self._space = ctx.param_space
        init = space.encode(space.default())
        param = ng.p.Array(init=init, lower=0.0, upper=1.0).set_mutation(sigma=self.sigma)
        param.random_state = np.random.RandomState(ctx.seed % 2**32)
        evaluations = max(1, ctx.objective.samples_left // max(1, len(ctx.eval_items)))
        with warnings.catch_warnings():
            # Bounds of [0, 1] at sigma 0.1 are 10 sigma apart: nevergrad's warning about
            # close bounds does not apply; the rest of its warnings stay on.
            warnings.filterwarnings("ignore", message="Bounds are .* sigma away")
            self._opt = ng.optimizers.registry[self.optimizer](
                parametrization=param, budget=evaluations, num_workers=1
            )
        # NGOpt picks COBYLA when the evaluations are fewer than the dimensions (200 on
        # blocksim's ~2,000); scipy then warns on every step that MAXFUN and RHOEND were
        # adjusted, burying a suite's progress lines. nevergrad runs scipy in a thread of
        # its own, so a with-block here would not cover it: a process-wide filter for
        # just these two messages (the agent has its own process).
        warnings.filterwarnings("ignore", message="COBYLA: Invalid (MAXFUN|RHOEND)")
        self._pending = None
        self.set_diagnostic("dimension", space.dim)

    def ask(self) -> Config:
        assert self._opt is not None and self._space is not None
        cand = self._opt.ask()
        self._pending = cand
        return self._space.decode(np.asarray(cand.value, dtype=np.float64))

    def tell(self, config: Config, loss: float) -> None:
        assert self._opt is not None and self._pending is not None
        self._opt.tell(self._pending, float(loss) if np.isfinite(loss) else 1e300)
        self._pending = None

    def versions(self) -> dict[str, str]:
        return {"nevergrad": ng.__version__}
