"""``pass-ppo``: PPO (SB3) from scratch on the pass-ordering env, one training module
per episode (one compilation); the learned actor is returned as the task's policy
weights and applied to the test modules without search (the generalization setting)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from stable_baselines3 import PPO

from agents.passes.rl import (
    PASS_PPO,
    PeriodicProposal,
    PolicyShape,
    actor_config,
    make_pass_env,
    policy_shape,
    ppo_settings_for,
)
from agents.rl.stack import PPOSettings, learn_within_budget, make_ppo, sb3_versions
from agents.torchutil import torch_session
from envs.passes.env import PassOrderingEnv
from harness.agent import Agent, TrialContext
from harness.params import Config
from harness.task import POLICY, Task

# Far more steps than any budget allows: the budget (BudgetExhausted at the next
# episode's reset) ends training, not SB3.
_UNBOUNDED_STEPS = 10**9


class PassAgent(Agent):
    """Shared options of the pass-* agents: PPO settings (defaults ``PASS_PPO``; the
    actor's shape always follows the task's policy) and ``propose_every`` (samples
    between anytime-curve points)."""

    requires = frozenset({POLICY})

    def __init__(self, propose_every: int = 200, **ppo: Any) -> None:
        super().__init__()
        if propose_every < 1:
            raise ValueError("propose_every must be >= 1")
        ppo.pop("net_arch", None)  # the task's policy shape decides the actor
        self.ppo_settings: PPOSettings = replace(PASS_PPO, **ppo)
        self.propose_every = int(propose_every)

    @classmethod
    def supports(cls, task: Task) -> tuple[bool, str]:
        ok, why = super().supports(task)
        if ok and policy_shape(task.param_space) is None:
            return False, "needs the passes task with policy = 'linear' or 'mlp'"
        return ok, why

    def shape(self, ctx: TrialContext) -> PolicyShape:
        shape = policy_shape(ctx.param_space)
        assert shape is not None
        return shape

    def train_ppo(
        self, ctx: TrialContext, warm_start: Callable[[PPO, PassOrderingEnv], None] | None = None
    ) -> Config:
        """Train PPO until the budget is spent (``warm_start(model, env)`` first, if
        given); returns the actor as a configuration."""
        shape = self.shape(ctx)
        env = make_pass_env(ctx, shape)
        try:
            model = make_ppo(env, ctx, ppo_settings_for(shape, self.ppo_settings))
            if warm_start is not None:
                warm_start(model, env)
            hook = PeriodicProposal(ctx, shape, self.propose_every)
            learn_within_budget(model, _UNBOUNDED_STEPS, lambda: True, on_rollout_end=hook)
        finally:
            env.close()
        return actor_config(model, shape)

    def versions(self) -> dict[str, str]:
        return sb3_versions()


class PassPPOAgent(PassAgent):
    name = "pass-ppo"
    description = (
        "PPO on tunebench/PassOrdering-v0 (Autophase observations, one module = one sample)"
    )

    def run(self, ctx: TrialContext) -> Config:
        with torch_session(ctx):
            config = self.train_ppo(ctx)
        ctx.objective.propose(config)
        return config
