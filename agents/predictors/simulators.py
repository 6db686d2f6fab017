"""Picklable predictors that run a simulator on the blocks they are given: blocksim
under a table (its CPU's default, or a tuned one) and stock llvm-mca.

Each builds its simulator on first use in the process that calls it (the harness's
scoring process), so what crosses the isolation channel is a few names and numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

DEFAULT_CPU = "znver3"


def task_cpu(own: str, facts: Mapping[str, str]) -> str:
    """The CPU a predictor agent models: its own ``cpu`` option when given, else the
    task's (``TrialContext.task_facts["cpu"]``), else :data:`DEFAULT_CPU`. Taking the
    task's keeps a znver4 task from being decoded and anchored as znver3 unasked."""
    return own or facts.get("cpu") or DEFAULT_CPU


def task_stack_engine(facts: Mapping[str, str]) -> bool:
    """Whether the task's blocksim runs with its opt-in stack engine (the task's fact
    ``stack_engine``): a predictor that re-simulates at test time must do the same."""
    return facts.get("stack_engine") == "on"


def task_blocksim_options(facts: Mapping[str, str]) -> dict[str, Any]:
    """The task's opt-in blocksim models (facts ``stack_engine``, ``bhive_state``,
    ``front_end``, ``differenced``) and its starting table (fact ``table``, a file from
    ``tunebench export``), as :class:`BlockSimPredictor` keywords: a predictor that
    re-simulates must use them, or it predicts with another table than the task's
    default configuration, which is what an anchored model was trained against."""
    return {
        "stack_engine": task_stack_engine(facts),
        "bhive_state": facts.get("bhive_state") == "on",
        "front_end": facts.get("front_end") == "on",
        "differenced": facts.get("differenced") == "on",
        "table_file": facts.get("table", ""),
    }


class BlockSimPredictor:
    """blocksim with ``cpu``'s default table (or ``table_file``), the named parameters set.

    Args:
        cpu: the blocksim CPU (its default table and structural rules).
        names, values: table parameters (``lat:ADD32rr`` ...) and their values; none:
            the base table as it is.
        stack_engine: blocksim's opt-in stack engine (as the task's simulator has it).
        bhive_state, front_end, differenced: blocksim's other opt-in models (likewise).
        table_file: the base table, a file from ``tunebench export`` (as the task's
            ``table`` option); empty: the CPU's default table. Read on first use.
    """

    def __init__(
        self,
        cpu: str = "znver3",
        names: Sequence[str] = (),
        values: Sequence[float] = (),
        stack_engine: bool = False,
        bhive_state: bool = False,
        front_end: bool = False,
        differenced: bool = False,
        table_file: str = "",
    ) -> None:
        if len(names) != len(values):
            raise ValueError(f"{len(names)} parameter names but {len(values)} values")
        self.cpu = cpu
        self.stack_engine = bool(stack_engine)
        self.bhive_state = bool(bhive_state)
        self.front_end = bool(front_end)
        self.differenced = bool(differenced)
        self.table_file = str(table_file)
        self.names = tuple(names)
        self.values = np.asarray(values, np.float64)
        self._sim: Any = None
        self._table: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_sim": None, "_table": None}

    def __call__(self, blocks_hex: Sequence[str]) -> np.ndarray:
        """float64 [n] cycles per 100 iterations (NaN: undecodable)."""
        if self._sim is None:
            from envs.blocksim.simulator import shared_blocksim

            self._sim = shared_blocksim(
                self.cpu,
                stack_engine=self.stack_engine,
                bhive_state=getattr(self, "bhive_state", False),  # absent: pickled before it
                front_end=getattr(self, "front_end", False),
                differenced=getattr(self, "differenced", False),
            )
            from envs.blocksim.task import task_base_table

            table = task_base_table(self._sim, getattr(self, "table_file", "") or None)
            self._table = table.with_flat(self.names, self.values) if self.names else table
        return self._sim.predict(list(blocks_hex), self._table)


class McaPredictor:
    """Stock llvm-mca (``-mcpu``, no knobs), one process per 400 blocks, ``jobs`` at once.

    Args:
        mcpu: the llvm-mca CPU model; llvm: 14 or 22 (znver4/5 need 22).
    """

    def __init__(self, mcpu: str = "znver3", llvm: int = 14, jobs: int = 1) -> None:
        self.mcpu, self.llvm, self.jobs = mcpu, int(llvm), int(jobs)
        self._sim: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_sim": None}

    def __call__(self, blocks_hex: Sequence[str]) -> np.ndarray:
        """float64 [n] cycles per 100 iterations (NaN: rejected or undecodable)."""
        if self._sim is None:
            self._sim = _mca_simulator(self.llvm, self.jobs)
        return self._sim.predict(list(blocks_hex), {"mcpu": self.mcpu})


def _mca_simulator(llvm: int, jobs: int) -> Any:
    """An :class:`envs.mca.simulator.McaSimulator` for ``llvm`` (14 or 22)."""
    from envs.mca.simulator import McaSimulator

    return McaSimulator(iterations=100, jobs=jobs, llvm=llvm)
