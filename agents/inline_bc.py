"""``inline-bc``: behavioural cloning of the -Oz heuristic (MLGO's warm start).

Compiles training modules under the heuristic (one sample each) recording every call
site's features and the heuristic's decision, then fits SB3's linear actor to those
decisions by cross-entropy. The actor does not see the heuristic's decision (as in
MLGO), so it must imitate it from the features alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.inline_common import (
    actor_config,
    behaviour_clone,
    collect_demonstrations,
    defaults,
    make_env,
    make_ppo,
    policy_features,
)
from agents.inline_ppo import PPO_DEFAULTS
from harness.agent import Agent, TrialContext
from harness.params import Config

BC_DEFAULTS: dict[str, Any] = {
    **PPO_DEFAULTS,
    "demo_modules": 0,  # modules compiled under the heuristic; 0 = all train modules
    "bc_epochs": 60,
    "bc_lr": 0.01,
}


def clone(ctx: TrialContext, opts: dict[str, Any], model: Any, env: Any, n_modules: int) -> float:
    """Collect demonstrations on ``n_modules`` modules and fit ``model``'s actor."""
    obs, actions = collect_demonstrations(env, n_modules, ctx.rng)
    acc = behaviour_clone(
        model, obs, actions, int(opts["bc_epochs"]), ctx.seed, float(opts["bc_lr"])
    )
    features = policy_features(ctx)
    ctx.objective.propose(actor_config(model, features, bool(opts["include_default"])))
    ctx.extra["bc_train_accuracy"] = acc
    ctx.extra["bc_samples"] = int(len(actions))
    return acc


class InlineBCAgent(Agent):
    name = "inline-bc"
    description = "behavioural cloning of the -Oz heuristic into a linear policy (SB3 actor)"

    def __init__(self, **options: Any) -> None:
        self.options = defaults(options, **BC_DEFAULTS)

    def run(self, ctx: TrialContext) -> Config:
        opts = self.options
        include_default = bool(opts["include_default"])
        env = make_env(ctx, include_default)
        model = make_ppo(ctx, env, opts)
        n_train = ctx.objective.n_items("train")
        n = int(opts["demo_modules"]) or n_train
        n = int(np.clip(n, 1, min(n_train, ctx.objective.samples_left)))
        try:
            clone(ctx, opts, model, env, n)
        finally:
            env.close()
        return actor_config(model, policy_features(ctx), include_default)

    def versions(self) -> dict[str, str]:
        import stable_baselines3

        return {"stable-baselines3": stable_baselines3.__version__}
