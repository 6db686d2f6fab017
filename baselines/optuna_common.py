"""Shared ask/tell glue for Optuna samplers (TPE, CMA-ES): not an agent itself."""

from __future__ import annotations

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from harness.agent import AskTellAgent, TrialContext
from harness.params import (
    CategoricalParam,
    Config,
    FloatParam,
    IntParam,
    ParamSpace,
    ScalarView,
)


def optuna_distributions(space: ParamSpace) -> dict[str, BaseDistribution]:
    """One Optuna distribution per parameter of a scalar space, same bounds and scale."""
    out: dict[str, BaseDistribution] = {}
    for p in space:
        if isinstance(p, IntParam):
            out[p.name] = IntDistribution(p.low, p.high)
        elif isinstance(p, FloatParam):
            out[p.name] = FloatDistribution(p.low, p.high, log=p.log)
        elif isinstance(p, CategoricalParam):
            out[p.name] = CategoricalDistribution(list(p.choices))
    return out


class OptunaAgent(AskTellAgent):
    """Optuna's ask/tell interface with an in-memory study; the default is enqueued first.

    Sequence and permutation parameters are searched through their
    :class:`~harness.params.ScalarView` (one categorical per position, one key per item).
    """

    def make_sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        raise NotImplementedError

    def __init__(self) -> None:
        super().__init__()
        self._study: optuna.Study | None = None
        self._dists: dict[str, BaseDistribution] = {}
        self._pending: optuna.Trial | None = None
        self._view: ScalarView | None = None

    def setup(self, ctx: TrialContext) -> None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._view = ScalarView(ctx.param_space)
        self._dists = optuna_distributions(self._view.space)
        self._study = optuna.create_study(direction="minimize", sampler=self.make_sampler(ctx.seed))
        self._study.enqueue_trial(self._view.from_space(ctx.param_space.default()))

    def ask(self) -> Config:
        assert self._study is not None and self._view is not None
        self._pending = self._study.ask(self._dists)
        return self._view.to_space(self._pending.params)

    def tell(self, config: Config, loss: float) -> None:
        assert self._study is not None and self._pending is not None
        self._study.tell(self._pending, loss)
        self._pending = None

    def versions(self) -> dict[str, str]:
        return {"optuna": optuna.__version__}
