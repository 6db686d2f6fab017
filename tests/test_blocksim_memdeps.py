"""The opt-in memory model (envs/blocksim/memdeps.py): off by default, store -> load
chains through provably identical addresses when on, ``store_forward`` tunable."""

from __future__ import annotations

import numpy as np
import pytest

from envs.blocksim.mcaref import mca_total_cycles
from envs.blocksim.memdeps import memory_deps
from envs.blocksim.simulator import BlockSim
from tests.test_blocksim_rules import asm

ROUND_TRIP = ["movq %rax, 8(%rsp)", "movq 8(%rsp), %rax"]
RMW = ["addl $1, (%rdi)"]


@pytest.fixture(scope="module")
def sims() -> tuple[BlockSim, BlockSim]:
    return BlockSim("znver3"), BlockSim("znver3", extended=True)


def test_default_is_llvm_mca_and_extension_chains_memory(sims: tuple[BlockSim, BlockSim]) -> None:
    plain, mem = sims
    for lines in (ROUND_TRIP, RMW):
        ref = float(mca_total_cycles([lines], "znver3", iterations=100)[0])
        assert float(plain.predict([asm(lines)], plain.default_table())[0]) == ref
        chained = float(mem.predict([asm(lines)], mem.default_table())[0])
        assert chained > ref  # the store -> load chain costs time llvm-mca ignores


def test_store_forward_is_a_tunable_parameter(sims: tuple[BlockSim, BlockSim]) -> None:
    plain, mem = sims
    assert "store_forward" not in plain.default_table().param_names([])
    base = mem.default_table()
    assert base.param_names([])[:3] == ["dispatch_width", "rob_size", "store_forward"]
    h = asm(RMW)
    per_iter = []
    for sf in (4, 8, 12):
        t = base.with_flat(["store_forward"], [sf])
        per_iter.append(float(mem.predict([h], t)[0]) / 100)
    # a read-modify-write feeds itself: one store-forwarding latency per iteration
    assert per_iter == pytest.approx([4, 8, 12], abs=0.2)
    with pytest.raises(ValueError, match="extended model"):
        plain.predict([h], base)


def test_only_provably_identical_addresses_chain(sims: tuple[BlockSim, BlockSim]) -> None:
    _, mem = sims
    cases = {
        # (lines, expected (load, store, distance) pairs)
        "round trip": (ROUND_TRIP, [(1, 0, 0)]),
        "rmw": (RMW, [(0, 0, 1)]),
        "base written": (["movq %rax, (%rdi)", "addq $8, %rdi", "movq (%rdi), %rax"], []),
        "32-bit write of the base": (
            ["movq %rax, (%rdi)", "movl %ecx, %edi", "movq (%rdi), %rcx"],
            [],
        ),
        "other displacement": (["movq %rax, 8(%rsp)", "movq 16(%rsp), %rax"], []),
        "index and scale": (
            ["movl %eax, 4(%rsi,%rcx,4)", "movl 4(%rsi,%rcx,4), %edx"],
            [(1, 0, 0)],
        ),
        "store after load": (["movl (%rdi), %eax", "incl %eax", "movl %eax, (%rdi)"], [(0, 2, 1)]),
        "nearest store": (
            ["movl %eax, (%rdi)", "movl %ecx, (%rdi)", "movl (%rdi), %edx"],
            [(2, 1, 0)],
        ),
    }
    table = mem.default_table()
    idx = table.index()
    for name, (lines, want) in cases.items():
        blk = mem.compiled([asm(lines)])[0]
        assert blk is not None
        insts = mem.decode([asm(lines)])[0]
        loads = [bool(table.may_load[idx[k]]) for k in blk.keys]
        stores = [bool(table.may_store[idx[k]]) for k in blk.keys]
        from envs.x86.llvmdesc import load_desc

        got = memory_deps(insts, blk.infos, loads, stores, load_desc(14))
        assert got == want, name
    assert np.isfinite(mem.predict([asm(c[0]) for c in cases.values()], table)).all()
