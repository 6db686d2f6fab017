"""``random``: uniform random search over the parameter space, default first."""

from __future__ import annotations

import numpy as np

from harness.agent import AskTellAgent, TrialContext
from harness.params import Config, ParamSpace


class RandomSearch(AskTellAgent):
    name = "random"
    description = "uniform random configurations (the default one first)"
    ask_batch = 32  # asks never depend on losses: one request per 32 configurations

    def __init__(self) -> None:
        super().__init__()
        self._space: ParamSpace | None = None
        self._rng: np.random.Generator | None = None
        self._asked = 0

    def setup(self, ctx: TrialContext) -> None:
        self._space, self._rng, self._asked = ctx.param_space, ctx.rng, 0

    def ask(self) -> Config:
        assert self._space is not None and self._rng is not None
        self._asked += 1
        return self._space.default() if self._asked == 1 else self._space.sample(self._rng)

    def tell(self, config: Config, loss: float) -> None:
        pass  # random search ignores feedback
