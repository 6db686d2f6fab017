"""Simulated microarchitectures for the representation learners (perfvec): the task's
default configuration, sampled configurations of its simulator, and, on a
cross-microarchitecture task, the source CPU's measurements.

- blocksim-style spaces (integer table parameters named ``FIELD:KEY``): DiffTune's
  ``mixed`` sampling (:func:`agents.difftune.sampling.sample_tables`): most tables move a
  random share of the default's entries by a few steps (nearby microarchitectures),
  ``uniform_share`` of them draw every entry from DiffTune's ranges (far ones);
- other spaces (e.g. llvm-mca: ``mcpu`` x global knobs): uniform samples of the space.

Cross-microarchitecture tasks (``envs/xuarch``) add a categorical parameter
:data:`MACHINE` whose value :data:`SOURCE` makes an evaluation return the source CPU's
measured cycles (free labels, paid as samples) instead of the simulator's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.difftune.layout import Layout
from agents.difftune.sampling import sample_tables
from harness.params import CategoricalParam, IntParam, ParamSpace

MACHINE = "machine"  # the cross-uarch tasks' parameter choosing simulator or source data
SOURCE = "source"  # its value for the source CPU's measurements


def table_space(space: ParamSpace) -> ParamSpace | None:
    """The integer table parameters of ``space`` (None if it has none named ``F:KEY``)."""
    ints = [p for p in space if isinstance(p, IntParam)]
    if not any(":" in p.name for p in ints):
        return None
    return ParamSpace(ints)


def source_config(space: ParamSpace) -> dict[str, Any] | None:
    """The configuration that returns the source CPU's measurements, if the task has one."""
    if MACHINE not in space.names:
        return None
    p = space[MACHINE]
    if not isinstance(p, CategoricalParam) or SOURCE not in p.choices:
        return None
    return {**space.default(), MACHINE: SOURCE}


def sample_uarchs(
    space: ParamSpace, n: int, rng: np.random.Generator, uniform_share: float = 0.1
) -> list[dict[str, Any]]:
    """``n`` valid configurations of the simulator (never the source one)."""
    if n <= 0:
        return []
    tables = table_space(space)
    if tables is None:
        out = []
        for _ in range(n):
            cfg = space.sample(rng)
            if MACHINE in cfg and cfg[MACHINE] == SOURCE:
                cfg[MACHINE] = space.default()[MACHINE]
            out.append(cfg)
        return out
    layout = Layout.from_space(tables)
    base = space.default()
    return [
        {**base, **layout.to_config(t)}
        for t in sample_tables(layout, n, rng, "mixed", uniform_share)
    ]
