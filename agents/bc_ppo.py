"""``bc+ppo``: PPO fine-tuning of the behavior-cloned policy (MLGO's recipe).

First exactly what ``bc`` does (the expert's transitions, charged; supervised fit of
actor and critic), then SB3 PPO continues from those weights on the remaining budget,
stopping after the last step the budget can pay for. Returns the best configuration
simulated at any point (expert trajectories included).
"""

from __future__ import annotations

from typing import Any

from agents.bc import BCAgent
from agents.sb3_common import best_or_default, learn_within_budget, torch_threads
from harness.agent import TrialContext
from harness.params import Config


class BCPPOAgent(BCAgent):
    """Options: those of ``bc`` (``eval_episodes`` is unused) and of ``ppo``."""

    name = "bc+ppo"
    description = "behavioral cloning of the default-table expert, then PPO fine-tuning"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)

    def run(self, ctx: TrialContext) -> Config:
        with torch_threads(1):
            env, model = self.clone(ctx)
            learn_within_budget(model, env, self.opts)
        return best_or_default(env)
