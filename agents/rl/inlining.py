"""Adapter: the inlining env (envs/inlining/env.py) for the RL stack.

The policy the inlining agents learn is SB3's ``ActorCriticPolicy`` with a *linear*
actor (``net_arch = {"pi": [], "vf": [...]}``): the action logits are ``W z + b`` over
the environment's observation, so "inline" wins iff ``(W1 - W0) z + (b1 - b0) > 0``.
That is exactly a configuration of the task's linear policy space
(:func:`actor_config`), which the agent returns and the harness scores on test modules.
Every compilation goes through the trial's budgeted objective (``BudgetedSource``): an
episode is one sample; demonstrations for cloning are samples too.

The expert behavioral cloning imitates is the -Oz heuristic: its decision is one of the
raw features LLVM hands the policy (:func:`collect_demonstrations`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from stable_baselines3 import PPO

from agents.rl.stack import PPOSettings
from envs.inlining.env import BudgetedSource, InliningEnv
from envs.inlining.host import DEFAULT_INDEX
from envs.inlining.policy import ALL_FEATURES, linear_config
from harness.agent import TrialContext
from harness.budget import BudgetExhausted
from harness.params import Config, ParamSpace

# PPO as the inlining agents use it: the only reward is at the end of a module, so no
# discount over call sites; a linear actor and a small value network.
INLINE_PPO = PPOSettings(
    learning_rate=3e-3,
    n_steps=256,  # call-site decisions per rollout (a few modules)
    batch_size=64,
    n_epochs=4,
    gamma=1.0,
    gae_lambda=0.95,
    ent_coef=0.01,
    net_arch={"pi": (), "vf": (32, 32)},
    log_std_init=None,
)


def policy_features(space: ParamSpace) -> tuple[str, ...]:
    """The features of the inlining task's policy space, in parameter order."""
    feats = tuple(n[len("w_") :] for n in space.names if n.startswith("w_") and n != "w_default")
    unknown = [f for f in feats if f not in ALL_FEATURES]
    if not feats or unknown or "bias" not in space.names:
        raise ValueError("the inline-* agents need the inlining task's parameter space")
    return feats


def is_inlining_space(space: ParamSpace) -> bool:
    try:
        policy_features(space)
    except ValueError:
        return False
    return True


def make_inline_env(ctx: TrialContext, include_default: bool) -> InliningEnv:
    """The environment over the train split, each episode charged to the budget."""
    return InliningEnv(
        BudgetedSource(ctx.objective, "train"),
        features=policy_features(ctx.param_space),
        include_default=include_default,
    )


def actor_config(model: PPO, features: Sequence[str], include_default: bool) -> Config:
    """The task configuration equal to the deterministic (argmax) linear actor."""
    net = model.policy.action_net
    w = net.weight.detach().cpu().numpy().astype(np.float64)
    b = net.bias.detach().cpu().numpy().astype(np.float64)
    diff, bias = w[1] - w[0], float(b[1] - b[0])
    k = len(features)
    w_default = float(diff[k]) if include_default else 0.0
    return linear_config(diff[:k], bias, features, w_default=w_default)


class PeriodicProposal:
    """A rollout hook proposing the current actor as the incumbent every ``every``
    samples (the anytime curve)."""

    def __init__(
        self, ctx: TrialContext, features: Sequence[str], include_default: bool, every: int
    ) -> None:
        self.ctx, self.features, self.include_default = ctx, features, include_default
        self.every, self._next = max(1, every), max(1, every)

    def __call__(self, model: PPO) -> None:
        if self.ctx.objective.samples_used >= self._next:
            self._next = self.ctx.objective.samples_used + self.every
            self.ctx.objective.propose(actor_config(model, self.features, self.include_default))


def collect_demonstrations(
    env: InliningEnv, n_modules: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Observations float32 [n, dim] and the heuristic's decisions int64 [n] from
    compiling up to ``n_modules`` train modules under the heuristic (1 sample each;
    stops early when the budget runs out)."""
    obs_list: list[np.ndarray] = []
    act_list: list[int] = []
    order = rng.permutation(len(env.module_pool))[:n_modules]
    for i in order:
        try:
            obs, _ = env.reset(options={"module": int(env.module_pool[int(i)])})
        except BudgetExhausted:
            break
        while True:
            raw = env.pending_features()
            action = int(raw[DEFAULT_INDEX] != 0)
            obs_list.append(obs)
            act_list.append(action)
            obs, _, done, _, _ = env.step(action)
            if done:
                break
    if not obs_list:
        return np.zeros((0, env.observation_space.shape[0]), np.float32), np.zeros(0, np.int64)
    return np.stack(obs_list), np.array(act_list, dtype=np.int64)
