"""Adapter: the pass-ordering env (envs/passes/env.py) for the RL stack (agents/rl/stack.py).

The policy the ``pass-*`` agents learn is SB3's ``ActorCriticPolicy`` whose actor has
exactly the shape of the task's policy parameters (``policy = "mlp"``: one tanh hidden
layer of ``hidden`` units; ``"linear"``: none), so the deterministic (argmax) actor is a
configuration of the task (:func:`actor_config`), which the harness runs on the test
modules without any search. Every episode is one compilation of one training module
charged to the trial's budget (``BudgetedSource``); demonstrations are episodes too.

The expert behavioral cloning imitates (:func:`expert_sequence`): ``oz-order``, -Oz's
pipeline as single passes in pipeline order (envs/passes/actions.py ``oz_order``,
truncated to the horizon), or ``oz``, the ``-Oz`` action then STOP.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from stable_baselines3 import PPO

from agents.rl.stack import PPOSettings
from envs.passes.actions import OZ_ACTION, actions, oz_order
from envs.passes.env import BudgetedSource, PassOrderingEnv
from envs.passes.policy import PolicyNet
from harness.agent import TrialContext
from harness.budget import BudgetExhausted
from harness.params import Config, ParamSpace

EXPERTS = ("oz-order", "oz")

# PPO as the pass agents use it: short episodes (<= max_len passes), a reward at every
# pass, a small value network beside the task-shaped actor.
PASS_PPO = PPOSettings(
    learning_rate=3e-4,
    n_steps=256,
    batch_size=64,
    n_epochs=4,
    gamma=0.99,
    gae_lambda=0.95,
    ent_coef=0.01,
    net_arch={"pi": (64,), "vf": (64,)},
    log_std_init=None,
)


@dataclass(frozen=True)
class PolicyShape:
    """The task's policy parameters: ``n_actions`` (+ STOP) and the hidden width."""

    n_actions: int
    hidden: int

    def net(self) -> PolicyNet:
        return PolicyNet(self.n_actions, self.hidden, None)

    def actions(self) -> tuple[str, ...]:
        """The task's action names (with or without ``-Oz``, told by their number)."""
        for with_oz in (True, False):
            names = actions(with_oz)
            if len(names) == self.n_actions:
                return names
        raise ValueError(f"no action list of {self.n_actions} actions")


def policy_shape(space: ParamSpace) -> PolicyShape | None:
    """The policy shape of a ``passes`` task's policy space, or None for other spaces."""
    names = space.names
    if names and names[0].startswith("w1["):
        hidden = sum(n.startswith("b1[") for n in names)
        n_out = sum(n.startswith("b2[") for n in names)
    elif names and names[0].startswith("w["):
        hidden, n_out = 0, sum(n.startswith("b[") for n in names)
    else:
        return None
    shape = PolicyShape(n_out - 1, hidden)
    return shape if shape.net().names == names else None


def ppo_settings_for(shape: PolicyShape, base: PPOSettings) -> PPOSettings:
    """``base`` with the actor's hidden layers set to the task's shape."""
    arch = base.net_arch if isinstance(base.net_arch, dict) else {"vf": tuple(base.net_arch)}
    pi = (shape.hidden,) if shape.hidden else ()
    from dataclasses import replace

    return replace(base, net_arch={"pi": pi, "vf": tuple(arch.get("vf", (64,)))})


def make_pass_env(ctx: TrialContext, shape: PolicyShape) -> PassOrderingEnv:
    """The env over the train split, each episode charged to the budget; its generator
    seeded with the trial's seed."""
    import gymnasium

    env = PassOrderingEnv(BudgetedSource(ctx.objective, shape.n_actions, "train"))
    env.np_random = gymnasium.utils.seeding.np_random(ctx.seed)[0]
    return env


def actor_config(model: PPO, shape: PolicyShape) -> Config:
    """The task configuration equal to the deterministic (argmax) actor of ``model``."""
    policy = model.policy
    head = policy.action_net
    arrays = {}
    if shape.hidden:
        first = policy.mlp_extractor.policy_net[0]
        arrays["w1"] = first.weight.detach().cpu().numpy().T
        arrays["b1"] = first.bias.detach().cpu().numpy()
        arrays["w2"] = head.weight.detach().cpu().numpy().T
        arrays["b2"] = head.bias.detach().cpu().numpy()
    else:
        arrays["w"] = head.weight.detach().cpu().numpy().T
        arrays["b"] = head.bias.detach().cpu().numpy()
    return shape.net().config(arrays)


class PeriodicProposal:
    """A rollout hook proposing the current actor every ``every`` samples (anytime curve)."""

    def __init__(self, ctx: TrialContext, shape: PolicyShape, every: int) -> None:
        self.ctx, self.shape = ctx, shape
        self.every, self._next = max(1, every), max(1, every)

    def __call__(self, model: PPO) -> None:
        if self.ctx.objective.samples_used >= self._next:
            self._next = self.ctx.objective.samples_used + self.every
            self.ctx.objective.propose(actor_config(model, self.shape))


def expert_sequence(expert: str, actions: list[str] | tuple[str, ...]) -> list[int]:
    """The expert's action indices (STOP is added by the episode's end)."""
    if expert == "oz":
        return [list(actions).index(OZ_ACTION)] if OZ_ACTION in actions else []
    if expert == "oz-order":
        index = {a: i for i, a in enumerate(actions)}
        return [index[a] for a in oz_order() if a in index]
    raise ValueError(f"expert must be one of {EXPERTS}, not {expert!r}")


def collect_demonstrations(
    env: PassOrderingEnv, expert: list[int], n_modules: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Observations float32 [n, dim] and expert actions int64 [n] from episodes on up to
    ``n_modules`` training modules (one compilation each; stops when the budget runs
    out), and each episode's final instructions / -Oz."""
    obs_l: list[np.ndarray] = []
    act_l: list[int] = []
    ratios: list[float] = []
    for i in rng.permutation(len(env.module_pool))[:n_modules]:
        try:
            obs, _ = env.reset(options={"module": int(env.module_pool[int(i)])})
        except BudgetExhausted:
            break
        for a in [*expert, env.stop_action]:
            obs_l.append(obs)
            act_l.append(a)
            obs, _r, done, _t, info = env.step(a)
            if done:
                ratios.append(float(info["oz_ratio"]))
                break
    dim = env.observation_space.shape[0]
    if not obs_l:
        return np.zeros((0, dim), np.float32), np.zeros(0, np.int64), ratios
    return np.stack(obs_l).astype(np.float32), np.array(act_l, dtype=np.int64), ratios
