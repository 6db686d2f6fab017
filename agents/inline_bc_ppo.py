"""``inline-bc+ppo``: MLGO's recipe: clone the -Oz heuristic, then improve with PPO.

A fraction ``bc_fraction`` of the budget (at most one pass over the train modules)
buys demonstrations; PPO, warm-started from the cloned actor, spends the rest.
"""

from __future__ import annotations

from typing import Any

from agents.inline_bc import BC_DEFAULTS, clone
from agents.inline_common import defaults
from agents.inline_ppo import run_ppo
from harness.agent import Agent, TrialContext
from harness.params import Config


class InlineBCPPOAgent(Agent):
    name = "inline-bc+ppo"
    description = "behavioural cloning of -Oz, then PPO from the cloned linear actor"

    def __init__(self, **options: Any) -> None:
        self.options = defaults(options, **BC_DEFAULTS, bc_fraction=0.25)

    def run(self, ctx: TrialContext) -> Config:
        opts = self.options
        n_train = ctx.objective.n_items("train")
        n_demo = max(1, min(n_train, int(float(opts["bc_fraction"]) * ctx.objective.samples_left)))

        def warm_start(model: Any, env: Any) -> None:
            clone(ctx, opts, model, env, n_demo)

        config = run_ppo(ctx, opts, model_init=warm_start)
        ctx.objective.propose(config)
        return config

    def versions(self) -> dict[str, str]:
        import stable_baselines3

        return {"stable-baselines3": stable_baselines3.__version__}
