"""``local-search``: first-improvement coordinate descent from the default configuration.

A simple, strong baseline for simulator tables (most parameters are already right, a
few are wrong): it visits the parameters in a seeded random order and tries, for each,
a move up and a move down (integers by ``step`` units, floats by ``step`` x 5% of the
range, categoricals and sequences/permutations by a random other value), keeping a move
as soon as it lowers the training loss. After a full pass without improvement the step
doubles (a wider neighbourhood); after one with improvements it starts again at 1.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from harness.agent import AskTellAgent, TrialContext
from harness.params import (
    CategoricalParam,
    Config,
    FloatParam,
    IntParam,
    ParamSpace,
)


class LocalSearch(AskTellAgent):
    name = "local-search"
    description = "coordinate descent from the default: +-1 moves per parameter, first improvement"

    def __init__(self, max_step: int = 8) -> None:
        super().__init__()
        if max_step < 1:
            raise ValueError("max_step must be >= 1")
        self.max_step = int(max_step)
        self._space: ParamSpace | None = None
        self._rng: np.random.Generator | None = None
        self._best: tuple[Config, float] | None = None
        self._moves: Iterator[Config] = iter(())
        self._step = 1
        self._improved = False
        self._passes = 0

    def setup(self, ctx: TrialContext) -> None:
        self._space, self._rng = ctx.param_space, ctx.rng
        self._best = None
        self._step, self._improved, self._passes = 1, False, 0
        self._moves = iter(())

    def _neighbours(self, base: Config) -> Iterator[Config]:
        """Moves of one pass around ``base`` (re-read after each improvement)."""
        assert self._space is not None and self._rng is not None
        order = self._rng.permutation(len(self._space))
        params = list(self._space)
        for i in order:
            p = params[int(i)]
            for sign in (1, -1):
                cur = self._best[0] if self._best else base
                value = cur[p.name]
                if isinstance(p, IntParam):
                    new = int(np.clip(value + sign * self._step, p.low, p.high))
                elif isinstance(p, FloatParam):
                    delta = sign * self._step * 0.05 * (p.high - p.low)
                    new = float(np.clip(value + delta, p.low, p.high))
                elif isinstance(p, CategoricalParam):
                    others = [c for c in p.choices if c != value]
                    if not others or sign < 0:
                        continue
                    new = others[int(self._rng.integers(len(others)))]
                else:  # sequence / permutation: a random point of its own encoding
                    if sign < 0:
                        continue
                    u = self._space.encode(cur)
                    u[self._rng.integers(len(u))] = self._rng.random()
                    new = self._space.decode(u)[p.name]
                if new != value:
                    yield {**cur, p.name: new}

    def ask(self) -> Config:
        assert self._space is not None
        if self._best is None:
            return self._space.default()
        for move in self._moves:
            return move
        # A pass ended: widen the step if nothing improved, else restart at 1.
        self._passes += 1
        self.set_diagnostic("passes", self._passes)
        self._step = 1 if self._improved else min(2 * self._step, self.max_step)
        self._improved = False
        self._moves = self._neighbours(self._best[0])
        for move in self._moves:
            return move
        return self._space.sample(self._rng)  # nothing to move (a one-point space)

    def tell(self, config: Config, loss: float) -> None:
        if self._best is None or loss < self._best[1]:
            if self._best is not None:
                self._improved = True
            self._best = (config, loss)
