"""Shared pieces of the inlining RL agents (``inline-bc``, ``inline-ppo``, ``inline-bc+ppo``).

The policy they learn is SB3's ``ActorCriticPolicy`` with a *linear* actor
(``net_arch = {"pi": [], "vf": [...]}``): the action logits are ``W z + b`` over the
environment's observation, so "inline" wins iff ``(W1 - W0) z + (b1 - b0) > 0``.
That is exactly a configuration of the task's linear policy space, which is what
the agent returns and the harness scores on test modules. Every compilation goes
through the trial's budgeted objective (``BudgetedSource``): an episode is one
sample; demonstrations for cloning are samples too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback

from envs.inlining.host import DEFAULT_INDEX
from envs.inlining.policy import ALL_FEATURES, linear_config
from envs.inlining.env import BudgetedSource, InliningEnv
from harness.agent import TrialContext
from harness.params import Config


def policy_features(ctx: TrialContext) -> tuple[str, ...]:
    """The features of the task's policy space, in parameter order (``w_<feature>``)."""
    feats = tuple(
        n[len("w_") :] for n in ctx.param_space.names if n.startswith("w_") and n != "w_default"
    )
    unknown = [f for f in feats if f not in ALL_FEATURES]
    if not feats or unknown or "bias" not in ctx.param_space.names:
        raise ValueError("the inline-* agents need the inlining task's parameter space")
    return feats


def make_env(ctx: TrialContext, include_default: bool) -> InliningEnv:
    """The environment over the train split, each episode charged to the budget."""
    return InliningEnv(
        BudgetedSource(ctx.objective, "train"),
        features=policy_features(ctx),
        include_default=include_default,
    )


def make_ppo(ctx: TrialContext, env: InliningEnv, options: dict[str, Any]) -> PPO:
    """PPO with a linear actor and a small value network, seeded by the trial."""
    torch.set_num_threads(1)  # two trials share two cores
    return PPO(
        "MlpPolicy",
        env,
        learning_rate=float(options["learning_rate"]),
        n_steps=int(options["n_steps"]),
        batch_size=int(options["batch_size"]),
        n_epochs=int(options["n_epochs"]),
        # The only reward is at the end of a module: no discount over call sites.
        gamma=1.0,
        gae_lambda=0.95,
        ent_coef=float(options["ent_coef"]),
        policy_kwargs={"net_arch": {"pi": [], "vf": [32, 32]}},
        seed=ctx.seed,
        device="cpu",
        verbose=0,
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


class ProposeCallback(BaseCallback):
    """Proposes the current actor as the incumbent every ``every`` samples (curve)."""

    def __init__(
        self, ctx: TrialContext, features: Sequence[str], include_default: bool, every: int
    ) -> None:
        super().__init__()
        self.ctx, self.features, self.include_default = ctx, features, include_default
        self.every, self._next = max(1, every), max(1, every)

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        if self.ctx.objective.samples_used >= self._next:
            self._next = self.ctx.objective.samples_used + self.every
            config = actor_config(self.model, self.features, self.include_default)
            self.ctx.objective.propose(config)


def collect_demonstrations(
    env: InliningEnv, n_modules: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Observations float32 [n, dim] and the heuristic's decisions int64 [n] from
    compiling up to ``n_modules`` train modules under the heuristic (1 sample each;
    stops early when the budget runs out)."""
    from harness.budget import BudgetExhausted

    obs_list: list[np.ndarray] = []
    act_list: list[int] = []
    order = rng.permutation(len(env.module_pool))[:n_modules]
    for i in order:
        try:
            obs, _ = env.reset(options={"module": int(env.module_pool[int(i)])})
        except BudgetExhausted:
            break
        while True:
            assert env._raw is not None  # the pending call site's raw features
            action = int(env._raw[DEFAULT_INDEX] != 0)
            obs_list.append(obs)
            act_list.append(action)
            obs, _, done, _, _ = env.step(action)
            if done:
                break
    if not obs_list:
        return np.zeros((0, env.observation_space.shape[0]), np.float32), np.zeros(0, np.int64)
    return np.stack(obs_list), np.array(act_list, dtype=np.int64)


def behaviour_clone(
    model: PPO, obs: np.ndarray, actions: np.ndarray, epochs: int, seed: int, lr: float = 0.01
) -> float:
    """Fit the actor to (obs, actions) by cross-entropy (Adam, full batches of 256);
    returns the final training accuracy."""
    policy = model.policy
    gen = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(obs, dtype=torch.float32)
    y = torch.as_tensor(actions, dtype=torch.int64)
    if len(x) == 0:
        return float("nan")
    optim = torch.optim.Adam(policy.action_net.parameters(), lr=lr)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), 256):
            idx = perm[start : start + 256]
            _, log_prob, _ = policy.evaluate_actions(x[idx], y[idx])
            loss = -log_prob.mean()
            optim.zero_grad()
            loss.backward()
            optim.step()
    with torch.no_grad():
        pred, _, _ = policy.forward(x, deterministic=True)
    return float((pred == y).float().mean())


def defaults(options: dict[str, Any], **base: Any) -> dict[str, Any]:
    """``base`` updated by ``options``; unknown option names are an error."""
    unknown = set(options) - set(base)
    if unknown:
        raise ValueError(f"unknown options {sorted(unknown)}; known: {sorted(base)}")
    return {**base, **options}
