"""Agent interfaces: every optimizer is one class with a registered name.

Black-box agents implement :class:`AskTellAgent` (``ask`` / ``tell``); the base class
owns the loop and stops it when the budget cannot pay for another evaluation, so no
agent can overspend. Learning agents implement :class:`Agent` and use the budgeted
objective directly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from harness.budget import BudgetedObjective
from harness.params import Config, ParamSpace


@dataclass
class TrialContext:
    """What an agent gets for one trial.

    Attributes:
        objective: the budgeted objective (the only route to the simulator).
        param_space: the task's parameters.
        seed: the trial's seed; ``rng`` is seeded from it.
        eval_items: indices into the train split that a black-box evaluation uses
            (int64 [k]); fixed for the trial and shared by all agents of one seed.
        rng: numpy generator for the agent's random choices.
        device: "cpu" or "cuda" for agents that use torch.
    """

    objective: BudgetedObjective
    param_space: ParamSpace
    seed: int
    eval_items: np.ndarray
    rng: np.random.Generator
    device: str = "cpu"
    extra: dict[str, Any] = field(default_factory=dict)


class Agent(ABC):
    """An optimizer. Subclasses set ``name``/``description`` and implement ``run``.

    Options from the suite file arrive as keyword arguments to ``__init__``.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    # Resources a trial of this agent asks a distributed executor for, e.g.
    # {"GPU": 1}; resources a cluster lacks are dropped (see harness.executor_ray).
    resources: ClassVar[dict[str, float]] = {}

    def __init__(self, **options: Any) -> None:
        if options:
            raise ValueError(f"agent {self.name!r} takes no options, got {sorted(options)}")

    @abstractmethod
    def run(self, ctx: TrialContext) -> Config | None:
        """Optimize within ``ctx.objective``'s budget; return the chosen configuration.

        May also end by letting ``BudgetExhausted`` propagate: the harness then scores
        the last configuration passed to ``ctx.objective.propose``.
        """

    def versions(self) -> dict[str, str]:
        """Versions of the libraries the agent uses."""
        return {}


class AskTellAgent(Agent):
    """A black-box agent: the base class evaluates each asked configuration on the
    trial's ``eval_items`` of the train split and tells the agent its loss."""

    @abstractmethod
    def setup(self, ctx: TrialContext) -> None:
        """Prepare for a trial (create the sampler, seeded with ``ctx.seed``)."""

    @abstractmethod
    def ask(self) -> Config:
        """Next configuration to evaluate."""

    @abstractmethod
    def tell(self, config: Config, loss: float) -> None:
        """The training loss of a configuration returned by ``ask``."""

    def finish(self) -> None:  # noqa: B027 - optional hook
        """Called once after the loop (close files, databases)."""

    def run(self, ctx: TrialContext) -> Config | None:
        self.setup(ctx)
        cost = len(ctx.eval_items)
        best: tuple[Config, float] | None = None
        try:
            while ctx.objective.samples_left >= cost and cost > 0:
                config = ctx.param_space.validate(self.ask())
                loss = ctx.objective.loss(config, "train", ctx.eval_items)
                self.tell(config, loss)
                if best is None or loss < best[1]:
                    best = (config, loss)
                    ctx.objective.propose(config, loss)
        finally:
            self.finish()
        return best[0] if best else None
