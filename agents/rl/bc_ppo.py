"""``bc+ppo``: PPO fine-tuning of the behavior-cloned policy (MLGO's recipe).

First exactly what ``bc`` does (the expert's transitions, charged; supervised fit of
actor and critic), then SB3 PPO continues from those weights on the remaining budget,
stopping after the last step the budget can pay for. Returns the best configuration
simulated at any point (expert trajectories included).
"""

from __future__ import annotations

from agents.rl.bc import BCAgent
from agents.rl.params import best_or_default, step_cap
from agents.rl.stack import learn_within_budget
from agents.torchutil import torch_session
from harness.agent import TrialContext
from harness.params import Config


class BCPPOAgent(BCAgent):
    """Options: those of ``bc`` (``eval_episodes`` is unused) and of ``ppo``."""

    name = "bc+ppo"
    description = "behavioral cloning of the default-table expert, then PPO fine-tuning"

    def run(self, ctx: TrialContext) -> Config:
        with torch_session(ctx):
            env, model = self.clone(ctx)
            cap = step_cap(env, self.env_settings, self.ppo_settings.n_steps)
            learn_within_budget(model, cap, env.can_pay_step)
        return best_or_default(env)
