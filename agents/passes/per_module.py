"""``per-module``: search each module's own pass sequence (the ``passes`` task's
per-module setting, CompilerGym's leaderboard), one module after another, with any
registered sequence searcher (``greedy``, ``seq-hillclimb``, ``random``,
``optuna-tpe``, ``opentuner``, ...).

The task's space holds one sequence parameter per module (``passes/<module>``; module
k of the split is parameter k). For module k the searcher gets a one-sequence space and
a view of the objective (:class:`ModuleObjective`) that evaluates its sequences on that
module alone, with an allowance of ``samples left / modules left`` compilations (what
one module does not use goes to the next). Each module's best sequence goes into the
configuration the agent returns; the incumbent is proposed after every module.

Before the searcher, each module can try a ``portfolio`` of whole sequences (e.g. -Oz
and the sequences a generalization run learned on the training packages) and a
``screen`` of single passes appended to the best so far (greedy rounds over a short
list, ``screen_rounds`` of them); the searcher then starts from the best sequence
found. A sequence the module has already been compiled with is not compiled (nor
charged) again.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness import registry
from harness.agent import Agent, TrialContext
from harness.budget import BudgetExhausted
from harness.params import Config, ParamSpace, SequenceParam
from harness.task import Task
from harness.trial import stable_int


class _Log:
    def __init__(self) -> None:
        self.incumbent: Config | None = None


class ModuleObjective:
    """The objective as one module's searcher sees it: configurations ``{"passes":
    seq}``, evaluated on module ``item`` only (within ``allowance`` samples), under the
    full configuration ``base`` with that module's sequence replaced."""

    def __init__(
        self, real: Any, space: ParamSpace, base: Config, param: str, item: int, allowance: int
    ) -> None:
        self._real, self._space, self._base = real, space, base
        self._param, self._item = param, int(item)
        self._allowance, self._used = int(allowance), 0
        self.log = _Log()
        self.best: tuple[float, tuple[Any, ...]] | None = None
        self.first_loss = float("inf")  # the loss of the first sequence evaluated
        self.seen: dict[tuple[Any, ...], float] = {}  # sequence -> loss (not charged twice)

    @property
    def param_space(self) -> ParamSpace:
        return self._space

    @property
    def capabilities(self) -> frozenset[str]:
        return self._real.capabilities

    @property
    def budget_samples(self) -> int:
        return self._allowance

    @property
    def samples_used(self) -> int:
        return self._used

    @property
    def samples_left(self) -> int:
        return max(0, min(self._allowance - self._used, self._real.samples_left))

    def n_items(self, split: str = "train") -> int:
        return 1

    def _full(self, config: Config) -> Config:
        full = dict(self._base)
        full[self._param] = tuple(config["passes"])
        return full

    def loss(self, config: Config, split: str = "train", items: Any = None, **_: Any) -> float:
        seq = tuple(config["passes"])
        if seq in self.seen:  # known: no compilation
            return self.seen[seq]
        if self.samples_left < 1:
            raise BudgetExhausted(f"module allowance of {self._allowance} compilations used")
        loss = float(self._real.loss(self._full(config), "train", np.array([self._item])))
        self._used += 1
        self.seen[seq] = loss
        if self.best is None:
            self.first_loss = loss
        if self.best is None or loss < self.best[0]:
            self.best = (loss, seq)
        return loss

    def evaluate(self, config: Config, split: str = "train", items: Any = None, **_: Any) -> Any:
        if self.samples_left < 1:
            raise BudgetExhausted(f"module allowance of {self._allowance} compilations used")
        out = self._real.evaluate(self._full(config), "train", np.array([self._item]))
        self._used += 1
        return out

    def targets(self, split: str = "train", items: Any = None) -> Any:
        return self._real.targets("train", np.array([self._item]))

    def inputs(self, split: str = "train", items: Any = None) -> list[str]:
        return self._real.inputs("train", np.array([self._item]))

    def propose(self, config: Config, train_loss: float | None = None) -> None:
        self.log.incumbent = dict(config)


def run_on_module(
    ctx: TrialContext,
    view: ModuleObjective,
    space: ParamSpace,
    searcher: str,
    options: dict[str, Any],
    rng: np.random.Generator,
) -> None:
    """Run a fresh ``searcher`` (a registered agent) on one module's ``view`` until it
    returns or the module's allowance is spent; its results are in ``view.best``."""
    sub = TrialContext(
        objective=view,  # type: ignore[arg-type]
        param_space=space,
        seed=ctx.seed,
        eval_items=np.zeros(1, dtype=np.int64),
        rng=rng,
        device=ctx.device,
        threads=ctx.threads,
    )
    try:
        registry.agent_class(searcher)(**options).run(sub)
    except BudgetExhausted:
        pass


