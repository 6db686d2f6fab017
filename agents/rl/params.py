"""Adapter: the generic parameter-editing env (envs/param_env.py) for the RL stack.

- :class:`ParamEnvSettings`: the env's shape (validated when an agent is built).
- :func:`make_param_env`: the trial's env on ``ctx.objective``.
- The expert behavioral cloning imitates: the default-table expert, which moves every
  parameter straight back toward its default value, one step at a time
  (:func:`default_expert_action`), from uniformly random starts (:func:`expert_rollouts`).
- A policy's result is the best configuration the env simulated
  (:func:`best_or_default`).

``group_size`` bounds the action's dimension m. PPO's probability ratio is a product
over the m action dimensions, and one Adam step moves every output's mean by about the
learning rate, so the policy's KL per update grows about linearly with m: on
blocksim's 1,591-parameter table with the whole vector as one action (m = 1,591) SB3's
approx_kl reached 1e13-1e35 per rollout, and at n_steps = 16 the policy went NaN; with
m = 32 it stays around 0.1-1. Spaces of at most 32 parameters are one group.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium
import numpy as np
from stable_baselines3.common.policies import ActorCriticPolicy

from agents.rl.stack import policy_actions
from envs.param_env import ParamTuningEnv, minibatch_items
from harness.agent import TrialContext
from harness.params import Config
from harness.trial import stable_int


@dataclass(frozen=True)
class ParamEnvSettings:
    """Env options (see envs/param_env.py): ``horizon`` steps per episode, ``step_size``
    (unit-cube units per step), ``group_size`` (parameters per edit; None = all at
    once), ``minibatch`` (None: all of the trial's ``eval_items``; k: a seeded subset of
    k of them), ``cache`` (revisits free), ``random_start_prob``, ``start``
    (``default`` or ``best``), ``max_steps_factor`` (cap on env steps as a multiple of
    the steps the budget can pay for: with the cache, steps may be free, and training
    must end somewhere)."""

    horizon: int = 8
    step_size: float = 0.1
    group_size: int | None = 32
    minibatch: int | None = None
    cache: bool = True
    random_start_prob: float = 0.0
    start: str = "default"
    max_steps_factor: float = 10.0

    def __post_init__(self) -> None:
        if self.horizon < 1 or not 0 < self.step_size <= 1:
            raise ValueError("horizon must be >= 1 and step_size in (0, 1]")
        if self.group_size is not None and self.group_size < 1:
            raise ValueError("group_size must be >= 1 or None")
        if self.minibatch is not None and self.minibatch < 1:
            raise ValueError("minibatch must be >= 1 or None")
        if not 0 <= self.random_start_prob <= 1 or self.start not in ("default", "best"):
            raise ValueError("random_start_prob in [0, 1]; start 'default' or 'best'")
        if self.max_steps_factor <= 0:
            raise ValueError("max_steps_factor must be > 0")


def make_param_env(ctx: TrialContext, s: ParamEnvSettings) -> ParamTuningEnv:
    """The trial's env: ``ctx.objective``, minibatch from ``ctx.eval_items``, its RNG
    seeded with ``ctx.seed``: resets that are not SB3's (the expert's, the clone's
    episodes) draw the first edited group from it, and an unseeded gymnasium env would
    draw it from OS entropy. SB3 reseeds it with the same seed when it starts learning."""
    items = np.asarray(ctx.eval_items, dtype=np.int64)
    if s.minibatch is not None and s.minibatch < len(items):
        pick = minibatch_items(len(items), s.minibatch, stable_int("minibatch", ctx.seed))
        items = items[pick]
    env = ParamTuningEnv(
        ctx.objective,
        items=items,
        horizon=s.horizon,
        step_size=s.step_size,
        group_size=s.group_size,
        random_start_prob=s.random_start_prob,
        start=s.start,
        cache=s.cache,
    )
    env.np_random = gymnasium.utils.seeding.np_random(ctx.seed)[0]
    return env


def step_cap(env: ParamTuningEnv, s: ParamEnvSettings, n_steps: int) -> int:
    """Env steps PPO may take: ``max_steps_factor`` x the steps the budget can pay for,
    plus one rollout."""
    paid_steps = env.objective.samples_left // env.step_cost
    return int(s.max_steps_factor * paid_steps) + n_steps


def best_or_default(env: ParamTuningEnv) -> Config:
    """The best configuration the env simulated (the default if none)."""
    return env.best_config if env.best_config is not None else env.space.default()


def default_expert_action(env: ParamTuningEnv) -> np.ndarray:
    """The default-table expert's action, float32 [m]: straight back toward the default
    configuration, as far as one step allows (zero at the default)."""
    idx = env.edited_indices()
    a = np.zeros(env.action_space.shape, dtype=np.float32)
    u = env.unit_state()
    a[: len(idx)] = np.clip((env.default_u[idx] - u[idx]) / env.step_size, -1.0, 1.0)
    return a


@dataclass
class ExpertData:
    """The expert's transitions: obs float32 [N, obs_dim], actions float32 [N, m],
    returns float32 [N] (discounted reward-to-go within each episode)."""

    obs: np.ndarray
    actions: np.ndarray
    returns: np.ndarray

    def __len__(self) -> int:
        return len(self.actions)


def expert_rollouts(
    env: ParamTuningEnv, episodes: int, rng: np.random.Generator, gamma: float
) -> ExpertData:
    """Run the default-table expert for up to ``episodes`` episodes from uniformly
    random starts (drawn with ``rng``); every evaluation is charged through the env.

    Each episode costs at most ``1 + H`` evaluations of ``k`` samples (its random start,
    then one per step; configurations already simulated are free). Stops early, keeping
    what was collected, when the budget cannot pay for another step.
    """
    obs_l: list[np.ndarray] = []
    act_l: list[np.ndarray] = []
    ret_l: list[float] = []
    d = len(env.default_u)
    for _ in range(episodes):
        if not env.can_pay_step():
            break
        obs, _info = env.reset(options={"start": rng.random(d)})
        if env.exhausted:
            break
        ep_obs, ep_act, ep_rew = [], [], []
        for _t in range(env.horizon):
            action = default_expert_action(env)
            nxt, reward, terminated, truncated, info = env.step(action)
            if np.isnan(info["loss"]):  # unpaid: the step did not happen
                break
            ep_obs.append(obs)
            ep_act.append(action)
            ep_rew.append(reward)
            obs = nxt
            if terminated or truncated:
                break
        ret, rets = 0.0, []
        for r in reversed(ep_rew):
            ret = r + gamma * ret
            rets.append(ret)
        obs_l += ep_obs
        act_l += ep_act
        ret_l += rets[::-1]
    m = env.action_space.shape[0]
    return ExpertData(
        obs=np.asarray(obs_l, dtype=np.float32).reshape(-1, env.observation_space.shape[0]),
        actions=np.asarray(act_l, dtype=np.float32).reshape(-1, m),
        returns=np.asarray(ret_l, dtype=np.float32),
    )


def run_policy(env: ParamTuningEnv, policy: ActorCriticPolicy, episodes: int) -> None:
    """Deterministic episodes of ``policy`` from the env's usual start (charged; the env
    records the best configuration it simulates)."""
    for _ in range(episodes):
        if not env.can_pay_step():
            return
        obs, _info = env.reset()
        for _t in range(env.horizon):
            obs, _r, terminated, truncated, _i = env.step(policy_actions(policy, obs[None])[0])
            if terminated or truncated:
                break
