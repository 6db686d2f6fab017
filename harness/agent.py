"""Agent interfaces: every optimizer is one class with a registered name.

Black-box agents implement :class:`AskTellAgent` (``ask`` / ``tell``); the base class
owns the loop and stops it when the budget cannot pay for another evaluation, so no
agent can overspend. Learning agents implement :class:`Agent` and use the budgeted
objective directly.

Every agent:

- takes its options as explicit keyword arguments with documented defaults, checked in
  ``__init__`` (a bad option fails when the suite is parsed, before anything runs);
- says which tasks it can work on (:meth:`Agent.supports`, benchopt's ``skip``): by
  default, those declaring every capability in :attr:`Agent.requires`;
- may report named diagnostics (:meth:`Agent.diagnostics`), stored as ``diag_*``
  columns of its trial record and shown in the report;
- returns a configuration of the task's space, or (predictor track) a predictor.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from harness.budget import BudgetedObjective, TimeLimitReached
from harness.params import Config, ConstraintViolation, ParamSpace

if TYPE_CHECKING:
    from harness.task import Predictor, Task


@dataclass
class TrialContext:
    """What an agent gets for one trial.

    Attributes:
        objective: the budgeted objective (the only route to the task).
        param_space: the task's parameters.
        seed: the trial's seed; ``rng`` is seeded from it.
        eval_items: indices into the train split that a black-box evaluation uses
            (int64 [k]); fixed for the trial and shared by all agents of one seed.
        rng: numpy generator for the agent's random choices.
        device: ``cpu`` or ``cuda``: where torch agents put their models.
        threads: CPU threads the agent may use (torch's intra-op threads); trials run
            in parallel, one core each by default.
        task_facts: public facts about the task (``Task.facts``), e.g. ``{"cpu":
            "znver4"}``; empty when the task states none.
    """

    objective: BudgetedObjective
    param_space: ParamSpace
    seed: int
    eval_items: np.ndarray
    rng: np.random.Generator
    device: str = "cpu"
    threads: int = 1
    task_facts: dict[str, str] = field(default_factory=dict)


class Agent(ABC):
    """An optimizer. Subclasses set ``name``/``description`` and implement ``run``.

    Options from the suite file arrive as keyword arguments to ``__init__``; an agent
    without options keeps this ``__init__``, which refuses any.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    # Capabilities a task must declare for this agent (see harness.task).
    requires: ClassVar[frozenset[str]] = frozenset()
    # Options for a fast smoke run (the contract test, demos): the same code paths with
    # less work, e.g. fewer training epochs; never used by suites.
    quick_options: ClassVar[dict[str, Any]] = {}
    # Resources a trial of this agent asks a distributed executor for, e.g.
    # {"GPU": 1}; resources a cluster lacks are dropped (see harness.executor_ray).
    resources: ClassVar[dict[str, float]] = {}

    def __init__(self) -> None:
        self._diagnostics: dict[str, float] = {}

    @classmethod
    def supports(cls, task: Task) -> tuple[bool, str]:
        """(True, "") if this agent can work on ``task``, else (False, why)."""
        missing = sorted(cls.requires - set(task.capabilities))
        if missing:
            return False, f"needs task capabilities {missing}"
        return True, ""

    @abstractmethod
    def run(self, ctx: TrialContext) -> Config | Predictor | None:
        """Optimize within ``ctx.objective``'s budget; return the chosen configuration
        (or a predictor, on tasks with the ``predictor`` capability).

        May also end by letting ``BudgetExhausted`` propagate: the harness then scores
        the last configuration passed to ``ctx.objective.propose``.
        """

    def diagnostics(self) -> dict[str, float]:
        """Named numbers about the run (e.g. a surrogate's error) for the report."""
        return dict(getattr(self, "_diagnostics", {}))

    def set_diagnostic(self, name: str, value: float) -> None:
        """Record one diagnostic (a finite or NaN float)."""
        if not hasattr(self, "_diagnostics"):
            self._diagnostics = {}
        self._diagnostics[name] = float(value)

    def versions(self) -> dict[str, str]:
        """Versions of the libraries the agent uses."""
        return {}


# Consecutive asks that break the space's constraint before an ask/tell agent is
# stopped (a sampler that cannot find the valid region would otherwise spin forever).
MAX_INVALID_ASKS = 1000
# What an agent is told for a configuration that breaks the constraint (not charged).
INVALID_LOSS = math.inf


class AskTellAgent(Agent):
    """A black-box agent: the base class evaluates each asked configuration on the
    trial's ``eval_items`` of the train split and tells the agent its loss.

    A configuration that breaks the space's constraint is not evaluated (nor charged):
    the agent is told ``inf``; after :data:`MAX_INVALID_ASKS` such asks in a row the
    loop stops."""

    # At most this many configurations are asked before their losses are told (1:
    # strictly sequential). An agent whose asks do not depend on the losses of the same
    # batch (random search, one CMA-ES population) sets more and may override
    # :meth:`ask_many`: the batch is evaluated in one request (``objective.loss_many``),
    # one channel round trip instead of one per configuration, and told in ask order.
    ask_batch: ClassVar[int] = 1

    @abstractmethod
    def setup(self, ctx: TrialContext) -> None:
        """Prepare for a trial (create the sampler, seeded with ``ctx.seed``)."""

    @abstractmethod
    def ask(self) -> Config:
        """Next configuration to evaluate."""

    def ask_many(self, n: int) -> list[Config]:
        """The next 1 to ``n`` configurations, asked before any of their losses is told
        (called when :attr:`ask_batch` > 1); their losses are told in this order."""
        return [self.ask() for _ in range(n)]

    @abstractmethod
    def tell(self, config: Config, loss: float) -> None:
        """The training loss of a configuration returned by ``ask``."""

    def finish(self) -> None:  # noqa: B027 - optional hook
        """Called once after the loop (close files, databases)."""

    def run(self, ctx: TrialContext) -> Config | None:
        self.setup(ctx)
        objective = ctx.objective
        cost = len(ctx.eval_items)
        # Wrapping objectives (per-item searches) evaluate one at a time.
        batched = self.ask_batch > 1 and hasattr(objective, "loss_many")
        best: tuple[Config, float] | None = None
        invalid_run = invalid_total = 0
        try:
            while objective.samples_left >= cost and cost > 0:
                n = min(self.ask_batch, objective.samples_left // cost) if batched else 1
                asked = self.ask_many(n) if n > 1 else [self.ask()]
                valid: list[tuple[int, Config]] = []  # (position in asked, validated)
                for pos, one in enumerate(asked):
                    try:
                        valid.append((pos, ctx.param_space.validate(one)))
                    except ConstraintViolation:
                        pass
                configs = [c for _, c in valid]
                try:
                    losses = _losses(objective, configs, ctx.eval_items, best)
                except TimeLimitReached:
                    break
                stop = len(losses) < len(configs)  # the budget or time limit stopped it
                # Told in ask order: the invalid ones (not charged) among the losses.
                told = {pos: (c, loss) for (pos, c), loss in zip(valid, losses, strict=False)}
                sent = {pos for pos, _ in valid}
                for pos, one in enumerate(asked):
                    if pos in told:
                        config, loss = told[pos]
                        invalid_run = 0
                        self.tell(config, loss)
                        if best is None or loss < best[1]:
                            best = (config, loss)
                            if len(configs) == 1:  # loss_many proposes a batch's own
                                objective.propose(config, loss)
                    elif pos in sent:  # not evaluated: the budget stopped the batch
                        stop = True
                        break
                    else:
                        invalid_run += 1
                        invalid_total += 1
                        self.tell(one, INVALID_LOSS)
                        if invalid_run >= MAX_INVALID_ASKS:
                            stop = True
                            break
                if stop:
                    break
        finally:
            self.finish()
            if invalid_total:
                self.set_diagnostic("invalid_asks", invalid_total)
        return best[0] if best else None


def _losses(
    objective: BudgetedObjective,
    configs: list[Config],
    items: np.ndarray,
    best: tuple[Config, float] | None,
) -> list[float]:
    """Training losses of one batch of valid configurations, in order (shorter when the
    budget stopped it); a batch of several is one request, which proposes its own
    improvements on ``best``."""
    if len(configs) > 1:
        return objective.loss_many(
            configs,
            "train",
            items,
            propose_improvements=True,
            best_loss=None if best is None else best[1],
        )
    return [objective.loss(c, "train", items) for c in configs]
