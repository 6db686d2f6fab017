"""Task ``blocksim``: tune blocksim's full parameter table against measured throughput.

Parameters: the two globals (``dispatch_width``, ``rob_size``) plus, for every table
key that occurs in the training split, its latency, micro-ops, ReadAdvance and the
cycles on each resource it uses in the default table (names as in
:meth:`envs.blocksim.tables.Table.param_names`). The default configuration is the
CPU's default table (LLVM 14's scheduling model as llvm-mca sees it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from envs.blocksim import zeroset
from envs.blocksim.references import BlockSimReference
from envs.blocksim.simulator import BlockSim
from envs.blocksim.tables import Table
from envs.groundtruth.datasets import DEFAULT_DATASET, cpu_mismatch_note, load_measured, make_split
from harness.errors import UserError
from harness.params import IntParam, ParamSpace
from harness.task import DETERMINISTIC, INPUTS, PREDICTOR, TARGETS, TOKENS, TimingTask


def param_bounds(name: str, default: int) -> tuple[int, int]:
    """[low, high] of a table parameter: DiffTune's ranges, widened to hold the default."""
    if name == "dispatch_width":
        return 1, max(10, default)
    if name == "rob_size":
        return 32, max(512, default)
    head = name.split(":", 1)[0]
    if head == "lat":
        return 0, max(5, 2 * default)
    if head == "uops":
        return 1, max(5, 2 * default)
    if head == "ra":
        return 0, max(5, 2 * default)
    return 0, max(3, 2 * default)  # port.<resource>


def blocksim_param_space(table: Table, keys: Sequence[str]) -> ParamSpace:
    """Integer parameters for the globals and ``keys`` (their used resources)."""
    names = table.param_names(keys, ports="used")
    values = table.to_flat(names)
    params = []
    for name, v in zip(names, values, strict=True):
        d = int(v)
        lo, hi = param_bounds(name, d)
        params.append(IntParam(name, lo, hi, d))
    return ParamSpace(params)


class BlockSimSimulator:
    """Adapter: harness config (flat parameter dict) -> blocksim table -> prediction."""

    name = "blocksim"

    def __init__(self, sim: BlockSim, names: Sequence[str], base: Table | None = None) -> None:
        self.sim = sim
        self.names = list(names)
        self.base = base if base is not None else sim.default_table()
        self._all = self.base.flat_index(self.names)  # located once, used every call
        self._name_set = frozenset(self.names)

    def table(self, config: Mapping[str, Any]) -> Table:
        """The default table with ``config``'s parameters set (missing ones: default)."""
        if len(config) == len(self.names) and self._name_set.issubset(config.keys()):
            return self.base.with_flat(self._all, [config[n] for n in self.names])
        names = [n for n in self.names if n in config]
        return self.base.with_flat(names, [config[n] for n in names])

    def predict(self, inputs: Sequence[str], config: Mapping[str, Any]) -> np.ndarray:
        """float64 [n] cycles per 100 iterations; NaN for undecodable blocks."""
        return self.sim.predict(inputs, self.table(config))

    def versions(self) -> dict[str, str]:
        return self.sim.versions()


class BlockSimTask(TimingTask):
    """The blocksim timing task; also exposes each block's table keys as its tokens."""

    simulator: BlockSimSimulator
    capabilities = frozenset({DETERMINISTIC, TARGETS, INPUTS, TOKENS, PREDICTOR})

    def item_tokens(self, split: str, items: np.ndarray) -> list[list[str]]:
        """Per block, its instructions' table keys (``lat:KEY`` etc. in the space)."""
        compiled = self.simulator.sim.compiled(self.inputs(split, items))
        return [[] if b is None else list(b.keys) for b in compiled]


def task_base_table(sim: BlockSim, table: str | Path | None) -> Table:
    """The table a blocksim task starts from: ``sim``'s CPU default, or the table file
    ``table`` (from ``tunebench export``) made to fit ``sim``'s opt-in models.

    A plain tuned table gets the BHive-state rows and the front-end extension when
    ``sim`` has those models; a table tuned with a model ``sim`` lacks is refused
    (UserError), since its values only mean something with that model.
    """
    from envs.blocksim.export import load_table_file

    if table is None:
        return sim.default_table()
    base = load_table_file(table)
    extensions = sim.default_table().extensions
    if "bhive_state" in extensions and "bhive_state" not in base.extensions:
        base = replace(zeroset.with_zx_rows(base), extensions=extensions)
    elif "bhive_state" not in extensions and "bhive_state" in base.extensions:
        raise UserError(f"{table} was tuned with the BHive-state memory model: set bhive_state")
    if ("front_end" in extensions) != ("front_end" in base.extensions):
        if "front_end" in base.extensions:
            raise UserError(f"{table} was tuned with the front-end bound: set front_end")
        base = replace(base, extensions=(*base.extensions, "front_end"))
    return base


