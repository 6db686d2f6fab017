"""Learning agents (DiffTune, PPO, behavioral cloning), one module each.

``AGENTS`` is this package's registry: agent name -> "module:Class".
"""

AGENTS: dict[str, str] = {}
