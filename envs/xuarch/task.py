"""Task ``xuarch``: predict a target CPU's block throughput with the source CPU's
labels free and the target's labels budgeted.

Items: the blocks of the source dataset (synthetic target) or the blocks measured on
both CPUs (measured target), split as the timing tasks are (``by-source`` by default).
``targets``: the target CPU's cycles per 100 iterations (charged labels).

Parameters: blocksim's table for the training split's keys (as the ``blocksim`` task;
the default is the CPU's stock table) plus ``machine``: ``blocksim`` (the simulator
under the table, the default) or ``source``, for which ``evaluate`` returns the source
CPU's measured cycles of the items, whatever the table: one charged *sample* per item,
no label. So an agent buys source labels from the sample budget, target labels from the
label budget, and the harness scores a configuration or a predictor on the target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from envs.blocksim.simulator import BlockSim
from envs.blocksim.task import BlockSimSimulator, blocksim_param_space
from envs.groundtruth.datasets import DEFAULT_DATASET, load_measured, make_split
from envs.xuarch.synthetic import simulate_in_child
from harness.dataset import Dataset
from harness.errors import UserError
from harness.params import CategoricalParam, ParamSpace
from harness.task import DETERMINISTIC, INPUTS, PREDICTOR, TARGETS, TOKENS, TimingTask

MACHINE = "machine"  # agents/predictors/uarchs.py reads the same names
MACHINES = ("blocksim", "source")


class XUarchSimulator:
    """config -> blocksim under the table, or the source CPU's measurements."""

    name = "xuarch"

    def __init__(self, sim: BlockSimSimulator, source: Mapping[str, float], source_name: str):
        self.sim = sim
        self.source = dict(source)
        self.source_name = source_name

    def predict(self, inputs: Sequence[str], config: Mapping[str, Any]) -> np.ndarray:
        """float64 [n] cycles per 100 iterations (NaN: undecodable / not measured)."""
        if config.get(MACHINE) == "source":
            return np.array([self.source.get(h, np.nan) for h in inputs], np.float64)
        return self.sim.predict(inputs, {k: v for k, v in config.items() if k != MACHINE})

    def versions(self) -> dict[str, str]:
        return {**self.sim.versions(), "xuarch_source": self.source_name}


class XUarchTask(TimingTask):
    """The cross-microarchitecture task; exposes blocks' table keys as tokens."""

    simulator: XUarchSimulator
    capabilities = frozenset({DETERMINISTIC, TARGETS, INPUTS, TOKENS, PREDICTOR})

    def item_tokens(self, split: str, items: np.ndarray) -> list[list[str]]:
        compiled = self.simulator.sim.sim.compiled(self.inputs(split, items))
        return [[] if b is None else list(b.keys) for b in compiled]


def _synthetic_targets(
    data: Dataset, cpu: str, seed: int, strength: float, stack_engine: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(target cycles float64 [n] of blocksim under the perturbed table, ok bool [n])."""
    y = simulate_in_child(list(data.inputs), cpu, seed, strength, stack_engine)
    return y, np.isfinite(y) & (y > 0)


def make_xuarch_task(
    source: str = DEFAULT_DATASET,
    target: str = "synthetic:0",
    cpu: str = "znver3",
    strength: float = 0.3,
    split: str = "by-source",
    max_items: int | None = None,
    jobs: int = 1,
    stack_engine: bool = False,
) -> XUarchTask:
    """Cross-microarchitecture prediction: the source CPU's labels free, the target's budgeted.

    Args:
        source: the source CPU's measured dataset (name or CSV path).
        target: ``synthetic:<seed>`` (blocksim under ``cpu``'s default table perturbed
            with ``strength``, see envs/xuarch/synthetic.py), or a measured dataset of
            the target CPU (its blocks also in ``source`` are the items).
        cpu: blocksim CPU: the simulator's default table (and the synthetic base).
        split: ``hash`` or ``by-source``.
        max_items: keep this many source blocks (a stable hash-chosen subset).
        jobs: numba threads per blocksim call.
        stack_engine: blocksim's opt-in stack engine (PUSH / POP write no RSP; see
            :class:`envs.blocksim.simulator.BlockSim`), for the simulator and for a
            synthetic target alike.
    """
    src = load_measured(source, max_items)
    sim = BlockSim(cpu, jobs=jobs, stack_engine=stack_engine)
    bad = [h for h, b in zip(src.inputs, sim.compiled(src.inputs), strict=True) if b is None]
    if bad:
        raise UserError(
            f"dataset {src.name}: {len(bad)} block(s) do not decode, e.g. {bad[0][:40]!r}"
        )
    if target.startswith("synthetic:"):
        try:
            seed = int(target.split(":", 1)[1])
        except ValueError:
            raise UserError(f"xuarch: target {target!r}: expected synthetic:<int seed>") from None
        y, ok = _synthetic_targets(src, cpu, seed, strength, stack_engine)
        inputs = tuple(h for h, k in zip(src.inputs, ok, strict=True) if k)
        source_cycles = dict(zip(src.inputs, src.targets.tolist(), strict=True))
        data = Dataset(
            name=f"{target}({cpu}, s={strength}) <- {src.name}",
            inputs=inputs,
            targets=y[ok],
            meta={"uarch": f"{target}", "source": src.name, "source_uarch": src.meta.get("uarch")},
        )
    else:
        tgt = load_measured(target)
        both = {h: i for i, h in enumerate(src.inputs)}
        keep = [(h, t) for h, t in zip(tgt.inputs, tgt.targets.tolist(), strict=True) if h in both]
        if not keep:
            raise UserError(f"xuarch: {tgt.name} and {src.name} share no block")
        source_cycles = {h: float(src.targets[both[h]]) for h, _ in keep}
        data = Dataset(
            name=f"{tgt.name} <- {src.name}",
            inputs=tuple(h for h, _ in keep),
            targets=np.array([t for _, t in keep], np.float64),
            meta={**tgt.meta, "source": src.name, "source_uarch": src.meta.get("uarch")},
        )
    parts = make_split(data, split)
    compiled = sim.compiled(data.inputs)
    base = sim.default_table()
    known = set(base.opcodes)
    keys = sorted({k for i in parts.train for k in compiled[i].keys if k in known})  # type: ignore[union-attr]
    table_space = blocksim_param_space(base, keys)
    space = ParamSpace([*table_space, CategoricalParam(MACHINE, MACHINES, "blocksim")])
    note = (
        f"source labels ({src.name}, {src.meta.get('uarch', '?')}) are free as samples "
        f"(machine = source); target labels are budgeted"
    )
    return XUarchTask(
        name="xuarch",
        description=f"{data.name}: blocksim {cpu} table"
        f"{' + stack engine' if stack_engine else ''} + source measurements, "
        f"{len(data)} blocks, {len(space)} parameters",
        dataset=data,
        simulator=XUarchSimulator(
            BlockSimSimulator(sim, table_space.names, base), source_cycles, src.name
        ),
        param_space=space,
        split=parts,
        notes=[note],
        facts={"cpu": cpu, **({"stack_engine": "on"} if stack_engine else {})},
    )
