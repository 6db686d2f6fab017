"""``inline-bc+ppo``: MLGO's recipe: clone the -Oz heuristic, then improve with PPO.

A fraction ``bc_fraction`` of the budget (at most one pass over the train modules)
buys demonstrations; PPO, warm-started from the cloned actor, spends the rest
(agents/rl/bc_then_ppo.py).
"""

from __future__ import annotations

from agents.rl.bc_then_ppo import BCThenPPO
from agents.rl.inline_bc import InlineBCAgent


class InlineBCPPOAgent(BCThenPPO, InlineBCAgent):
    """Options: those of ``inline-bc`` plus ``bc_fraction`` (0.25)."""

    name = "inline-bc+ppo"
    description = "behavioral cloning of -Oz, then PPO from the cloned actor"
