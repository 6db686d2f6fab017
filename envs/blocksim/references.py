"""Reference simulators of a blocksim task: blocksim under other CPUs' default tables.

A name is ``CPU`` (one of :data:`envs.blocksim.tables.DEFAULT_CPUS`), predicting with the
task's own opt-in models (stack engine, BHive-state memory, front-end bound,
differenced), or ``CPU/plain``: none of them, llvm-mca's T(100) as LLVM's model has it.
What the task's table and another CPU's disagree on, and where the opt-in models
matter, are features a learned predictor can use (``boosted-residual``); each costs one
simulator sample per block (:meth:`harness.budget.BudgetedObjective.evaluate_reference`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from envs.blocksim.tables import DEFAULT_CPUS
from harness.errors import UserError

MODELS = ("stack_engine", "bhive_state", "front_end", "differenced")


def check_reference(name: str) -> None:
    """UserError unless ``name`` is ``CPU`` or ``CPU/plain`` for a shipped table."""
    cpu, _, variant = name.partition("/")
    if cpu not in DEFAULT_CPUS or variant not in ("", "plain"):
        raise UserError(
            f"reference simulator {name!r}: expected CPU or CPU/plain, CPU one of "
            f"{', '.join(DEFAULT_CPUS)}"
        )


class BlockSimReference:
    """Picklable: hex blocks -> cycles per 100 iterations under reference ``name``.

    Args:
        name: ``CPU`` or ``CPU/plain`` (:func:`check_reference`).
        models: the task's opt-in models, ``{"stack_engine": True, ...}`` (keys in
            :data:`MODELS`); ignored for ``CPU/plain``.
    """

    def __init__(self, name: str, models: Mapping[str, bool]) -> None:
        check_reference(name)
        self.name = name
        plain = name.endswith("/plain")
        self.models = {m: bool(models.get(m, False)) and not plain for m in MODELS}
        self._sim: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_sim": None}

    def __call__(self, blocks_hex: Sequence[str]) -> np.ndarray:
        if self._sim is None:
            from envs.blocksim.simulator import shared_blocksim

            self._sim = shared_blocksim(self.name.partition("/")[0], **self.models)
        return self._sim.predict(list(blocks_hex), self._sim.default_table())
