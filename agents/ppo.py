"""``ppo``: stable-baselines3 PPO on the task's parameter-editing env (envs/gym_envs.py).

The policy edits the configuration step by step from the default one (H steps per
episode, one minibatch evaluation per step, charged to the trial's budget). Training
ends after the last step the budget can pay for (SB3 would otherwise finish its whole
rollout); the best configuration any step simulated is proposed as it is found and
returned.
"""

from __future__ import annotations

from typing import Any

from stable_baselines3 import PPO

from agents.sb3_common import (
    RLOptions,
    best_or_default,
    learn_within_budget,
    make_env,
    make_ppo,
    sb3_versions,
    torch_threads,
)
from envs.param_env import ParamTuningEnv
from harness.agent import Agent, TrialContext
from harness.params import Config


class PPOAgent(Agent):
    name = "ppo"
    description = "stable-baselines3 PPO editing the configuration from the default one"

    def __init__(self, **options: Any) -> None:
        self.opts, rest = RLOptions.split(options)
        if rest:
            raise ValueError(f"agent {self.name!r}: unknown options {sorted(rest)}")
        self.model: PPO | None = None  # kept after run() for inspection (tests)
        self.env: ParamTuningEnv | None = None

    def run(self, ctx: TrialContext) -> Config:
        with torch_threads(1):
            self.env = env = make_env(ctx, self.opts)
            self.model = make_ppo(env, ctx, self.opts)
            learn_within_budget(self.model, env, self.opts)
        return best_or_default(env)

    def versions(self) -> dict[str, str]:
        return sb3_versions()
