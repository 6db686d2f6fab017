"""Shared glue of the stable-baselines3 agents (``ppo``, ``bc``, ``bc+ppo``): not an agent.

- :class:`RLOptions`: the options the three agents share (env shape, PPO settings).
- :func:`make_env`: the trial's :class:`~envs.param_env.ParamTuningEnv` on ``ctx.objective``.
- :class:`BudgetStop`: an SB3 callback that ends ``learn`` after the last step the budget
  can pay for. SB3's ``learn(total_timesteps)`` runs whole rollouts of ``n_steps``; the
  callback returns False from ``on_step`` as soon as the env cannot pay for another
  step, which makes SB3 return at once (the partial rollout is not trained on).
- :func:`learn_within_budget`: ``model.learn`` under that callback, catching a
  ``BudgetExhausted`` that might still escape (the objective refuses regardless).
- :func:`expert_rollouts` / :func:`behavior_clone`: the default-table expert's
  transitions and supervised training of an SB3 ``ActorCriticPolicy`` on them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

import gymnasium
import numpy as np
import stable_baselines3
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import ActorCriticPolicy

from envs.param_env import ParamTuningEnv, minibatch_items
from harness.agent import TrialContext
from harness.budget import BudgetExhausted
from harness.params import Config
from harness.trial import stable_int


@dataclass
class RLOptions:
    """Options shared by the SB3 agents (suite ``[agents.<name>] options``).

    Env (see envs/gym_envs.py): ``horizon`` steps per episode, ``step_size`` (unit-cube
    units per step), ``group_size`` (parameters per edit, at most 32 by default; None =
    all at once, see below), ``minibatch``
    (None: all of the trial's ``eval_items``; k: a seeded subset of k of them),
    ``cache`` (no re-simulation of a configuration already simulated),
    ``random_start_prob``. PPO: ``n_steps`` (rollout length), ``batch_size``,
    ``n_epochs``, ``learning_rate``, ``gamma``, ``gae_lambda``, ``clip_range``,
    ``ent_coef``, ``net_arch`` (hidden widths, shared by actor and critic),
    ``log_std_init`` (initial log std of the Gaussian policy, in action units),
    ``max_steps_factor`` (cap on env steps, as a multiple of the steps the budget can
    pay for: with the cache, steps may be free, and training must end somewhere).

    ``group_size`` bounds the action's dimension m. PPO's probability ratio is a product
    over the m action dimensions, and one Adam step moves every output's mean by about
    the learning rate, so the policy's KL per update grows about linearly with m: on
    blocksim's 1,591-parameter table with the whole vector as one action (m = 1,591)
    SB3's approx_kl reached 1e13-1e35 per rollout, and at n_steps = 16 the policy went
    NaN (the trial failed); with m = 32 it stays around 0.1-1.
    Spaces of at most 32 parameters (mca: 7, the tests' toy: 4) are one group, the whole
    vector at once, as before.
    """

    horizon: int = 8
    step_size: float = 0.1
    group_size: int | None = 32
    minibatch: int | None = None
    cache: bool = True
    random_start_prob: float = 0.0
    start: str = "default"
    n_steps: int = 64
    batch_size: int = 32
    n_epochs: int = 10
    learning_rate: float = 1e-3
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    net_arch: tuple[int, ...] = (64, 64)
    log_std_init: float = -0.5
    max_steps_factor: float = 10.0

    @classmethod
    def split(cls, options: dict[str, Any]) -> tuple[RLOptions, dict[str, Any]]:
        """(shared options, the remaining agent-specific ones)."""
        names = {f.name for f in fields(cls)}
        shared = {k: v for k, v in options.items() if k in names}
        if "net_arch" in shared:
            shared["net_arch"] = tuple(int(w) for w in shared["net_arch"])
        return cls(**shared), {k: v for k, v in options.items() if k not in names}


def sb3_versions() -> dict[str, str]:
    return {
        "stable-baselines3": stable_baselines3.__version__,
        "torch": torch.__version__,
        "gymnasium": gymnasium.__version__,
    }


@contextlib.contextmanager
def torch_threads(n: int = 1) -> Iterator[None]:
    """Run torch on ``n`` threads (trials run in parallel, one core each), then restore."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def make_env(ctx: TrialContext, opts: RLOptions) -> ParamTuningEnv:
    """The trial's env: ``ctx.objective``, minibatch from ``ctx.eval_items``, its RNG
    seeded with ``ctx.seed``: resets that are not SB3's (the expert's, the clone's
    episodes) draw the first edited group from it, and an unseeded gymnasium env would
    draw it from OS entropy. SB3 reseeds it with the same seed when it starts learning."""
    items = np.asarray(ctx.eval_items, dtype=np.int64)
    if opts.minibatch is not None and opts.minibatch < len(items):
        pick = minibatch_items(len(items), opts.minibatch, stable_int("minibatch", ctx.seed))
        items = items[pick]
    env = ParamTuningEnv(
        ctx.objective,
        items=items,
        horizon=opts.horizon,
        step_size=opts.step_size,
        group_size=opts.group_size,
        random_start_prob=opts.random_start_prob,
        start=opts.start,
        cache=opts.cache,
    )
    env.np_random = gymnasium.utils.seeding.np_random(ctx.seed)[0]
    return env


def make_ppo(env: ParamTuningEnv, ctx: TrialContext, opts: RLOptions) -> PPO:
    """A seeded SB3 PPO (MlpPolicy, tanh) on ``env``."""
    return PPO(
        "MlpPolicy",
        env,
        learning_rate=opts.learning_rate,
        n_steps=opts.n_steps,
        batch_size=opts.batch_size,
        n_epochs=opts.n_epochs,
        gamma=opts.gamma,
        gae_lambda=opts.gae_lambda,
        clip_range=opts.clip_range,
        ent_coef=opts.ent_coef,
        policy_kwargs={"net_arch": list(opts.net_arch), "log_std_init": opts.log_std_init},
        seed=ctx.seed,
        device=ctx.device,
        verbose=0,
    )


class BudgetStop(BaseCallback):
    """Ends SB3 training after the last step the env's budget can pay for."""

    def __init__(self, env: ParamTuningEnv) -> None:
        super().__init__()
        self.env_ref = env

    def _on_step(self) -> bool:
        return self.env_ref.can_pay_step()


def learn_within_budget(model: PPO, env: ParamTuningEnv, opts: RLOptions) -> None:
    """``model.learn`` until the budget cannot pay for a step (or the step cap)."""
    if not env.can_pay_step():
        return
    paid_steps = env.objective.samples_left // env.step_cost
    total = int(opts.max_steps_factor * paid_steps) + opts.n_steps
    try:
        model.learn(total_timesteps=total, callback=BudgetStop(env), progress_bar=False)
    except BudgetExhausted:  # the env refuses first; this is a second line of defence
        pass


def best_or_default(env: ParamTuningEnv) -> Config:
    """The best configuration the env simulated (the default if none)."""
    return env.best_config if env.best_config is not None else env.space.default()


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
    then one per step; cached configurations are free). Stops early, keeping what was
    collected, when the budget cannot pay for another step.
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
            action = env.expert_action()
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


def behavior_clone(
    policy: ActorCriticPolicy,
    data: ExpertData,
    epochs: int,
    learning_rate: float,
    batch_size: int,
    seed: int,
    value_coef: float = 0.5,
) -> list[float]:
    """Supervised training of ``policy`` on ``data``; returns the per-epoch mean loss.

    Loss = MSE(mean action, expert action) + ``value_coef`` MSE(value, return). The mean
    (not the likelihood) is fitted so the Gaussian's std keeps its initial value and a
    later PPO still explores; the critic is fitted on the expert's discounted returns so
    PPO's first advantages are not computed against a random value function.
    """
    if len(data) == 0:
        return []
    device = policy.device
    obs = torch.as_tensor(data.obs, device=device)
    act = torch.as_tensor(data.actions, device=device)
    ret = torch.as_tensor(data.returns, device=device)
    opt = torch.optim.Adam(policy.parameters(), lr=learning_rate)
    gen = torch.Generator().manual_seed(seed)
    policy.set_training_mode(True)
    history: list[float] = []
    for _ in range(epochs):
        perm = torch.randperm(len(data), generator=gen)
        total = 0.0
        for start in range(0, len(data), batch_size):
            idx = perm[start : start + batch_size].to(device)
            # ActorCriticPolicy's own path (as in evaluate_actions), minus the distribution.
            features = policy.extract_features(obs[idx])
            latent_pi, latent_vf = policy.mlp_extractor(features)
            mean = policy.action_net(latent_pi)
            values = policy.value_net(latent_vf).reshape(-1)
            loss = torch.nn.functional.mse_loss(mean, act[idx])
            loss = loss + value_coef * torch.nn.functional.mse_loss(values, ret[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        history.append(total / len(data))
    policy.set_training_mode(False)
    return history


def policy_actions(policy: ActorCriticPolicy, obs: np.ndarray) -> np.ndarray:
    """Deterministic (mean) actions, clipped to [-1, 1], float32 [N, m]."""
    with torch.no_grad():
        act, _ = policy.predict(obs, deterministic=True)
    return np.clip(np.asarray(act, dtype=np.float32), -1.0, 1.0)


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
