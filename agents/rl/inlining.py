"""Adapter: the inlining env (envs/inlining/env.py) for the RL stack.

The policy the inlining agents learn is SB3's ``ActorCriticPolicy`` whose actor has the
form of the task's policy space (envs/inlining/policy.py):

- linear space: ``net_arch = {"pi": [], ...}``, action logits ``W z + b``, so "inline"
  wins iff ``(W1 - W0) z + (b1 - b0) > 0``: exactly a linear configuration;
- mlp space: ``net_arch = {"pi": [hidden], ...}`` with SB3's tanh activation, logits
  ``W tanh(A x + a) + b``: exactly an mlp configuration (its ``w_default`` skip is 0;
  the heuristic's decision reaches the network as an input when ``include_default``).

:func:`actor_config` maps the actor to that configuration, which the agent returns and
the harness scores on test modules. Every compilation goes through the trial's budgeted
objective (``BudgetedSource``): an episode is one sample; demonstrations for cloning
are samples too.

The expert behavioral cloning imitates is the -Oz heuristic: its decision is one of the
raw features LLVM hands the policy (:func:`collect_demonstrations`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from stable_baselines3 import PPO

from agents.rl.stack import PPOSettings
from envs.inlining.env import BudgetedSource, InliningEnv
from envs.inlining.host import DEFAULT_INDEX
from envs.inlining.policy import PolicySpec, linear_config, mlp_config, spec_of_space
from harness.agent import TrialContext
from harness.budget import BudgetExhausted
from harness.params import Config, ParamSpace

# PPO as the inlining agents use it: the only reward is at the end of a module, so no
# discount over call sites; an actor of the task's policy form and a small critic.
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


def policy_spec(space: ParamSpace) -> PolicySpec:
    """The inlining policy form of ``space`` (ValueError if it is not one)."""
    return spec_of_space(space)


def is_inlining_space(space: ParamSpace) -> bool:
    try:
        spec_of_space(space)
    except ValueError:
        return False
    return True


def ppo_for(settings: PPOSettings, spec: PolicySpec) -> PPOSettings:
    """``settings`` with the actor's hidden layers set to the space's form."""
    arch = settings.net_arch
    vf = tuple(arch.get("vf", (32, 32))) if isinstance(arch, dict) else tuple(arch)
    pi = (spec.hidden,) if spec.kind == "mlp" else ()
    return replace(settings, net_arch={"pi": pi, "vf": vf})


def make_inline_env(ctx: TrialContext, include_default: bool) -> InliningEnv:
    """The environment over the train split, each episode charged to the budget."""
    return InliningEnv(
        BudgetedSource(ctx.objective, "train"),
        features=policy_spec(ctx.param_space).features,
        include_default=include_default,
    )


def actor_config(model: PPO, spec: PolicySpec, include_default: bool) -> Config:
    """The task configuration equal to the deterministic (argmax) actor."""
    return actor_config_and_clip(model, spec, include_default)[0]


def actor_config_and_clip(
    model: PPO, spec: PolicySpec, include_default: bool
) -> tuple[Config, float]:
    """(:func:`actor_config`, fraction of hidden-layer weights clipped to the space's
    bounds; 0 for linear actors, whose rescaling changes no decision)."""
    net = model.policy.action_net
    w = net.weight.detach().cpu().numpy().astype(np.float64)
    b = net.bias.detach().cpu().numpy().astype(np.float64)
    diff, bias = w[1] - w[0], float(b[1] - b[0])
    k = len(spec.features)
    if spec.kind == "linear":
        w_default = float(diff[k]) if include_default else 0.0
        return linear_config(diff[:k], bias, spec.features, w_default=w_default), 0.0
    layer = model.policy.mlp_extractor.policy_net[0]
    w1 = layer.weight.detach().cpu().numpy().astype(np.float64)
    b1 = layer.bias.detach().cpu().numpy().astype(np.float64)
    if not include_default:  # the network never sees d: its weight is 0
        w1 = np.concatenate([w1, np.zeros((w1.shape[0], 1))], axis=1)
    return mlp_config(w1, b1, diff, bias, spec.features, w_default=0.0)


class PeriodicProposal:
    """A rollout hook proposing the current actor as the incumbent every ``every``
    samples (the anytime curve)."""

    def __init__(
        self, ctx: TrialContext, spec: PolicySpec, include_default: bool, every: int
    ) -> None:
        self.ctx, self.spec, self.include_default = ctx, spec, include_default
        self.every, self._next = max(1, every), max(1, every)

    def __call__(self, model: PPO) -> None:
        if self.ctx.objective.samples_used >= self._next:
            self._next = self.ctx.objective.samples_used + self.every
            self.ctx.objective.propose(actor_config(model, self.spec, self.include_default))


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
