"""The opt-in BHive-state memory model (envs/blocksim/bhive_state.py): which loads depend
on which stores when every register starts equal, and how the three forwarding
parameters time them."""

from __future__ import annotations

import pytest

from envs.blocksim.bhive_state import MemDep, access_bytes, bhive_memory_deps
from envs.blocksim.simulator import BlockSim
from envs.blocksim.tables import Table
from tests.test_blocksim_rules import asm

COPY = ["movq (%rsi), %rcx", "movq %rcx, (%rdi)"]  # RSI and RDI both hold 0x2324000
STACK_RMW = ["subl $1, 96(%rsp)"]


@pytest.fixture(scope="module")
def sims() -> tuple[BlockSim, BlockSim]:
    return BlockSim("znver3"), BlockSim("znver3", bhive_state=True)


def deps(sim: BlockSim, lines: list[str]) -> list[MemDep]:
    table = sim.default_table()
    idx = table.index()
    h = asm(lines)
    blk = sim.compiled([h])[0]
    assert blk is not None
    loads = [bool(table.may_load[idx[k]]) for k in blk.keys]
    stores = [bool(table.may_store[idx[k]]) for k in blk.keys]
    return bhive_memory_deps(sim.decode([h])[0], blk.infos, loads, stores)


def test_loads_find_the_stores_they_read_under_the_initial_state(
    sims: tuple[BlockSim, BlockSim],
) -> None:
    _, sim = sims
    cases: dict[str, tuple[list[str], list[tuple[int, int, int, bool, bool]]]] = {
        # (lines, [(load, store, distance, exact, stack)])
        "different registers, same value": (COPY, [(0, 1, 1, True, False)]),
        "partial overlaps": (
            ["movq 6(%rsi), %rdx", "movq (%rsi), %rcx", "movq %rdx, 6(%rdi)", "movq %rcx, (%rdi)"],
            [(0, 3, 1, False, False), (1, 3, 1, True, False)],
        ),
        "adjacent, not overlapping": (["testl %esi, 28(%rdi)", "movl %esi, 32(%rdi)"], []),
        "stack slot": (STACK_RMW, [(0, 0, 1, True, True)]),
        "pointer moved each iteration": (
            ["addq $8, %rdi", "movq %rax, (%rdi)", "movq -8(%rdi), %rbx"],
            [(2, 1, 1, True, False)],
        ),
        "unknown address": (["imulq %rbx, %rdi", "movq %rax, (%rdi)", "movq (%rsi), %rbx"], []),
        "prefetch reads nothing": (["prefetcht0 (%rdi)", "movq %rax, (%rdi)"], []),
        "push then pop": (["pushq %rax", "popq %rbx"], [(1, 0, 0, True, True)]),
    }
    for name, (lines, want) in cases.items():
        got = [(d.load, d.store, d.dist, d.exact, d.stack) for d in deps(sim, lines)]
        assert got == want, name


def test_access_sizes_come_from_the_data_operand_not_the_address() -> None:
    from envs.x86.disasm import disassemble

    sizes = {
        "testl %esi, 28(%rdi)": 4,
        "sete 32(%rsp)": 1,
        "addl $3, 108(%rsp)": 4,
        "vmovdqu (%rdi), %ymm0": 32,
        "movsd (%rax), %xmm1": 8,
        "vaddss (%rcx,%rax,4), %xmm2, %xmm2": 4,
        "movzbl (%r15), %eax": 1,
        "movw %cx, (%rax)": 2,
    }
    for line, size in sizes.items():
        inst = disassemble([asm([line])])[0]
        assert inst is not None
        assert access_bytes(inst[0]) == size, line


def test_forwarding_parameters_time_the_chains(sims: tuple[BlockSim, BlockSim]) -> None:
    plain, sim = sims
    base = sim.default_table()
    assert base.param_names([])[:5] == [
        "dispatch_width", "rob_size", "store_forward", "store_forward_fail", "store_forward_stack",
    ]  # fmt: skip
    # a stack read-modify-write feeds itself through the memory file: one
    # store_forward_stack per iteration (at least the ALU op's cycle)
    per_iter = []
    for ss in (1, 3, 6):
        t = base.with_flat(["store_forward_stack"], [ss])
        per_iter.append(float(sim.predict([asm(STACK_RMW)], t)[0]) / 100)
    assert per_iter == pytest.approx([1, 3, 6], abs=0.2)
    # the copy through RSI / RDI chains iterations: slower than llvm-mca's, and more so
    # with a longer forwarding latency
    h = asm(COPY)
    free = float(plain.predict([h], plain.default_table())[0])
    slow = [float(sim.predict([h], base.with_flat(["store_forward"], [sf]))[0]) for sf in (2, 8)]
    assert free < slow[0] < slow[1]
    with pytest.raises(ValueError, match="BHive-state"):
        BlockSim("znver3", extended=True).predict([h], base)


def test_new_globals_survive_a_file_round_trip(tmp_path, sims: tuple[BlockSim, BlockSim]) -> None:
    _, sim = sims
    t = sim.default_table().with_flat(["store_forward_fail", "store_forward_stack"], [21, 2])
    t.save(tmp_path / "t.json.gz")
    back = Table.load(tmp_path / "t.json.gz")
    assert (back.store_forward_fail, back.store_forward_stack) == (21, 2)
    assert "bhive_state" in back.extensions


def test_the_task_option_adds_the_parameters_and_says_so() -> None:
    from envs.blocksim.task import make_blocksim_task
    from tests.conftest import SMALL_DATASET

    task = make_blocksim_task(dataset=str(SMALL_DATASET), bhive_state=True, stack_engine=True)
    names = list(task.param_space.names)
    assert {"store_forward", "store_forward_fail", "store_forward_stack"} <= set(names)
    assert task.facts()["bhive_state"] == "on"
    assert "BHive-state memory" in task.description
    plain = make_blocksim_task(dataset=str(SMALL_DATASET))
    assert "store_forward_fail" not in plain.param_space.names
