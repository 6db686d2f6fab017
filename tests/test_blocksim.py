"""blocksim: hand-written blocks with known behaviour, and agreement with llvm-mca 14."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from envs.blocksim.mcaref import mca_total_cycles
from envs.blocksim.simulator import BlockSim
from envs.blocksim.tables import Table, load_default_table
from envs.x86.disasm import llvm_tool


def asm(lines: list[str]) -> str:
    """Assemble AT&T lines to a hex block with llvm-mc."""
    out = subprocess.run(
        [llvm_tool("llvm-mc"), "-show-encoding"],
        input="\n".join(lines),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    encs = re.findall(r"encoding: \[([^\]]*)\]", out)
    return "".join(b.strip()[2:] for enc in encs for b in enc.split(","))


@pytest.fixture(scope="module")
def sim() -> BlockSim:
    return BlockSim("znver3", iterations=100)


def run(sim: BlockSim, lines: list[str], table: Table | None = None) -> float:
    return float(sim.predict([asm(lines)], table or sim.default_table())[0])


def test_dependent_chain_runs_at_latency(sim: BlockSim) -> None:
    # imul r32, r32 has latency 3 on znver3; a chain of 100 runs ~300 cycles (+3 fill).
    assert run(sim, ["imull %eax, %eax"]) == pytest.approx(303, abs=2)
    for lat in (1, 5, 9):
        t = sim.default_table().with_flat(["lat:IMUL32rr"], [lat])
        assert run(sim, ["imull %eax, %eax"], t) == pytest.approx(100 * lat + 3, abs=2)


def test_independent_instructions_bound_by_port(sim: BlockSim) -> None:
    block = [f"imull $3, %ecx, %{r}" for r in ("edx", "esi", "edi", "r8d")]
    # 4 independent multiplies, all on Zn3ALU1: 4 cycles per iteration.
    assert run(sim, block) == pytest.approx(400, rel=0.02)
    # Two cycles on the port each: 8 cycles per iteration.
    t = sim.default_table().with_flat(["port.Zn3ALU1:IMUL32rri8"], [2])
    assert run(sim, block, t) == pytest.approx(800, rel=0.02)


def test_independent_instructions_bound_by_dispatch(sim: BlockSim) -> None:
    block = [f"addl $1, %{r}" for r in ("eax", "ecx", "edx", "esi")]
    # 4 one-cycle adds on 4 ALUs, dispatch width 6: 1 cycle per iteration (each add
    # also chains on itself); dispatch width 2: 2 cycles; width 1: 4 cycles.
    base = sim.default_table()
    assert run(sim, block) == pytest.approx(100, rel=0.05)
    for width, per_iter in ((2, 2), (1, 4)):
        t = base.with_flat(["dispatch_width"], [width])
        assert run(sim, block, t) == pytest.approx(100 * per_iter, rel=0.05)


def test_read_advance_shortens_chain(sim: BlockSim) -> None:
    # addl (%rdi), %eax: latency 5 (4 load + 1 add); the eax source is read 4 cycles
    # late (ReadAfterLd), so the chain through eax costs 5 - ReadAdvance per iteration.
    t = sim.default_table()
    assert t.to_flat(["lat:ADD32rm", "ra:ADD32rm"]).tolist() == [5, 4]
    for ra, per_iter in ((4, 1), (2, 3), (0, 5)):
        tt = t.with_flat(["ra:ADD32rm"], [ra])
        assert run(sim, ["addl (%rdi), %eax"], tt) == pytest.approx(100 * per_iter, abs=8)


def test_rob_size_limits_overlap(sim: BlockSim) -> None:
    # A 13-cycle divide chain next to independent adds: a tiny ROB serialises them.
    block = ["divl %ecx"] + [f"addl $1, %{r}" for r in ("esi", "edi", "r8d", "r9d")]
    big = run(sim, block)
    small = run(sim, block, sim.default_table().with_flat(["rob_size"], [4]))
    assert small > big


@pytest.mark.parametrize(
    "lines",
    [
        ["imull %eax, %eax"],
        ["imull $3, %ecx, %edx", "imull $3, %ecx, %esi", "imull $3, %ecx, %edi"],
        ["addl (%rdi), %eax"],
        ["movl %eax, (%rdi)", "movl %eax, 4(%rdi)", "movl %eax, 8(%rdi)"],
        ["addl %eax, (%rdi)", "addl %eax, 8(%rdi)"],
        ["pushq %rax", "popq %rbx"],
        ["vfmadd231ps %ymm0, %ymm1, %ymm2", "vfmadd231ps %ymm0, %ymm1, %ymm3"],
        ["divl %ecx", "addl %eax, %ebx"],
        ["movl (%rsi), %eax", "movl %eax, (%rdi)", "movl 4(%rsi), %ecx", "movl %ecx, 4(%rdi)"],
        ["xorl %eax, %eax", "addl %eax, %ebx", "imull %ebx, %ecx"],
    ],
)
def test_matches_llvm_mca_with_default_table(sim: BlockSim, lines: list[str]) -> None:
    ours = run(sim, lines)
    ref = float(mca_total_cycles([lines], "znver3", iterations=100)[0])
    assert ours == pytest.approx(ref, rel=0.02)


def test_undecodable_block_is_nan(sim: BlockSim) -> None:
    good = asm(["addl %eax, %ebx"])
    out = sim.predict([good, "0f0b", good], sim.default_table())
    assert np.isnan(out[1]) and np.isfinite(out[[0, 2]]).all()


def test_flat_round_trip_and_names() -> None:
    t = load_default_table("znver3")
    names = t.param_names(["ADD32rr", "IMUL32rr", "NOT_A_KEY"])
    assert names[:2] == ["dispatch_width", "rob_size"]
    assert "lat:ADD32rr" in names and "port.Zn3ALU1:IMUL32rr" in names
    assert not any("NOT_A_KEY" in n for n in names)
    vals = t.to_flat(names)
    assert vals[0] == 6 and vals[1] == 256
    t2 = t.with_flat(names, vals + 1)
    assert np.array_equal(t2.to_flat(names), vals + 1)
    assert t.to_flat(names).tolist() == vals.tolist()  # original untouched
    with pytest.raises(KeyError):
        t.with_flat(["lat:NOT_A_KEY"], [1])


def test_table_save_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    t = load_default_table("haswell")
    t.save(tmp_path / "h.json.gz")
    u = Table.load(tmp_path / "h.json.gz")
    assert u.opcodes == t.opcodes and u.resources == t.resources
    assert np.array_equal(u.resource_cycles, t.resource_cycles)


@pytest.mark.parametrize("cpu", ["znver3", "znver2", "haswell", "skylake"])
def test_shipped_tables(cpu: str) -> None:
    t = load_default_table(cpu)
    assert len(t.opcodes) > 900
    assert t.dispatch_width >= 4 and t.rob_size >= 128
    i = t.index()["ADD32rr"]
    assert t.latency[i] == 1 and t.micro_ops[i] == 1 and t.resource_cycles[i].sum() >= 1
