"""tunebench harness: budgets, trials, runner, store, statistics, report and CLI.

The harness knows no specific simulator or agent: tasks and agents are found
through the plugin registry (see :mod:`harness.registry`).
"""

__version__ = "0.1.0"
