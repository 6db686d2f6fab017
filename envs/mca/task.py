"""Task ``mca``: tune stock llvm-mca's knobs (LLVM 14 or 22) against measured block
throughput."""

from __future__ import annotations

from envs.groundtruth.datasets import DEFAULT_DATASET, cpu_mismatch_note, load_measured, make_split
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
# LLVM 22 adds models for newer CPUs (Zen 4 and 5 among them).
MCA_CPUS_22: tuple[str, ...] = (*MCA_CPUS, "znver4", "znver5", "sapphirerapids")

# (name, upper bound); lower bound 0 = the CPU model's own value, llvm-mca's default.
MCA_KNOBS: tuple[tuple[str, int], ...] = (
    ("dispatch_width", 12),
    ("micro_op_queue_size", 128),
    ("decoder_throughput", 8),
    ("register_file_size", 512),
    ("load_queue_size", 128),
    ("store_queue_size", 128),
)


def mca_cpus(llvm: int) -> tuple[str, ...]:
    """The ``-mcpu`` models of llvm-mca ``llvm`` (14 or 22)."""
    if llvm not in (14, 22):
        raise UserError(f"llvm must be 14 or 22, not {llvm!r}")
    return MCA_CPUS if llvm == 14 else MCA_CPUS_22


def mca_param_space(cpu: str, llvm: int = 14) -> ParamSpace:
    """``mcpu`` plus llvm-mca's global knobs; the default is stock llvm-mca for ``cpu``."""
    cpus = mca_cpus(llvm)
    if cpu not in cpus:
        raise UserError(f"cpu {cpu!r} is not an LLVM {llvm} model: one of {', '.join(cpus)}")
    return ParamSpace(
        [CategoricalParam("mcpu", cpus, cpu)]
        + [IntParam(name, 0, high, 0) for name, high in MCA_KNOBS]
    )


def make_mca_task(
    dataset: str = DEFAULT_DATASET,
    cpu: str = "znver3",
    max_items: int | None = None,
    jobs: int | None = None,
    iterations: int = 100,
    split: str = "hash",
    llvm: int = 14,
) -> TimingTask:
    """llvm-mca (-mcpu + 6 global knobs) vs measured cycles per 100 iterations.

    Args:
        dataset: shipped dataset name or a CSV path (measured or BHive format).
        cpu: the CPU model the default configuration uses (the one the ground truth
            was measured on, where llvm-mca has it).
        max_items: keep only this many blocks (a stable hash-chosen subset).
        jobs: llvm-mca processes at once (default: all cores).
        iterations: llvm-mca iterations (100 = the ground truth's unit).
        split: ``hash`` (by block) or ``by-source`` (whole applications held out).
        llvm: 14 or 22 (LLVM 22 models znver4 and znver5).
    """
    space = mca_param_space(cpu, llvm)
    data = load_measured(dataset, max_items)
    sim = McaSimulator(iterations=iterations, jobs=jobs, llvm=llvm)
    bad = sim.decode(data.inputs)
    if bad:
        raise UserError(
            f"dataset {data.name}: {len(bad)} block(s) do not decode as x86-64, "
            f"e.g. {bad[0][:40]!r}; remove them from the file"
        )
    note = cpu_mismatch_note(data, cpu)
    return TimingTask(
        name="mca",
        description=f"llvm-mca {llvm} {cpu} knobs vs {data.name} ({len(data)} blocks)"
        + (f" [{note}]" if note else ""),
        dataset=data,
        simulator=sim,
        param_space=space,
        split=make_split(data, split),
        notes=[note] if note else [],
        facts={"cpu": cpu, "llvm": str(llvm)},
    )
