"""``pass-bc``: behavioral cloning of -Oz's pipeline order.

Runs the expert (``oz-order``: -Oz's passes one by one in pipeline order; ``oz``: the
``-Oz`` action, then STOP) on training modules, one compilation each, recording every
observation and the expert's action, and fits the actor to them by cross-entropy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3 import PPO

from agents.passes.ppo import PassAgent
from agents.passes.rl import (
    EXPERTS,
    actor_config,
    collect_demonstrations,
    expert_sequence,
    make_pass_env,
    ppo_settings_for,
)
from agents.rl.stack import BCSettings, behavior_clone, make_ppo
from agents.torchutil import torch_session
from envs.passes.env import PassOrderingEnv
from harness.agent import TrialContext
from harness.params import Config

PASS_BC = BCSettings(bc_epochs=200, bc_learning_rate=3e-3, bc_batch_size=256)


class PassBCAgent(PassAgent):
    """Options: those of ``pass-ppo``, ``expert`` (``oz-order`` or ``oz``),
    ``demo_modules`` (modules the expert compiles; 0 = as many as the budget allows,
    at most every training module once) and :class:`BCSettings`."""

    name = "pass-bc"
    description = "behavioral cloning of -Oz's pipeline order into the task's policy network"

    def __init__(
        self,
        expert: str = "oz-order",
        demo_modules: int = 0,
        bc_epochs: int = PASS_BC.bc_epochs,
        bc_learning_rate: float = PASS_BC.bc_learning_rate,
        bc_batch_size: int = PASS_BC.bc_batch_size,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if expert not in EXPERTS:
            raise ValueError(f"expert must be one of {EXPERTS}")
        if demo_modules < 0:
            raise ValueError("demo_modules must be >= 0")
        self.expert, self.demo_modules = expert, int(demo_modules)
        self.bc_settings = BCSettings(bc_epochs, bc_learning_rate, bc_batch_size)

    def clone(self, ctx: TrialContext, model: PPO, env: PassOrderingEnv, n_modules: int) -> None:
        """Demonstrations on ``n_modules`` modules, then fit ``model``'s actor."""
        shape = self.shape(ctx)
        expert = expert_sequence(self.expert, shape.actions())
        obs, actions, ratios = collect_demonstrations(env, expert, n_modules, ctx.rng)
        result = behavior_clone(model.policy, obs, actions, self.bc_settings, seed=ctx.seed)
        ctx.objective.propose(actor_config(model, shape))
        self.set_diagnostic("bc_train_accuracy", result.accuracy)
        self.set_diagnostic("bc_pairs", len(actions))
        if ratios:
            self.set_diagnostic("expert_train_oz_ratio", float(np.exp(np.mean(np.log(ratios)))))

    def run(self, ctx: TrialContext) -> Config:
        shape = self.shape(ctx)
        with torch_session(ctx):
            env = make_pass_env(ctx, shape)
            model = make_ppo(env, ctx, ppo_settings_for(shape, self.ppo_settings))
            n_train = ctx.objective.n_items("train")
            n = self.demo_modules or n_train
            n = int(np.clip(n, 1, min(n_train, ctx.objective.samples_left)))
            try:
                self.clone(ctx, model, env, n)
            finally:
                env.close()
        return actor_config(model, shape)
