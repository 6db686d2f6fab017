"""``pycma``: Hansen's pycma CMA-ES with restarts (IPOP: each restart doubles the
population), diagonal (separable) covariance above 100 dimensions.

Why pycma beside ``optuna-cmaes``: pycma is the reference implementation, keeps its state
in memory (Optuna's sampler pickles its whole optimizer into the study at every
generation), and restarts when it converges, which long budgets need. The search runs
on the unit cube of the task's space from the default configuration, step size 0.1,
bounds [0, 1] handled by pycma's boundary handler.
"""

from __future__ import annotations

from collections import deque

import cma
import numpy as np

from harness.agent import AskTellAgent, TrialContext
from harness.params import Config, ParamSpace

FULL_COVARIANCE_MAX_DIMS = 100


class PyCMAAgent(AskTellAgent):
    name = "pycma"
    description = "pycma CMA-ES with IPOP restarts (separable above 100 dims), default first"
    # A whole population per request (ask_many stops at the population's end, so the
    # sequence of asks and tells is the same as one at a time).
    ask_batch = 1 << 20

    def __init__(self, sigma0: float = 0.1, restarts: int = 9, covariance: str = "auto") -> None:
        super().__init__()
        if not 0 < sigma0 <= 1 or restarts < 0:
            raise ValueError("sigma0 must be in (0, 1] and restarts >= 0")
        if covariance not in ("auto", "full", "diagonal"):
            raise ValueError("covariance must be auto, full or diagonal")
        self.sigma0, self.restarts, self.covariance = float(sigma0), int(restarts), covariance
        self._space: ParamSpace | None = None
        self._es: cma.CMAEvolutionStrategy | None = None
        self._queue: deque[np.ndarray] = deque()
        self._asked: list[np.ndarray] = []
        self._told: list[float] = []
        self._pending: deque[np.ndarray] = deque()  # asked, not yet told, in order
        self._best: tuple[float, np.ndarray] | None = None
        self._restart = 0
        self._seed = 0

    def setup(self, ctx: TrialContext) -> None:
        self._space = ctx.param_space
        self._seed = ctx.seed
        self._restart = 0
        x0 = self._space.encode(self._space.default())
        self._best = None
        self._new_es(x0, popsize=None)

    def _new_es(self, x0: np.ndarray, popsize: int | None) -> None:
        assert self._space is not None
        dim = self._space.dim
        diagonal = self.covariance == "diagonal" or (
            self.covariance == "auto" and dim > FULL_COVARIANCE_MAX_DIMS
        )
        opts: dict[str, object] = {
            "bounds": [0.0, 1.0],
            "seed": int(self._seed * 1000 + self._restart + 1),
            "verbose": -9,
            "CMA_diagonal": diagonal,
        }
        if popsize is not None:
            opts["popsize"] = popsize
        self._es = cma.CMAEvolutionStrategy(np.clip(x0, 0, 1), self.sigma0, opts)
        self._queue.clear()
        self._pending.clear()
        self._asked, self._told = [], []
        self.set_diagnostic("restarts", self._restart)
        self.set_diagnostic("separable_cma", float(diagonal))

    def ask(self) -> Config:
        return self.ask_many(1)[0]

    def ask_many(self, n: int) -> list[Config]:
        """Up to ``n`` configurations, all from the current population."""
        assert self._es is not None and self._space is not None
        if not self._queue:
            if self._es.stop() and self._restart < self.restarts:
                self._restart += 1
                best = self._best[1] if self._best else self._es.mean
                self._new_es(best, popsize=2 * self._es.popsize)
            self._asked = self._es.ask()
            self._told = []
            self._queue.extend(self._asked)
        out = []
        for _ in range(min(n, len(self._queue))):
            x = self._queue.popleft()
            self._pending.append(x)
            out.append(self._space.decode(x))
        return out

    def tell(self, config: Config, loss: float) -> None:
        assert self._es is not None and self._pending
        current = self._pending.popleft()
        value = float(loss) if np.isfinite(loss) else 1e300
        self._told.append(value)
        if self._best is None or value < self._best[0]:
            self._best = (value, current.copy())
        if len(self._told) == len(self._asked):
            self._es.tell(self._asked, self._told)

    def versions(self) -> dict[str, str]:
        return {"cma": cma.__version__}
