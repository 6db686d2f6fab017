"""blocksim follows llvm-mca's dependency rules: one hand-written block per rule and CPU,
compared with the real llvm-mca (LLVM 14; LLVM 22 for znver4)."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from envs.blocksim.mcaref import mca_total_cycles
from envs.blocksim.rule_blocks import RULES
from envs.blocksim.simulator import BlockSim
from envs.blocksim.tables import CPU_LLVM
from envs.x86.disasm import llvm_tool


def asm(lines: list[str], version: int = 14) -> str:
    """Assemble AT&T lines to a hex block with llvm-mc."""
    out = subprocess.run(
        [llvm_tool("llvm-mc", version), "-show-encoding", "-triple=x86_64"],
        input="\n".join(lines),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    encs = re.findall(r"encoding: \[([^\]]*)\]", out)
    return "".join(b.strip()[2:] for enc in encs for b in enc.split(","))


_SIMS: dict[str, BlockSim] = {}


def sim_for(cpu: str) -> BlockSim:
    if cpu not in _SIMS:
        _SIMS[cpu] = BlockSim(cpu)
    return _SIMS[cpu]


@pytest.mark.parametrize(
    ("rule", "cpu", "lines"), RULES, ids=[f"{r}-{c}-{i}" for i, (r, c, _) in enumerate(RULES)]
)
def test_dependency_rule_matches_llvm_mca(rule: str, cpu: str, lines: list[str]) -> None:
    sim = sim_for(cpu)
    ours = float(sim.predict([asm(lines, CPU_LLVM[cpu])], sim.default_table())[0])
    ref = float(mca_total_cycles([lines], cpu, iterations=100)[0])
    assert np.isfinite(ref)
    assert ours == pytest.approx(ref, rel=0.01), f"{rule}: blocksim {ours}, llvm-mca {ref}"


def test_block_with_ud2_is_simulated() -> None:
    """UD2 is the decoder's batch separator; a block holding it is decoded alone."""
    sim = sim_for("znver3")
    lines = ["addl %eax, %ebx", "ud2", "imull %ecx, %ecx"]
    good = asm(["addl %eax, %ebx"])
    out = sim.predict([good, asm(lines), good], sim.default_table())
    ref = float(mca_total_cycles([lines], "znver3", iterations=100)[0])
    assert np.isfinite(out).all()
    assert out[1] == pytest.approx(ref, rel=0.01)


def test_32bit_only_instruction_is_explained() -> None:
    sim = sim_for("znver3")
    bad = "37" + asm(["addl %eax, %ebx"])  # aaa: invalid in 64-bit mode
    assert np.isnan(sim.predict([bad], sim.default_table())[0])
    why = sim.explain(bad)
    assert "32-bit" in why and "byte 0" in why
    assert sim.explain(asm(["addl %eax, %ebx"])) == ""
