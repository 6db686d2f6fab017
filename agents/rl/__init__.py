"""The RL agents: one SB3 stack (stack.py), small per-env adapters (params.py for the
parameter-editing env, inlining.py for the inlining env), one module per agent."""
