"""``ppo``: stable-baselines3 PPO on the task's parameter-editing env (envs/param_env.py).

The policy edits the configuration step by step from the default one (H steps per
episode, one minibatch evaluation per step, charged to the trial's budget). Training
ends after the last step the budget can pay for (SB3 would otherwise finish its whole
rollout); the best configuration any step simulated is proposed as it is found and
returned.
"""

from __future__ import annotations

from typing import Any

from stable_baselines3 import PPO

from agents.rl.params import (
    ParamEnvSettings,
    best_or_default,
    make_param_env,
    step_cap,
)
from agents.rl.stack import (
    PPOSettings,
    learn_within_budget,
    make_ppo,
    reject_unknown,
    split_settings,
)
from agents.rl.stack import sb3_versions as _sb3_versions
from agents.torchutil import torch_session
from envs.param_env import ParamTuningEnv
from harness.agent import Agent, TrialContext
from harness.params import Config


class PPOAgent(Agent):
    """Options: every field of :class:`~agents.rl.params.ParamEnvSettings` (env shape)
    and of :class:`~agents.rl.stack.PPOSettings` (PPO), with their defaults."""

    name = "ppo"
    description = "stable-baselines3 PPO editing the configuration from the default one"
    quick_options = {"n_steps": 16, "batch_size": 16, "n_epochs": 2}

    def __init__(self, **options: Any) -> None:
        super().__init__()
        (self.env_settings, self.ppo_settings), rest = split_settings(
            options, ParamEnvSettings, PPOSettings
        )
        reject_unknown(self.name, rest)
        self.model: PPO | None = None  # kept after run() for inspection (tests)
        self.env: ParamTuningEnv | None = None

    def run(self, ctx: TrialContext) -> Config:
        with torch_session(ctx):
            self.env = env = make_param_env(ctx, self.env_settings)
            self.model = make_ppo(env, ctx, self.ppo_settings)
            cap = step_cap(env, self.env_settings, self.ppo_settings.n_steps)
            learn_within_budget(self.model, cap, env.can_pay_step)
        return best_or_default(env)

    def versions(self) -> dict[str, str]:
        return _sb3_versions()
