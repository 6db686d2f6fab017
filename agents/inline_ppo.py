"""``inline-ppo``: PPO (SB3) from scratch on the inlining environment, as MLGO trains
its inliner for size; the learned linear actor is returned as the task's policy."""

from __future__ import annotations

from typing import Any

from agents.inline_common import ProposeCallback, actor_config, defaults, make_env, make_ppo
from agents.inline_common import policy_features as _features
from harness.agent import Agent, TrialContext
from harness.budget import BudgetExhausted
from harness.params import Config

PPO_DEFAULTS: dict[str, Any] = {
    "learning_rate": 3e-3,
    "n_steps": 256,  # call-site decisions per rollout (a few modules)
    "batch_size": 64,
    "n_epochs": 4,
    "ent_coef": 0.01,
    "include_default": False,  # observe the heuristic's decision (MLGO does not)
    "propose_every": 40,  # samples between anytime-curve points
}


def run_ppo(ctx: TrialContext, opts: dict[str, Any], model_init: Any = None) -> Config:
    """Train PPO until the budget is spent; ``model_init(model, env)`` may warm-start it."""
    include_default = bool(opts["include_default"])
    env = make_env(ctx, include_default)
    features = _features(ctx)
    model = make_ppo(ctx, env, opts)
    if model_init is not None:
        model_init(model, env)
    callback = ProposeCallback(ctx, features, include_default, int(opts["propose_every"]))
    try:
        # Far more steps than the budget allows: the budget, not SB3, ends training.
        model.learn(total_timesteps=10**9, callback=callback)
    except BudgetExhausted:
        pass
    finally:
        env.close()
    return actor_config(model, features, include_default)


class InlinePPOAgent(Agent):
    name = "inline-ppo"
    description = "PPO with a linear actor on tunebench/Inlining-v0 (one module = one sample)"

    def __init__(self, **options: Any) -> None:
        self.options = defaults(options, **PPO_DEFAULTS)

    def run(self, ctx: TrialContext) -> Config:
        config = run_ppo(ctx, self.options)
        ctx.objective.propose(config)
        return config

    def versions(self) -> dict[str, str]:
        import stable_baselines3
        import torch

        return {"stable-baselines3": stable_baselines3.__version__, "torch": torch.__version__}
