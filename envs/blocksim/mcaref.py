"""Reference runs of llvm-mca: many blocks per process, one code region per block.

The llvm-mca is the one whose model blocksim's table of ``cpu`` comes from (LLVM 14,
or LLVM 22 for znver4 / znver5: :data:`envs.blocksim.tables.CPU_LLVM`).

Used to extract default tables, by the tests that compare blocksim with llvm-mca, and
by bench/blocksim_bench.py. Each block becomes a ``# LLVM-MCA-BEGIN bN`` /
``# LLVM-MCA-END`` region; llvm-mca simulates every region independently (fresh
pipeline), so a batch gives the same Total Cycles as one process per block.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from envs.blocksim.tables import CPU_LLVM
from envs.x86.disasm import llvm_tool

_ERR_LINE = re.compile(r":(\d+):\d+: error")


def run_mca(asm: str, cpu: str, args: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """Run llvm-mca ``-mcpu=cpu`` (its LLVM version per :data:`CPU_LLVM`) with ``args``
    on the assembly text ``asm``."""
    with tempfile.NamedTemporaryFile("w", suffix=".s", delete=False) as f:
        f.write(asm)
        path = f.name
    try:
        return subprocess.run(
            [llvm_tool("llvm-mca", CPU_LLVM.get(cpu, 14)), f"-mcpu={cpu}", *args, path],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        os.unlink(path)


def run_mca_json(asm: str, cpu: str, args: Sequence[str] = ()) -> tuple[dict[str, Any] | None, str]:
    """Run ``llvm-mca -json`` on ``asm``; (parsed JSON or None on failure, stderr)."""
    proc = run_mca(asm, cpu, ["-json", *args])
    if proc.returncode != 0:
        return None, proc.stderr
    return json.loads(proc.stdout), proc.stderr


def region_asm(blocks: Sequence[Sequence[str]], names: Sequence[str]) -> str:
    """Assembly with each block in a code region of its own (``# LLVM-MCA-BEGIN name``)."""
    lines: list[str] = []
    for name, block in zip(names, blocks, strict=True):
        lines += [f"# LLVM-MCA-BEGIN {name}", *block, "# LLVM-MCA-END"]
    return "\n".join(lines) + "\n"


def error_lines(stderr: str) -> set[int]:
    """1-based input line numbers llvm-mca reported errors on."""
    return {int(m.group(1)) for m in _ERR_LINE.finditer(stderr)}


def mca_total_cycles(
    blocks: Sequence[Sequence[str]],
    cpu: str,
    iterations: int = 100,
    batch: int = 1000,
    args: Sequence[str] = (),
) -> np.ndarray:
    """llvm-mca's Total Cycles for each block run ``iterations`` times.

    Args:
        blocks: n blocks, each a sequence of AT&T instruction texts.
        cpu: llvm-mca ``-mcpu`` value.
        iterations: ``-iterations`` value (100: cycles per 100 iterations).
        batch: blocks per llvm-mca process.
        args: extra llvm-mca arguments (e.g. ``--dispatch=4``).
    Returns:
        float64 [n]: total cycles; NaN for a block llvm-mca rejects.
    """
    out = np.full(len(blocks), np.nan)
    todo = list(range(len(blocks)))
    for start in range(0, len(todo), batch):
        _run_batch(blocks, todo[start : start + batch], cpu, iterations, args, out)
    return out


def _run_batch(
    blocks: Sequence[Sequence[str]],
    idx: list[int],
    cpu: str,
    iterations: int,
    args: Sequence[str],
    out: np.ndarray,
) -> None:
    while idx:
        line_owner = [i for i in idx for _ in range(len(blocks[i]) + 2)]  # + BEGIN/END
        data, stderr = run_mca_json(
            region_asm([blocks[i] for i in idx], [f"b{i}" for i in idx]),
            cpu,
            [f"-iterations={iterations}", "--instruction-info=0", "--resource-pressure=0", *args],
        )
        if data is not None:
            for region in data["CodeRegions"]:
                i = int(region["Name"][1:])
                out[i] = float(region["SummaryView"]["TotalCycles"])
            return
        bad = {line_owner[n - 1] for n in error_lines(stderr) if 0 < n <= len(line_owner)}
        if not bad:
            if len(idx) == 1:
                return  # fails without a line number: leave NaN
            mid = len(idx) // 2
            _run_batch(blocks, idx[:mid], cpu, iterations, args, out)
            idx = idx[mid:]
            continue
        idx = [i for i in idx if i not in bad]
