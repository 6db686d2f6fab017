"""Learning agents (DiffTune, PPO, behavioral cloning), one module each.

``AGENTS`` is this package's registry: agent name -> "module:Class".
"""

AGENTS: dict[str, str] = {
    "ppo": "agents.ppo:PPOAgent",
    "bc": "agents.bc:BCAgent",
    "bc+ppo": "agents.bc_ppo:BCPPOAgent",
    "difftune": "agents.difftune.agent:DiffTuneAgent",
    "inline-bc": "agents.inline_bc:InlineBCAgent",
    "inline-ppo": "agents.inline_ppo:InlinePPOAgent",
    "inline-bc+ppo": "agents.inline_bc_ppo:InlineBCPPOAgent",
}
