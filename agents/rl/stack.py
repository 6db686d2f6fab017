"""The project's one stable-baselines3 stack, shared by every RL agent (on any env).

- :class:`PPOSettings`: PPO's hyperparameters, validated when an agent is built.
- :func:`make_ppo`: a seeded SB3 PPO on the trial's device.
- :class:`BudgetStop` / :func:`learn_within_budget`: SB3's ``learn(total_timesteps)``
  runs whole rollouts of ``n_steps``; the callback returns False from ``on_step`` as
  soon as the env cannot pay for another step, which makes SB3 return at once (the
  partial rollout is not trained on); a ``BudgetExhausted`` that might still escape is
  caught (the objective refuses regardless).
- :func:`behavior_clone`: supervised training of an SB3 ``ActorCriticPolicy`` on an
  expert's (observation, action) pairs: MSE on the mean action for continuous actions
  (plus the critic on the expert's returns), cross-entropy for discrete ones.

Per-env adapters (agents/rl/params.py, agents/rl/inlining.py) build the env, hold the
expert and map a policy to the task's configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import gymnasium
import numpy as np
import stable_baselines3
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import ActorCriticPolicy

from harness.agent import TrialContext
from harness.budget import BudgetExhausted


@dataclass(frozen=True)
class PPOSettings:
    """PPO hyperparameters (SB3's names and meanings).

    ``net_arch``: hidden widths shared by actor and critic, or a dict
    ``{"pi": [...], "vf": [...]}``; ``log_std_init``: initial log std of a Gaussian
    policy (continuous actions only; None for discrete ones).
    """

    learning_rate: float = 1e-3
    n_steps: int = 64
    batch_size: int = 32
    n_epochs: int = 10
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    net_arch: Any = (64, 64)
    log_std_init: float | None = -0.5

    def __post_init__(self) -> None:
        if self.learning_rate <= 0 or self.n_steps < 1 or self.batch_size < 1:
            raise ValueError("learning_rate must be > 0, n_steps and batch_size >= 1")
        if self.n_epochs < 1 or not 0 <= self.gamma <= 1 or not 0 <= self.gae_lambda <= 1:
            raise ValueError("n_epochs must be >= 1, gamma and gae_lambda in [0, 1]")
        if self.clip_range <= 0 or self.ent_coef < 0:
            raise ValueError("clip_range must be > 0 and ent_coef >= 0")

    def policy_kwargs(self) -> dict[str, Any]:
        arch = self.net_arch
        arch = {k: list(v) for k, v in arch.items()} if isinstance(arch, dict) else list(arch)
        out: dict[str, Any] = {"net_arch": arch}
        if self.log_std_init is not None:
            out["log_std_init"] = self.log_std_init
        return out


def split_settings(options: dict[str, Any], *classes: type) -> tuple[list[Any], dict[str, Any]]:
    """Build one settings dataclass per class from ``options`` (each takes the keys that
    name its fields); returns (instances, options left over). ValueError from a class's
    own checks; the caller rejects leftovers."""
    rest = dict(options)
    built = []
    for cls in classes:
        names = {f.name for f in fields(cls)}
        mine = {k: rest.pop(k) for k in list(rest) if k in names}
        if isinstance(mine.get("net_arch"), list):
            mine["net_arch"] = tuple(int(w) for w in mine["net_arch"])
        built.append(cls(**mine))
    return built, rest


def reject_unknown(agent: str, rest: dict[str, Any]) -> None:
    """TypeError naming options no settings class took."""
    if rest:
        raise TypeError(f"agent {agent!r}: unknown options {sorted(rest)}")


def sb3_versions() -> dict[str, str]:
    return {
        "stable-baselines3": stable_baselines3.__version__,
        "torch": torch.__version__,
        "gymnasium": gymnasium.__version__,
    }


def make_ppo(env: gymnasium.Env, ctx: TrialContext, settings: PPOSettings) -> PPO:
    """A seeded SB3 PPO (MlpPolicy) on ``env`` and the trial's device."""
    return PPO(
        "MlpPolicy",
        env,
        learning_rate=settings.learning_rate,
        n_steps=settings.n_steps,
        batch_size=settings.batch_size,
        n_epochs=settings.n_epochs,
        gamma=settings.gamma,
        gae_lambda=settings.gae_lambda,
        clip_range=settings.clip_range,
        ent_coef=settings.ent_coef,
        policy_kwargs=settings.policy_kwargs(),
        seed=ctx.seed,
        device="cuda" if ctx.device == "cuda" and torch.cuda.is_available() else "cpu",
        verbose=0,
    )


class BudgetStop(BaseCallback):
    """Ends SB3 training as soon as ``can_continue()`` is False (the env cannot pay for
    another step); ``on_rollout_end`` hooks run every rollout (e.g. anytime proposals)."""

    def __init__(
        self,
        can_continue: Callable[[], bool],
        on_rollout_end: Callable[[PPO], None] | None = None,
    ) -> None:
        super().__init__()
        self.can_continue = can_continue
        self.rollout_hook = on_rollout_end

    def _on_step(self) -> bool:
        return bool(self.can_continue())

    def _on_rollout_end(self) -> None:
        if self.rollout_hook is not None:
            self.rollout_hook(self.model)


def learn_within_budget(
    model: PPO,
    total_timesteps: int,
    can_continue: Callable[[], bool],
    on_rollout_end: Callable[[PPO], None] | None = None,
) -> None:
    """``model.learn`` for at most ``total_timesteps`` env steps, stopping as soon as
    ``can_continue()`` is False."""
    if not can_continue():
        return
    try:
        model.learn(
            total_timesteps=int(total_timesteps),
            callback=BudgetStop(can_continue, on_rollout_end),
            progress_bar=False,
        )
    except BudgetExhausted:  # the env refuses first; this is a second line of defence
        pass


@dataclass(frozen=True)
class BCSettings:
    """Behavioral cloning: ``bc_epochs`` passes, Adam at ``bc_learning_rate``, minibatches
    of ``bc_batch_size``."""

    bc_epochs: int = 1000
    bc_learning_rate: float = 3e-3
    bc_batch_size: int = 64

    def __post_init__(self) -> None:
        if self.bc_epochs < 0 or self.bc_learning_rate <= 0 or self.bc_batch_size < 1:
            raise ValueError("bc_epochs >= 0, bc_learning_rate > 0 and bc_batch_size >= 1")


@dataclass
class CloneResult:
    """Per-epoch mean training loss, and (discrete actions) the final accuracy."""

    history: list[float]
    accuracy: float = float("nan")


def behavior_clone(
    policy: ActorCriticPolicy,
    obs: np.ndarray,
    actions: np.ndarray,
    settings: BCSettings,
    seed: int,
    returns: np.ndarray | None = None,
    value_coef: float = 0.5,
) -> CloneResult:
    """Supervised training of ``policy`` on an expert's pairs.

    Args:
        obs: float32 [N, obs_dim] observations.
        actions: the expert's actions: float32 [N, m] (continuous) or int64 [N]
            (discrete).
        returns: float32 [N] discounted returns for the critic (continuous only).

    Continuous actions: loss = MSE(mean action, expert action) + ``value_coef``
    MSE(value, return), over all of the policy's parameters. The mean (not the
    likelihood) is fitted so the Gaussian's std keeps its initial value and a later PPO
    still explores; the critic is fitted so PPO's first advantages are not computed
    against a random value function. Discrete actions: cross-entropy of the actor's
    logits only (the critic is left to PPO).
    """
    n = len(actions)
    if n == 0:
        return CloneResult([])
    device = policy.device
    discrete = np.issubdtype(np.asarray(actions).dtype, np.integer)
    x = torch.as_tensor(obs, dtype=torch.float32, device=device)
    y = torch.as_tensor(actions, device=device)
    ret = None if returns is None else torch.as_tensor(returns, device=device)
    params = policy.action_net.parameters() if discrete else policy.parameters()
    opt = torch.optim.Adam(params, lr=settings.bc_learning_rate)
    gen = torch.Generator().manual_seed(seed)
    policy.set_training_mode(True)
    history: list[float] = []
    for _ in range(settings.bc_epochs):
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for start in range(0, n, settings.bc_batch_size):
            idx = perm[start : start + settings.bc_batch_size].to(device)
            if discrete:
                _, log_prob, _ = policy.evaluate_actions(x[idx], y[idx])
                loss = -log_prob.mean()
            else:
                # ActorCriticPolicy's own path (as in evaluate_actions), minus the
                # distribution.
                features = policy.extract_features(x[idx])
                latent_pi, latent_vf = policy.mlp_extractor(features)
                loss = torch.nn.functional.mse_loss(policy.action_net(latent_pi), y[idx])
                if ret is not None:
                    values = policy.value_net(latent_vf).reshape(-1)
                    loss = loss + value_coef * torch.nn.functional.mse_loss(values, ret[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        history.append(total / n)
    policy.set_training_mode(False)
    accuracy = float("nan")
    if discrete:
        with torch.no_grad():
            pred, _, _ = policy.forward(x, deterministic=True)
        accuracy = float((pred == y).float().mean())
    return CloneResult(history, accuracy)


def policy_actions(policy: ActorCriticPolicy, obs: np.ndarray) -> np.ndarray:
    """Deterministic (mean) actions, clipped to [-1, 1], float32 [N, m]."""
    with torch.no_grad():
        act, _ = policy.predict(obs, deterministic=True)
    return np.clip(np.asarray(act, dtype=np.float32), -1.0, 1.0)
