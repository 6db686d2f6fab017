"""Agents for pass ordering (the ``passes`` task): sequence search and RL policies."""
