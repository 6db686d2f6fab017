"""``tunebench/MCAParams-v0``: the ``mca`` task (llvm-mca's knobs) as a gymnasium env.

``gym.make("envs.mca.env:tunebench/MCAParams-v0", budget_samples=5000)``; the MDP is the
generic parameter-editing one (envs/param_env.py).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from envs.param_env import ParamTuningEnv, make_task_env

ENV_ID = "tunebench/MCAParams-v0"


def make_mca_env(
    dataset: str = "bhive_znver3",
    cpu: str = "znver3",
    max_items: int | None = None,
    jobs: int | None = 1,
    budget_samples: int = 100_000,
    minibatch: int | None = 32,
    minibatch_seed: int = 0,
    **env_kwargs: Any,
) -> ParamTuningEnv:
    """The ``mca`` task (llvm-mca 14 knobs) with its own budget of ``budget_samples``."""
    options: dict[str, Any] = {"dataset": dataset, "cpu": cpu, "jobs": jobs}
    if max_items is not None:
        options["max_items"] = max_items
    return make_task_env("mca", options, budget_samples, minibatch, minibatch_seed, **env_kwargs)


if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="envs.mca.env:make_mca_env")
