"""``inline-bc+ppo``: MLGO's recipe: clone the -Oz heuristic, then improve with PPO.

A fraction ``bc_fraction`` of the budget (at most one pass over the train modules)
buys demonstrations; PPO, warm-started from the cloned actor, spends the rest.
"""

from __future__ import annotations

from typing import Any

from stable_baselines3 import PPO

from agents.rl.inline_bc import InlineBCAgent
from agents.torchutil import torch_session
from envs.inlining.env import InliningEnv
from harness.agent import TrialContext
from harness.params import Config


class InlineBCPPOAgent(InlineBCAgent):
    """Options: those of ``inline-bc`` plus ``bc_fraction`` (0.25)."""

    name = "inline-bc+ppo"
    description = "behavioral cloning of -Oz, then PPO from the cloned actor"

    def __init__(self, bc_fraction: float = 0.25, **options: Any) -> None:
        super().__init__(**options)
        if not 0.0 < bc_fraction <= 1.0:
            raise ValueError("bc_fraction must be in (0, 1]")
        self.bc_fraction = float(bc_fraction)

    def run(self, ctx: TrialContext) -> Config:
        n_train = ctx.objective.n_items("train")
        n_demo = max(1, min(n_train, int(self.bc_fraction * ctx.objective.samples_left)))

        def warm_start(model: PPO, env: InliningEnv) -> None:
            self.clone(ctx, model, env, n_demo)

        with torch_session(ctx):
            config = self.train_ppo(ctx, warm_start)
        ctx.objective.propose(config)
        return config
