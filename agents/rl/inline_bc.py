"""``inline-bc``: behavioral cloning of the -Oz heuristic (MLGO's warm start).

Compiles training modules under the heuristic (one sample each) recording every call
site's features and the heuristic's decision, then fits SB3's actor (linear or one tanh
layer, the task's policy form) to those decisions by cross-entropy. By default the actor
does not see the heuristic's decision (as in MLGO), so it must imitate it from the
features alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3 import PPO

from agents.rl.inline_ppo import InlineAgent
from agents.rl.inlining import (
    actor_config,
    collect_demonstrations,
    make_inline_env,
    policy_spec,
    ppo_for,
)
from agents.rl.stack import BCSettings, behavior_clone, make_ppo
from agents.torchutil import torch_session
from envs.inlining.env import InliningEnv
from harness.agent import TrialContext
from harness.params import Config

# Cloning a linear actor on full batches: 60 passes at lr 0.01 fit the heuristic.
INLINE_BC = BCSettings(bc_epochs=60, bc_learning_rate=0.01, bc_batch_size=256)


class InlineBCAgent(InlineAgent):
    """Options: those of ``inline-ppo``, ``demo_modules`` (modules compiled under the
    heuristic; 0 = all train modules) and :class:`BCSettings` (``bc_epochs`` 60,
    ``bc_learning_rate`` 0.01, ``bc_batch_size`` 256)."""

    name = "inline-bc"
    description = "behavioral cloning of the -Oz heuristic into the policy's form (SB3 actor)"

    def __init__(
        self,
        demo_modules: int = 0,
        bc_epochs: int = INLINE_BC.bc_epochs,
        bc_learning_rate: float = INLINE_BC.bc_learning_rate,
        bc_batch_size: int = INLINE_BC.bc_batch_size,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if demo_modules < 0:
            raise ValueError("demo_modules must be >= 0")
        self.demo_modules = int(demo_modules)
        self.bc_settings = BCSettings(bc_epochs, bc_learning_rate, bc_batch_size)

    def clone(self, ctx: TrialContext, model: PPO, env: InliningEnv, n_modules: int) -> None:
        """Collect demonstrations on ``n_modules`` modules and fit ``model``'s actor."""
        obs, actions = collect_demonstrations(env, n_modules, ctx.rng)
        result = behavior_clone(model.policy, obs, actions, self.bc_settings, seed=ctx.seed)
        spec = policy_spec(ctx.param_space)
        ctx.objective.propose(actor_config(model, spec, self.include_default))
        self.set_diagnostic("bc_train_accuracy", result.accuracy)
        self.set_diagnostic("bc_decisions", len(actions))

    def run(self, ctx: TrialContext) -> Config:
        with torch_session(ctx):
            env = make_inline_env(ctx, self.include_default)
            model = make_ppo(env, ctx, ppo_for(self.ppo_settings, policy_spec(ctx.param_space)))
            n_train = ctx.objective.n_items("train")
            n = self.demo_modules or n_train
            n = int(np.clip(n, 1, min(n_train, ctx.objective.samples_left)))
            try:
                self.clone(ctx, model, env, n)
            finally:
                env.close()
        return self.final_config(model, ctx)
