"""``bc``: behavioral cloning of the default-table expert on SB3's ActorCriticPolicy.

As MLGO warm-starts from the compiler's own heuristic, the expert here is the default
(expert-set) parameter table and its edit trajectory: from a uniformly random start, it
moves every parameter straight back toward its default value, ``step_size`` per step
(:meth:`ParamTuningEnv.expert_action`).

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

from agents.sb3_common import (
    ExpertData,
    RLOptions,
    behavior_clone,
    best_or_default,
    expert_rollouts,
    make_env,
    make_ppo,
    run_policy,
    sb3_versions,
    torch_threads,
)
from envs.param_env import ParamTuningEnv
from harness.agent import Agent, TrialContext
from harness.params import Config


class BCAgent(Agent):
    """Options: the shared RL options (agents/sb3_common.py) plus ``expert_episodes``,
    ``bc_epochs``, ``bc_learning_rate``, ``bc_batch_size``, ``eval_episodes``."""

    name = "bc"
    description = "behavioral cloning of the default-table expert (SB3 ActorCriticPolicy)"

    def __init__(self, **options: Any) -> None:
        self.opts, rest = RLOptions.split(options)
        self.expert_episodes = int(rest.pop("expert_episodes", 8))
        self.bc_epochs = int(rest.pop("bc_epochs", 1000))
        self.bc_learning_rate = float(rest.pop("bc_learning_rate", 3e-3))
        self.bc_batch_size = int(rest.pop("bc_batch_size", 64))
        self.eval_episodes = int(rest.pop("eval_episodes", 1))
        if rest:
            raise ValueError(f"agent {self.name!r}: unknown options {sorted(rest)}")
        self.model: PPO | None = None  # kept after run() for inspection (tests)
        self.env: ParamTuningEnv | None = None
        self.expert: ExpertData | None = None
        self.bc_history: list[float] = []

    def clone(self, ctx: TrialContext) -> tuple[ParamTuningEnv, PPO]:
        """Collect the expert's transitions (charged) and fit a fresh PPO's policy."""
        self.env = env = make_env(ctx, self.opts)
        self.model = model = make_ppo(env, ctx, self.opts)
        self.expert = expert_rollouts(env, self.expert_episodes, ctx.rng, self.opts.gamma)
        self.bc_history = behavior_clone(
            model.policy,
            self.expert,
            epochs=self.bc_epochs,
            learning_rate=self.bc_learning_rate,
            batch_size=self.bc_batch_size,
            seed=ctx.seed,
        )
        return env, model

    def run(self, ctx: TrialContext) -> Config:
        with torch_threads(1):
            env, model = self.clone(ctx)
            run_policy(env, model.policy, self.eval_episodes)
        return best_or_default(env)

    def versions(self) -> dict[str, str]:
        return sb3_versions()
