"""``pass-bc+ppo``: clone the expert, then improve with PPO from the cloned actor.

A fraction ``bc_fraction`` of the budget (at most one pass over the training modules)
buys demonstrations; PPO, warm-started from the clone, spends the rest.
"""

from __future__ import annotations

from typing import Any

from stable_baselines3 import PPO

from agents.passes.bc import PassBCAgent
from agents.torchutil import torch_session
from envs.passes.env import PassOrderingEnv
from harness.agent import TrialContext
from harness.params import Config


class PassBCPPOAgent(PassBCAgent):
    """Options: those of ``pass-bc`` plus ``bc_fraction`` (0.25)."""

    name = "pass-bc+ppo"
    description = "behavioral cloning of -Oz's pipeline order, then PPO from the clone"

    def __init__(self, bc_fraction: float = 0.25, **options: Any) -> None:
        super().__init__(**options)
        if not 0.0 < bc_fraction <= 1.0:
            raise ValueError("bc_fraction must be in (0, 1]")
        self.bc_fraction = float(bc_fraction)

    def run(self, ctx: TrialContext) -> Config:
        n_train = ctx.objective.n_items("train")
        n_demo = max(1, min(n_train, int(self.bc_fraction * ctx.objective.samples_left)))

        def warm_start(model: PPO, env: PassOrderingEnv) -> None:
            self.clone(ctx, model, env, n_demo)

        with torch_session(ctx):
            config = self.train_ppo(ctx, warm_start)
        ctx.objective.propose(config)
        return config
