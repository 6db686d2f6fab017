"""``default``: the simulator untouched (its own parameter values); uses no samples."""

from __future__ import annotations

from harness.agent import Agent, TrialContext
from harness.params import Config


class DefaultAgent(Agent):
    name = "default"
    description = "the simulator's own default parameters, no search (0 samples)"

    def run(self, ctx: TrialContext) -> Config:
        return ctx.param_space.default()