class PerModuleSearch(Agent):
    """Options: ``searcher`` (a registered agent name), ``searcher_options`` (its
    options), ``start`` (each module's first sequence; default: the space's default),
    ``first_share`` (1.0: one round, each module ``left / modules left``; below 1: a
    first round spends that share of the budget over all modules, a second round the
    rest over the modules the first round improved, from their best sequence)."""

    name = "per-module"
    description = "per-module setting: a registered sequence searcher run on each module in turn"

    def __init__(
        self,
        searcher: str = "seq-hillclimb",
        searcher_options: dict[str, Any] | None = None,
        start: list[str] | None = None,
        first_share: float = 1.0,
        portfolio: list[list[str]] | None = None,
        screen: list[str] | None = None,
        screen_rounds: int = 1,
    ) -> None:
        super().__init__()
        if searcher == self.name:
            raise ValueError("per-module cannot nest itself")
        if not 0.0 < first_share <= 1.0:
            raise ValueError("first_share must be in (0, 1]")
        if screen_rounds < 1:
            raise ValueError("screen_rounds must be >= 1")
        self.searcher, self.searcher_options = searcher, dict(searcher_options or {})
        self.start = tuple(start) if start is not None else None
        self.first_share = float(first_share)
        self.portfolio = [tuple(seq) for seq in portfolio or ()]
        self.screen = tuple(screen or ())
        self.screen_rounds = int(screen_rounds)
        registry.agent_class(searcher)(**self.searcher_options)  # fails early on bad options

    @classmethod
    def supports(cls, task: Task) -> tuple[bool, str]:
        params = list(task.param_space)
        if not params or not all(
            isinstance(p, SequenceParam) and p.name.startswith("passes/") for p in params
        ):
            return False, "needs the per-module setting (one sequence per module)"
        return True, ""

    def _prescreen(self, view: ModuleObjective, p: SequenceParam, start: tuple) -> tuple:
        """Evaluate ``start``, the portfolio, then ``screen`` appended to the best so far
        (up to ``screen_rounds`` rounds, while a round improves and the allowance lasts);
        the best sequence."""
        try:
            view.loss({"passes": start})
            for seq in self.portfolio:
                view.loss({"passes": p.validate(seq)})
            for _ in range(self.screen_rounds if self.screen else 0):
                assert view.best is not None
                base = view.best
                if len(base[1]) >= p.max_len:
                    break
                for a in self.screen:
                    if a in p.choices:
                        view.loss({"passes": (*base[1], a)})
                if view.best[0] >= base[0]:  # no appended pass helped: stop
                    break
        except BudgetExhausted:
            pass
        return view.best[1] if view.best is not None else start

    def _search(
        self, ctx: TrialContext, k: int, full: Config, start: tuple, allowance: int, rnd: int
    ) -> ModuleObjective:
        """Run the searcher on module ``k`` from ``start`` within ``allowance`` (in round
        1, from the best of ``start``, the portfolio and the screen)."""
        p = list(ctx.param_space)[k]
        assert isinstance(p, SequenceParam)
        view = ModuleObjective(ctx.objective, ParamSpace([p]), full, p.name, k, allowance)
        if rnd == 1 and (self.portfolio or self.screen):
            start = self._prescreen(view, p, start)
        space = ParamSpace([SequenceParam("passes", p.choices, p.min_len, p.max_len, start)])
        view._space = space
        rng = np.random.default_rng(stable_int("per-module", ctx.seed, p.name, rnd))
        run_on_module(ctx, view, space, self.searcher, self.searcher_options, rng)
        return view

    def run(self, ctx: TrialContext) -> Config:
        params = list(ctx.param_space)
        full: Config = ctx.param_space.default()
        n = len(params)
        first_budget = int(self.first_share * ctx.objective.samples_left)
        spent, improved = 0, []
        for k, p in enumerate(params):
            assert isinstance(p, SequenceParam)
            full[p.name] = p.validate(self.start) if self.start is not None else p.default
            allowance = min((first_budget - spent) // (n - k), ctx.objective.samples_left)
            if allowance < 1:
                continue
            view = self._search(ctx, k, full, full[p.name], allowance, 1)
            spent += view.samples_used
            if view.best is not None:
                start_loss = view.first_loss
                full[p.name] = view.best[1]
                if view.best[0] < start_loss:
                    improved.append(k)
            ctx.objective.propose(full)
        second = improved or list(range(n))
        if self.first_share < 1.0:
            for j, k in enumerate(second):
                allowance = ctx.objective.samples_left // (len(second) - j)
                if allowance < 1:
                    continue
                p = params[k]
                view = self._search(ctx, k, full, full[p.name], allowance, 2)
                spent += view.samples_used
                if view.best is not None:
                    full[p.name] = view.best[1]
                ctx.objective.propose(full)
        self.set_diagnostic("modules", n)
        self.set_diagnostic("improved_in_round_1", len(improved))
        self.set_diagnostic("compilations_per_module", spent / max(n, 1))
        return full