def make_blocksim_task(
    dataset: str = DEFAULT_DATASET,
    cpu: str = "znver3",
    max_items: int | None = None,
    jobs: int = 1,
    iterations: int = 100,
    split: str = "hash",
    table: str | None = None,
    stack_engine: bool = False,
    bhive_state: bool = False,
    front_end: bool = False,
    differenced: bool = False,
    references: Sequence[str] = (),
) -> BlockSimTask:
    """blocksim: its full per-opcode table (plus globals) vs measured cycles per 100 iterations.

    Args:
        dataset: shipped dataset name or a CSV path (measured or BHive format).
        cpu: CPU whose default table is the starting point.
        max_items: keep only this many blocks (a stable hash-chosen subset).
        jobs: numba threads per prediction call.
        iterations: blocksim iterations (100 = the ground truth's unit).
        split: ``hash`` (by block) or ``by-source`` (whole applications held out).
        table: a table file written by ``tunebench export`` to start from (its values
            are the default configuration) instead of the CPU's default table.
        stack_engine: blocksim's opt-in stack engine (PUSH / POP write no RSP, as
            LLVM 22's llvm-mca has it; see :class:`envs.blocksim.simulator.BlockSim`).
        bhive_state: blocksim's opt-in memory model of how the ground truth is measured
            (loads wait for the stores whose bytes they read when every register starts
            equal; :mod:`envs.blocksim.bhive_state`): three more parameters,
            ``store_forward``, ``store_forward_fail`` and ``store_forward_stack``.
        front_end: blocksim's opt-in front-end bound (at least n / ``front_end_width``
            cycles per iteration for n instructions; one more parameter).
        differenced: predict T(200) - T(100) as the ground truth is measured (the
            block unrolled 100x and 200x), not llvm-mca's T(100), which also counts
            filling and draining the pipeline (:class:`BlockSim`); no parameter.
        references: reference simulators agents may buy samples of
            (:mod:`envs.blocksim.references`: ``znver4``, ``haswell/plain``, ...).
    """
    models = {
        "stack_engine": stack_engine,
        "bhive_state": bhive_state,
        "front_end": front_end,
        "differenced": differenced,
    }
    refs = {name: BlockSimReference(name, models) for name in references}
    data = load_measured(dataset, max_items)
    sim = BlockSim(
        cpu,
        iterations=iterations,
        jobs=jobs,
        stack_engine=stack_engine,
        bhive_state=bhive_state,
        front_end=front_end,
        differenced=differenced,
    )
    compiled = sim.compiled(data.inputs)
    bad = [h for h, b in zip(data.inputs, compiled, strict=True) if b is None]
    if bad:
        raise UserError(
            f"dataset {data.name}: {len(bad)} block(s) do not decode as x86-64, "
            f"e.g. {bad[0][:40]!r}; remove them from the file"
        )
    base = task_base_table(sim, table)
    parts = make_split(data, split)
    train = parts.train
    known = set(base.opcodes)
    keys = sorted({k for i in train for k in compiled[i].keys if k in known})  # type: ignore[union-attr]
    space = blocksim_param_space(base, keys)
    note = cpu_mismatch_note(data, cpu)
    for option, now, what in (
        ("stack_engine", stack_engine, "the stack engine"),
        ("differenced", differenced, "differenced predictions"),
    ):
        tuned_with = base.meta.get(option)
        if table is not None and tuned_with is not None and bool(tuned_with) != now:
            model_note = (
                f"{Path(table).name} was tuned with {what} {'on' if tuned_with else 'off'}; "
                f"this task has it {'on' if now else 'off'} (option {option})"
            )
            note = f"{note}; {model_note}" if note else model_note
    return BlockSimTask(
        name="blocksim",
        description=(
            f"blocksim {cpu} {'table ' + Path(table).name if table else 'table'}"
            f"{' + stack engine' if stack_engine else ''}"
            f"{' + BHive-state memory' if bhive_state else ''}"
            f"{' + front-end bound' if front_end else ''}"
            f"{' + differenced (T(200) - T(100))' if differenced else ''}"
            f"{' (references: ' + ', '.join(refs) + ')' if refs else ''} vs "
            f"{data.name} ({len(data)} blocks): "
            f"{len(keys)} opcodes in train, {len(space)} parameters"
        )
        + (f" [{note}]" if note else ""),
        dataset=data,
        simulator=BlockSimSimulator(sim, list(space.names), base=base),
        param_space=space,
        split=parts,
        notes=[note] if note else [],
        facts={
            "cpu": cpu,
            **({"stack_engine": "on"} if stack_engine else {}),
            **({"bhive_state": "on"} if bhive_state else {}),
            **({"front_end": "on"} if front_end else {}),
            **({"differenced": "on"} if differenced else {}),
            # Predictors that re-simulate start from the same table (absolute: the
            # scoring process need not share the task's working directory).
            **({"table": str(Path(table).resolve())} if table is not None else {}),
        },
        references=refs,
    )
