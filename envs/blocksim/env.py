"""``tunebench/BlockSimParams-v0``: the ``blocksim`` task (its full per-opcode table) as a
gymnasium env.

``gym.make("envs.blocksim.env:tunebench/BlockSimParams-v0", budget_samples=5000)``; the
MDP is the generic parameter-editing one (envs/param_env.py), editing ``group_size``
parameters per step since the table has hundreds to thousands.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from envs.param_env import ParamTuningEnv, make_task_env

ENV_ID = "tunebench/BlockSimParams-v0"


def make_blocksim_env(
    dataset: str = "bhive_znver3",
    cpu: str = "znver3",
    max_items: int | None = None,
    jobs: int = 1,
    budget_samples: int = 100_000,
    minibatch: int | None = 32,
    minibatch_seed: int = 0,
    group_size: int | None = 32,
    **env_kwargs: Any,
) -> ParamTuningEnv:
    """The ``blocksim`` task with its own budget of ``budget_samples``."""
    options: dict[str, Any] = {"dataset": dataset, "cpu": cpu, "jobs": jobs}
    if max_items is not None:
        options["max_items"] = max_items
    return make_task_env(
        "blocksim",
        options,
        budget_samples,
        minibatch,
        minibatch_seed,
        group_size=group_size,
        **env_kwargs,
    )


if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="envs.blocksim.env:make_blocksim_env")
