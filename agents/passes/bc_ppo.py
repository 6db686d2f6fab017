"""``pass-bc+ppo``: clone the expert, then improve with PPO from the cloned actor.

A fraction ``bc_fraction`` of the budget (at most one pass over the training modules)
buys demonstrations; PPO, warm-started from the clone, spends the rest
(agents/rl/bc_then_ppo.py).
"""

from __future__ import annotations

from agents.passes.bc import PassBCAgent
from agents.rl.bc_then_ppo import BCThenPPO


class PassBCPPOAgent(BCThenPPO, PassBCAgent):
    """Options: those of ``pass-bc`` plus ``bc_fraction`` (0.25)."""

    name = "pass-bc+ppo"
    description = "behavioral cloning of -Oz's pipeline order, then PPO from the clone"
