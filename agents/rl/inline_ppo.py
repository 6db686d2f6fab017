"""``inline-ppo``: PPO (SB3) from scratch on the inlining environment, as MLGO trains
its inliner for size; the learned actor (linear or one tanh layer, the form of the
task's policy space) is returned as the task's policy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from stable_baselines3 import PPO

from agents.rl.inlining import (
    INLINE_PPO,
    PeriodicProposal,
    actor_config_and_clip,
    is_inlining_space,
    make_inline_env,
    policy_spec,
    ppo_for,
)
from agents.rl.stack import PPOSettings, learn_within_budget, make_ppo, sb3_versions
from agents.torchutil import torch_session
from envs.inlining.env import InliningEnv
from harness.agent import Agent, TrialContext
from harness.params import Config
from harness.task import POLICY, Task

# Far more steps than any budget allows: the budget (BudgetExhausted at the next
# module's reset), not SB3, ends training.
_UNBOUNDED_STEPS = 10**9


class InlineAgent(Agent):
    """Shared option handling of the inline-* agents: PPO settings (defaults
    :data:`~agents.rl.inlining.INLINE_PPO`), ``include_default`` (observe the
    heuristic's decision; MLGO does not) and ``propose_every`` (samples between
    anytime-curve points)."""

    requires = frozenset({POLICY})

    def __init__(self, include_default: bool = False, propose_every: int = 40, **ppo: Any) -> None:
        super().__init__()
        if propose_every < 1:
            raise ValueError("propose_every must be >= 1")
        if isinstance(ppo.get("net_arch"), dict):
            ppo["net_arch"] = {k: tuple(v) for k, v in ppo["net_arch"].items()}
        self.ppo_settings: PPOSettings = replace(INLINE_PPO, **ppo)
        self.include_default = bool(include_default)
        self.propose_every = int(propose_every)

    @classmethod
    def supports(cls, task: Task) -> tuple[bool, str]:
        ok, why = super().supports(task)
        if ok and not is_inlining_space(task.param_space):
            return False, "needs the inlining task's policy space"
        return ok, why

    def train_ppo(
        self, ctx: TrialContext, warm_start: Callable[[PPO, InliningEnv], None] | None = None
    ) -> Config:
        """Train PPO until the budget is spent (``warm_start(model, env)`` first, if
        given); returns the actor as a configuration."""
        env = make_inline_env(ctx, self.include_default)
        spec = policy_spec(ctx.param_space)
        try:
            model = make_ppo(env, ctx, ppo_for(self.ppo_settings, spec))
            if warm_start is not None:
                warm_start(model, env)
            hook = PeriodicProposal(ctx, spec, self.include_default, self.propose_every)
            learn_within_budget(model, _UNBOUNDED_STEPS, lambda: True, on_rollout_end=hook)
        finally:
            env.close()
        return self.final_config(model, ctx)

    def final_config(self, model: PPO, ctx: TrialContext) -> Config:
        """The actor as a configuration (diagnostic: hidden weights clipped)."""
        config, clipped = actor_config_and_clip(
            model, policy_spec(ctx.param_space), self.include_default
        )
        self.set_diagnostic("clipped_weight_fraction", clipped)
        return config

    def versions(self) -> dict[str, str]:
        return sb3_versions()


class InlinePPOAgent(InlineAgent):
    name = "inline-ppo"
    description = "PPO on tunebench/Inlining-v0, actor in the policy's form (1 module = 1 sample)"

    def run(self, ctx: TrialContext) -> Config:
        with torch_session(ctx):
            config = self.train_ppo(ctx)
        ctx.objective.propose(config)
        return config
