"""``bc``: behavioral cloning of the default-table expert on SB3's ActorCriticPolicy.

As MLGO warm-starts from the compiler's own heuristic, the expert here is the default
(expert-set) parameter table and its edit trajectory: from a uniformly random start, it
moves every parameter straight back toward its default value, ``step_size`` per step
(:func:`agents.rl.params.default_expert_action`).

Budget item (documented): the expert's transitions are real env transitions, since the
observation holds the minibatch loss, so generating them simulates and is charged:
``expert_episodes`` episodes x at most (1 + H) evaluations (the random start and H
steps) x k samples (k = minibatch size; configurations already simulated are free).
The expert's trajectories also serve as a random-start search: their best configuration
counts. The policy (an SB3 ``ActorCriticPolicy``, built as PPO's, so ``bc+ppo`` can
fine-tune it) is trained by MSE on the expert's actions (the ``imitation`` package
cannot be installed beside gymnasium 1.x), its critic on the expert's returns. Then the
cloned policy runs ``eval_episodes`` deterministic episodes from the default start; the
best configuration simulated is returned. The rest of the budget is left unused.
"""

from __future__ import annotations

from typing import Any

from stable_baselines3 import PPO

from agents.rl.params import (
    ExpertData,
    ParamEnvSettings,
    best_or_default,
    expert_rollouts,
    make_param_env,
    run_policy,
)
from agents.rl.stack import (
    BCSettings,
    PPOSettings,
    behavior_clone,
    make_ppo,
    reject_unknown,
    sb3_versions,
    split_settings,
)
from agents.torchutil import torch_session
from envs.param_env import ParamTuningEnv
from harness.agent import Agent, TrialContext
from harness.params import Config


class BCAgent(Agent):
    """Options: the env's and PPO's settings (as ``ppo``), :class:`BCSettings`, plus
    ``expert_episodes`` (8) and ``eval_episodes`` (1)."""

    name = "bc"
    description = "behavioral cloning of the default-table expert (SB3 ActorCriticPolicy)"
    quick_options = {"bc_epochs": 40, "n_steps": 16, "batch_size": 16}

    def __init__(self, expert_episodes: int = 8, eval_episodes: int = 1, **options: Any) -> None:
        super().__init__()
        if expert_episodes < 0 or eval_episodes < 0:
            raise ValueError("expert_episodes and eval_episodes must be >= 0")
        (self.env_settings, self.ppo_settings, self.bc_settings), rest = split_settings(
            options, ParamEnvSettings, PPOSettings, BCSettings
        )
        reject_unknown(self.name, rest)
        self.expert_episodes = int(expert_episodes)
        self.eval_episodes = int(eval_episodes)
        self.model: PPO | None = None  # kept after run() for inspection (tests)
        self.env: ParamTuningEnv | None = None
        self.expert: ExpertData | None = None
        self.bc_history: list[float] = []

    def clone(self, ctx: TrialContext) -> tuple[ParamTuningEnv, PPO]:
        """Collect the expert's transitions (charged) and fit a fresh PPO's policy."""
        self.env = env = make_param_env(ctx, self.env_settings)
        self.model = model = make_ppo(env, ctx, self.ppo_settings)
        gamma = self.ppo_settings.gamma
        self.expert = expert_rollouts(env, self.expert_episodes, ctx.rng, gamma)
        result = behavior_clone(
            model.policy,
            self.expert.obs,
            self.expert.actions,
            self.bc_settings,
            seed=ctx.seed,
            returns=self.expert.returns,
        )
        self.bc_history = result.history
        self.set_diagnostic("bc_transitions", len(self.expert))
        if result.history:
            self.set_diagnostic("bc_final_loss", result.history[-1])
        return env, model

    def run(self, ctx: TrialContext) -> Config:
        with torch_session(ctx):
            env, model = self.clone(ctx)
            run_policy(env, model.policy, self.eval_episodes)
        return best_or_default(env)

    def versions(self) -> dict[str, str]:
        return sb3_versions()
