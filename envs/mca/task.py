"""Task ``mca``: tune stock llvm-mca 14's knobs against measured block throughput."""

from __future__ import annotations

from envs.groundtruth.datasets import DEFAULT_DATASET, cpu_mismatch_note, load_measured
from envs.mca.simulator import McaSimulator
from harness.errors import UserError
from harness.params import CategoricalParam, IntParam, ParamSpace
from harness.task import TimingTask

# x86-64 CPU models with their own scheduling model in LLVM 14 (aliases left out).
MCA_CPUS: tuple[str, ...] = (
    "znver3",
    "znver2",
    "znver1",
    "btver2",
    "bdver2",
    "haswell",
    "broadwell",
    "skylake",
    "skylake-avx512",
    "icelake-server",
    "sandybridge",
    "alderlake",
    "silvermont",
    "goldmont",
    "knl",
    "x86-64",
)

# (name, upper bound); lower bound 0 = the CPU model's own value, llvm-mca's default.
MCA_KNOBS: tuple[tuple[str, int], ...] = (
    ("dispatch_width", 12),
    ("micro_op_queue_size", 128),
    ("decoder_throughput", 8),
    ("register_file_size", 512),
    ("load_queue_size", 128),
    ("store_queue_size", 128),
)


def mca_param_space(cpu: str) -> ParamSpace:
    """``mcpu`` plus llvm-mca's global knobs; the default is stock llvm-mca for ``cpu``."""
    if cpu not in MCA_CPUS:
        raise UserError(f"cpu {cpu!r} is not one of {', '.join(MCA_CPUS)}")
    return ParamSpace(
        [CategoricalParam("mcpu", MCA_CPUS, cpu)]
        + [IntParam(name, 0, high, 0) for name, high in MCA_KNOBS]
    )


def make_mca_task(
    dataset: str = DEFAULT_DATASET,
    cpu: str = "znver3",
    max_items: int | None = None,
    jobs: int | None = None,
    iterations: int = 100,
) -> TimingTask:
    """llvm-mca 14 (-mcpu + 6 global knobs) vs measured cycles per 100 iterations.

    Args:
        dataset: shipped dataset name or a CSV path (measured or BHive format).
        cpu: the CPU the ground truth was measured on; the default configuration.
        max_items: keep only this many blocks (a stable hash-chosen subset).
        jobs: llvm-mca processes at once (default: all cores).
        iterations: llvm-mca iterations (100 = the ground truth's unit).
    """
    data = load_measured(dataset, max_items)
    sim = McaSimulator(iterations=iterations, jobs=jobs)
    bad = sim.decode(data.inputs)
    if bad:
        raise UserError(
            f"dataset {data.name}: {len(bad)} block(s) do not decode as x86-64, "
            f"e.g. {bad[0][:40]!r}; remove them from the file"
        )
    note = cpu_mismatch_note(data, cpu)
    return TimingTask(
        name="mca",
        description=f"llvm-mca {cpu} knobs vs {data.name} ({len(data)} blocks)"
        + (f" [{note}]" if note else ""),
        dataset=data,
        simulator=sim,
        param_space=mca_param_space(cpu),
        notes=[note] if note else [],
    )
