"""Learning agents (DiffTune, PPO, behavioral cloning), one module each.

``AGENTS`` is this package's registry: agent name -> "module:Class".
"""

AGENTS: dict[str, str] = {
    "ppo": "agents.rl.ppo:PPOAgent",
    "bc": "agents.rl.bc:BCAgent",
    "bc+ppo": "agents.rl.bc_ppo:BCPPOAgent",
    "difftune": "agents.difftune.agent:DiffTuneAgent",
    "inline-bc": "agents.rl.inline_bc:InlineBCAgent",
    "inline-ppo": "agents.rl.inline_ppo:InlinePPOAgent",
    "inline-bc+ppo": "agents.rl.inline_bc_ppo:InlineBCPPOAgent",
}
