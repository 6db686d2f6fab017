"""``inline-es``: antithetic evolution strategies over the policy's weights, MLGO's
current trainer for its inlining-for-size policy (its ``blackbox_learner``).

The search runs in the space's unit cube (``ParamSpace.encode``: each weight's range is
[0, 1], so ``sigma`` is a fraction of every weight's range; 0.05 is 0.3 for a linear
weight in [-3, 3]). Each iteration draws ``pairs`` Gaussian directions ``eps_k`` and
evaluates ``theta + sigma eps_k`` and ``theta - sigma eps_k`` on the same
``modules_per_pair`` train modules (a fresh draw per pair). With ``L`` the mean log size
ratio vs -Oz on those modules, the gradient estimate is

    g = sum_k (L+_k - L-_k) eps_k / (2 sigma n_used),

over all pairs, or over the ``top_directions`` pairs with the best ``min(L+, L-)``
(ARS), divided by the differences' root mean square (ARS divides by the losses' std;
here pairs see different modules, whose sizes differ); Adam (or plain SGD) steps
``theta`` against it, clipped to the cube. Antithetic pairs on the same modules cancel
each module's own size, so modules of any size mix. The start is the space's default
configuration, i.e. the -Oz heuristic; every iteration's ``theta`` is proposed as the
incumbent and the last one is returned.

On the inlining task (``replay``, the default), modules are compiled under live
policies that record every call site (``agents/rl/inline_replay.py``), and a policy
that would make a module's recorded decisions again gets the recorded size without a
new compilation: most perturbations change no decision on most modules, and those cost
nothing. The search then draws its modules from a fixed working set of
``working_modules`` train modules, so recorded paths get reused, and ends with a
check: the final weights on the working set's modules (``check_fraction`` of the budget
for the compilations it needs); if they are no smaller than -Oz there, the -Oz default
is returned instead (MLGO too keeps the policy that evaluates best). Elsewhere (any space
of scalar parameters without a constraint) each side is one ``ctx.objective.loss``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from agents.rl.inline_replay import TrajectoryStore
from envs.inlining.policy import make_policy, spec_of_space
from harness.agent import Agent, TrialContext
from harness.budget import BudgetExhausted, TimeLimitReached
from harness.params import Config, ParamSpace
from harness.task import Task

OPTIMIZERS = ("adam", "sgd")
# A failed compilation counts as twice the heuristic's size (as the task scores it).
FAILED_RATIO = 2.0

# Mean log size ratio of a cube point on some train modules.
LossFn = Callable[[np.ndarray, np.ndarray], float]


class InlineESAgent(Agent):
    """Options: ``sigma`` (0.05, perturbation std as a fraction of each weight's range),
    ``learning_rate`` (0.02, in the unit cube), ``pairs`` (8 antithetic pairs per
    iteration), ``modules_per_pair`` (4), ``top_directions`` (0 = all pairs),
    ``optimizer`` (adam or sgd), ``replay`` (True: reuse recorded compilations on the
    inlining task), ``working_modules`` (256; 0 = every train module),
    ``max_iterations`` (5000: replayed evaluations cost no budget, so the budget alone
    might not end a search that stops leaving its recorded paths), ``check_fraction``
    (0.1 of the budget kept to check the result, replay mode)."""

    name = "inline-es"
    description = "antithetic evolution strategies over the policy weights (MLGO's trainer)"

    def __init__(
        self,
        sigma: float = 0.05,
        learning_rate: float = 0.02,
        pairs: int = 8,
        modules_per_pair: int = 4,
        top_directions: int = 0,
        optimizer: str = "adam",
        replay: bool = True,
        working_modules: int = 256,
        max_iterations: int = 5000,
        check_fraction: float = 0.1,
    ) -> None:
        super().__init__()
        if sigma <= 0 or learning_rate <= 0:
            raise ValueError("sigma and learning_rate must be > 0")
        if pairs < 1 or modules_per_pair < 1 or not 0 <= top_directions <= pairs:
            raise ValueError("pairs, modules_per_pair >= 1; 0 <= top_directions <= pairs")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, not {optimizer!r}")
        if working_modules < 0 or max_iterations < 1:
            raise ValueError("working_modules must be >= 0 and max_iterations >= 1")
        self.sigma = float(sigma)
        self.learning_rate = float(learning_rate)
        self.pairs = int(pairs)
        self.modules_per_pair = int(modules_per_pair)
        self.top_directions = int(top_directions)
        self.optimizer = optimizer
        self.replay = bool(replay)
        self.working_modules = int(working_modules)
        self.max_iterations = int(max_iterations)
        if not 0.0 <= check_fraction < 1.0:
            raise ValueError("check_fraction must be in [0, 1)")
        self.check_fraction = float(check_fraction)

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
        pool = np.arange(n_train)
        store = None
        if self.replay and _is_inlining(space):
            if self.working_modules and self.working_modules < n_train:
                pool = np.sort(ctx.rng.choice(n_train, size=self.working_modules, replace=False))
            store = TrajectoryStore(ctx)
            loss_fn = _replay_loss(ctx, space, store, pool)
            # Worst case a side compiles every module; usually most are replayed.
            cost_per_side = 1
        else:
            loss_fn = _objective_loss(ctx, space)
            cost_per_side = min(self.modules_per_pair, n_train)
        per = min(self.modules_per_pair, len(pool))
        adam = _Adam(len(theta), self.learning_rate)
        iterations = flat = used_pairs = 0
        # Replay mode keeps a share of the budget to check the result (see _checked).
        reserve = int(self.check_fraction * ctx.objective.samples_left) if store else 0
        try:
            while (
                ctx.objective.samples_left - reserve >= 2 * cost_per_side
                and iterations < self.max_iterations
            ):
                n_pairs = self.pairs
                if store is None:
                    n_pairs = min(n_pairs, ctx.objective.samples_left // (2 * cost_per_side))
                eps = ctx.rng.standard_normal((n_pairs, len(theta)))
                plus, minus = np.empty(n_pairs), np.empty(n_pairs)
                for k in range(n_pairs):
                    items = np.sort(ctx.rng.choice(pool, size=per, replace=False))
                    plus[k] = loss_fn(theta + self.sigma * eps[k], items)
                    minus[k] = loss_fn(theta - self.sigma * eps[k], items)
                if ctx.objective.samples_left < reserve:
                    break  # this iteration ate into the reserve: drop it
                flat += int(np.sum(plus == minus))
                used_pairs += n_pairs
                theta = self._step(theta, eps, plus, minus, adam)
                iterations += 1
                ctx.objective.propose(space.decode(theta))
        except (BudgetExhausted, TimeLimitReached):
            pass  # the iteration in flight is dropped: its pairs are incomplete
        self.set_diagnostic("es_iterations", iterations)
        self.set_diagnostic("es_flat_pair_fraction", flat / max(used_pairs, 1))
        self.set_diagnostic("es_step_from_default", float(np.linalg.norm(theta - start)))
        if store is not None:
            theta = self._checked(ctx, space, store, pool, theta, start)
            self.set_diagnostic("es_compiled", store.stats.compiled)
            self.set_diagnostic("es_replayed", store.stats.replayed)
        return space.decode(theta)

    def _checked(
        self,
        ctx: TrialContext,
        space: ParamSpace,
        store: TrajectoryStore,
        pool: np.ndarray,
        theta: np.ndarray,
        start: np.ndarray,
    ) -> np.ndarray:
        """``theta``, or the start (-Oz) if ``theta`` is no better than it on the working
        set's modules (each replayed where possible, compiled while the budget lasts)."""
        spec = spec_of_space(space)
        policy = make_policy(space.decode(theta), spec)
        heuristic = ctx.objective.targets("train", pool)
        logs: list[float] = []
        for k in ctx.rng.permutation(len(pool)).tolist():
            try:
                ratio = store.size(int(pool[k]), policy) / heuristic[k]
            except (BudgetExhausted, TimeLimitReached):
                break
            logs.append(float(np.log(ratio)) if np.isfinite(ratio) else float(np.log(FAILED_RATIO)))
        mean = float(np.mean(logs)) if logs else 0.0
        self.set_diagnostic("es_check_modules", len(logs))
        self.set_diagnostic("es_check_geomean_ratio", float(np.exp(mean)))
        keep = bool(logs) and mean < 0.0
        self.set_diagnostic("es_returned_default", float(not keep))
        if keep:
            ctx.objective.propose(space.decode(theta), float(np.exp(mean)))
            return theta
        ctx.objective.propose(space.decode(start), 1.0)
        return start

    def _step(
        self,
        theta: np.ndarray,
        eps: np.ndarray,
        plus: np.ndarray,
        minus: np.ndarray,
        adam: _Adam,
    ) -> np.ndarray:
        """theta after one step against the antithetic gradient estimate."""
        keep = np.arange(len(plus))
        if self.top_directions:
            keep = np.argsort(np.minimum(plus, minus))[: self.top_directions]
        diff = plus[keep] - minus[keep]
        # The pairs' modules differ, so the differences (not the losses) set the scale.
        spread = float(np.sqrt(np.mean(diff**2)))
        if spread == 0:
            return theta
        grad = diff @ eps[keep] / (2 * self.sigma * len(keep)) / spread
        step = adam.step(grad) if self.optimizer == "adam" else self.learning_rate * grad
        return np.clip(theta - step, 0.0, 1.0)


def _is_inlining(space: ParamSpace) -> bool:
    try:
        spec_of_space(space)
    except ValueError:
        return False
    return True


def _objective_loss(ctx: TrialContext, space: ParamSpace) -> LossFn:
    """log of the task's loss (inlining: geomean size ratio) of a cube point."""

    def loss(theta: np.ndarray, items: np.ndarray) -> float:
        value = ctx.objective.loss(space.decode(np.clip(theta, 0.0, 1.0)), "train", items)
        return float(np.log(max(value, 1e-300)))

    return loss


def _replay_loss(
    ctx: TrialContext, space: ParamSpace, store: TrajectoryStore, pool: np.ndarray
) -> LossFn:
    """Mean log(size / -Oz size) of a cube point's policy, compiling only modules where
    it leaves every recorded path."""
    spec = spec_of_space(space)
    heuristic = dict(zip(pool.tolist(), ctx.objective.targets("train", pool).tolist(), strict=True))

    def loss(theta: np.ndarray, items: np.ndarray) -> float:
        policy = make_policy(space.decode(np.clip(theta, 0.0, 1.0)), spec)
        logs = []
        for m in items.tolist():
            ratio = store.size(m, policy) / heuristic[m]
            logs.append(np.log(ratio) if np.isfinite(ratio) else np.log(FAILED_RATIO))
        return float(np.mean(logs))

    return loss


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
