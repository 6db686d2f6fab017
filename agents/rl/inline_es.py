"""``inline-es``: antithetic evolution strategies over the policy's weights, MLGO's
current trainer for its inlining-for-size policy (its ``blackbox_learner``).

The search runs in the space's unit cube (``ParamSpace.encode``: each weight's range is
[0, 1], so ``sigma`` is a fraction of every weight's range; 0.02 is 0.12 for a linear
weight in [-3, 3]). Each iteration draws ``pairs`` Gaussian directions ``eps_k`` and
evaluates ``theta + sigma eps_k`` and ``theta - sigma eps_k`` on the same ``modules_per_pair``
train modules (a fresh draw per pair), each module compiled once per side (charged as
samples). With ``L = log(geomean size ratio vs -Oz)`` on those modules, the gradient
estimate is

    g = sum_k (L+_k - L-_k) eps_k / (2 sigma n_used std(L)),

over all pairs, or over the ``top_directions`` pairs with the best ``min(L+, L-)``
(ARS), divided by the differences' root mean square (ARS divides by the losses' std;
here pairs see different modules, whose sizes differ); Adam (or plain SGD) steps
``theta`` against it, clipped to the cube. Antithetic pairs on the same
modules cancel each module's own size, so modules of any size mix. The start is the
space's default configuration, i.e. the -Oz heuristic, and every iteration's ``theta``
is proposed as the incumbent; the last one is returned.

Configurations are evaluated by the task itself in the trial process (no live policy,
so no channel round trip per call site). Works on any space of scalar parameters
without a constraint (integers and categories are decoded from the cube).
"""

from __future__ import annotations

import numpy as np

from harness.agent import Agent, TrialContext
from harness.budget import BudgetExhausted, TimeLimitReached
from harness.params import Config, ParamSpace
from harness.task import Task

OPTIMIZERS = ("adam", "sgd")


class InlineESAgent(Agent):
    """Options: ``sigma`` (0.02, perturbation std as a fraction of each weight's range),
    ``learning_rate`` (0.01, in the unit cube), ``pairs`` (8 antithetic pairs per
    iteration), ``modules_per_pair`` (2), ``top_directions`` (0 = all pairs),
    ``optimizer`` (adam or sgd)."""

    name = "inline-es"
    description = "antithetic evolution strategies over the policy weights (MLGO's trainer)"

    def __init__(
        self,
        sigma: float = 0.02,
        learning_rate: float = 0.01,
        pairs: int = 8,
        modules_per_pair: int = 2,
        top_directions: int = 0,
        optimizer: str = "adam",
    ) -> None:
        super().__init__()
        if sigma <= 0 or learning_rate <= 0:
            raise ValueError("sigma and learning_rate must be > 0")
        if pairs < 1 or modules_per_pair < 1 or not 0 <= top_directions <= pairs:
            raise ValueError("pairs, modules_per_pair >= 1; 0 <= top_directions <= pairs")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, not {optimizer!r}")
        self.sigma = float(sigma)
        self.learning_rate = float(learning_rate)
        self.pairs = int(pairs)
        self.modules_per_pair = int(modules_per_pair)
        self.top_directions = int(top_directions)
        self.optimizer = optimizer

    @classmethod
    def supports(cls, task: Task) -> tuple[bool, str]:
        ok, why = super().supports(task)
        space = task.param_space
        if ok and (not space.scalar or space.constraint is not None):
            return False, "needs a space of scalar parameters without a constraint"
        return ok, why

    def run(self, ctx: TrialContext) -> Config:
        space = ctx.param_space
        start = space.encode(space.default())
        theta = start.copy()
        n_train = ctx.objective.n_items("train")
        per = min(self.modules_per_pair, n_train)
        adam = _Adam(len(theta), self.learning_rate)
        iterations = flat = used_pairs = 0
        try:
            while ctx.objective.samples_left >= 2 * per:
                n_pairs = min(self.pairs, ctx.objective.samples_left // (2 * per))
                eps = ctx.rng.standard_normal((n_pairs, len(theta)))
                plus, minus = np.empty(n_pairs), np.empty(n_pairs)
                for k in range(n_pairs):
                    items = np.sort(ctx.rng.choice(n_train, size=per, replace=False))
                    plus[k] = _log_loss(ctx, space, theta + self.sigma * eps[k], items)
                    minus[k] = _log_loss(ctx, space, theta - self.sigma * eps[k], items)
                flat += int(np.sum(plus == minus))
                used_pairs += n_pairs
                keep = np.arange(n_pairs)
                if self.top_directions:
                    keep = np.argsort(np.minimum(plus, minus))[: self.top_directions]
                diff = plus[keep] - minus[keep]
                # The pairs' modules differ, so the differences (not the losses) set
                # the scale of the step.
                spread = float(np.sqrt(np.mean(diff**2)))
                if spread > 0:
                    grad = diff @ eps[keep] / (2 * self.sigma * len(keep))
                    step = (
                        adam.step(grad / spread)
                        if self.optimizer == "adam"
                        else (self.learning_rate * grad / spread)
                    )
                    theta = np.clip(theta - step, 0.0, 1.0)
                iterations += 1
                ctx.objective.propose(space.decode(theta))
        except (BudgetExhausted, TimeLimitReached):
            pass
        self.set_diagnostic("es_iterations", iterations)
        self.set_diagnostic("es_flat_pair_fraction", flat / max(used_pairs, 1))
        self.set_diagnostic("es_step_from_default", float(np.linalg.norm(theta - start)))
        return space.decode(theta)


def _log_loss(ctx: TrialContext, space: ParamSpace, theta: np.ndarray, items: np.ndarray) -> float:
    """log of the loss (the inlining task's: geomean size ratio) of a cube point."""
    loss = ctx.objective.loss(space.decode(np.clip(theta, 0.0, 1.0)), "train", items)
    return float(np.log(max(loss, 1e-300)))


class _Adam:
    """Adam (Kingma & Ba) on a minimisation gradient; ``step`` returns the update."""

    def __init__(self, dim: int, lr: float, b1: float = 0.9, b2: float = 0.999) -> None:
        self.lr, self.b1, self.b2 = lr, b1, b2
        self.m, self.v, self.t = np.zeros(dim), np.zeros(dim), 0

    def step(self, grad: np.ndarray) -> np.ndarray:
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * grad
        self.v = self.b2 * self.v + (1 - self.b2) * grad**2
        m_hat = self.m / (1 - self.b1**self.t)
        v_hat = self.v / (1 - self.b2**self.t)
        return self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)
