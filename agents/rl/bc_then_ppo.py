"""The BC-then-PPO recipe (MLGO's) for episodic compiler agents, shared by
``inline-bc+ppo`` and ``pass-bc+ppo``.

A fraction ``bc_fraction`` of the budget (at most one pass over the training modules)
buys demonstrations of the expert; PPO, warm-started from the cloned actor, spends the
rest. The agent class supplies ``clone(ctx, model, env, n_modules)`` (its BC parent) and
``train_ppo(ctx, warm_start)`` (its PPO grandparent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from stable_baselines3 import PPO

from agents.torchutil import torch_session
from harness.agent import TrialContext
from harness.params import Config


class _BCAndPPO(Protocol):
    bc_fraction: float

    def clone(self, ctx: TrialContext, model: PPO, env: Any, n_modules: int) -> None: ...

    def train_ppo(
        self, ctx: TrialContext, warm_start: Callable[[PPO, Any], None] | None = None
    ) -> Config: ...


class BCThenPPO:
    """Mixin placed before a BC agent class; adds the option ``bc_fraction`` (0.25)."""

    def __init__(self, bc_fraction: float = 0.25, **options: Any) -> None:
        super().__init__(**options)
        if not 0.0 < bc_fraction <= 1.0:
            raise ValueError("bc_fraction must be in (0, 1]")
        self.bc_fraction = float(bc_fraction)

    def run(self: _BCAndPPO, ctx: TrialContext) -> Config:
        n_train = ctx.objective.n_items("train")
        n_demo = max(1, min(n_train, int(self.bc_fraction * ctx.objective.samples_left)))

        def warm_start(model: PPO, env: Any) -> None:
            self.clone(ctx, model, env, n_demo)

        with torch_session(ctx):
            config = self.train_ppo(ctx, warm_start)
        ctx.objective.propose(config)
        return config
