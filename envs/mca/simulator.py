"""llvm-mca wrapper (LLVM 14 or 22): many blocks per process, several processes in parallel.

Blocks arrive as BHive hex; they are disassembled once (batched llvm-mc, cached) and
written as code regions (``# LLVM-MCA-BEGIN bN`` / ``# LLVM-MCA-END``) so one llvm-mca
process simulates hundreds of blocks (~20x faster than one process per block). If
llvm-mca rejects a batch, the batch is bisected so only the blocks it rejects fail
(NaN), never their neighbours; rejected blocks are remembered per CPU model.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

import numpy as np

from envs.x86.disasm import disassemble, llvm_tool

# Knob name in a configuration -> llvm-mca flag. 0 means "the CPU model's own value",
# exactly as llvm-mca itself treats these flags.
KNOB_FLAGS: dict[str, str] = {
    "dispatch_width": "--dispatch",
    "micro_op_queue_size": "--micro-op-queue-size",
    "decoder_throughput": "--decoder-throughput",
    "register_file_size": "--register-file-size",
    "load_queue_size": "--lqueue",
    "store_queue_size": "--squeue",
}
_REGION_RE = re.compile(r"^\[(\d+)\] Code Region - b(\d+)\s*$")
_CYCLES_RE = re.compile(r"^Total Cycles:\s+(\d+)\s*$")


@cache
def mca_version(llvm: int = 14) -> str:
    out = subprocess.run([llvm_tool("llvm-mca", llvm), "--version"], capture_output=True, text=True)
    m = re.search(r"LLVM version (\S+)", out.stdout)
    return m.group(1) if m else "unknown"


class McaSimulator:
    """Predicts cycles per ``iterations`` iterations of each block with llvm-mca.

    Args:
        iterations: llvm-mca ``-iterations``; 100 gives the ground truth's unit
            (cycles per 100 iterations).
        jobs: llvm-mca processes run at once (default: CPU count).
        blocks_per_process: regions per llvm-mca process.
        llvm: LLVM major version of the llvm-mca (and llvm-mc) used: 14, or 22 (which
            takes -mcpu=znver4 and znver5; its znver5 is the Zen 4 scheduling model).
    """

    name = "llvm-mca"

    def __init__(
        self,
        iterations: int = 100,
        jobs: int | None = None,
        blocks_per_process: int = 400,
        llvm: int = 14,
    ) -> None:
        self.llvm = int(llvm)
        self.iterations = iterations
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.blocks_per_process = blocks_per_process
        self._asm: dict[str, str | None] = {}
        self._rejected: set[tuple[str, str]] = set()  # (cpu, hex)
        self._tool = llvm_tool("llvm-mca", self.llvm)

    def versions(self) -> dict[str, str]:
        return {"llvm-mca": mca_version(self.llvm)}

    def decode(self, blocks_hex: Sequence[str]) -> list[str]:
        """Disassemble (and cache) blocks not seen before; returns those that do not decode."""
        new = list(dict.fromkeys(h for h in blocks_hex if h not in self._asm))
        # LLVM 14's llvm-mc decodes for both versions: llvm-mca 22 reads its AT&T text.
        for h, insts in zip(new, disassemble(new), strict=True):
            self._asm[h] = "\n".join(i.text for i in insts) if insts else None
        return [h for h in blocks_hex if self._asm[h] is None]

    def flags(self, config: Mapping[str, Any]) -> list[str]:
        """llvm-mca command-line flags for a configuration (``mcpu`` + knobs)."""
        out = [f"-mcpu={config.get('mcpu', 'znver3')}", f"-iterations={self.iterations}"]
        for knob, flag in KNOB_FLAGS.items():
            value = int(config.get(knob, 0))
            if value:
                out.append(f"{flag}={value}")
        return out

    def predict(self, inputs: Sequence[str], config: Mapping[str, Any]) -> np.ndarray:
        """float64 [n] total cycles for ``iterations`` iterations; NaN = rejected/undecodable."""
        self.decode(inputs)
        flags = self.flags(config)
        cpu = flags[0]
        result = np.full(len(inputs), np.nan, dtype=np.float64)
        todo = [
            i
            for i, h in enumerate(inputs)
            if self._asm.get(h) is not None and (cpu, h) not in self._rejected
        ]
        if not todo:
            return result
        size = max(1, min(self.blocks_per_process, -(-len(todo) // self.jobs)))
        chunks = [todo[k : k + size] for k in range(0, len(todo), size)]
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            for chunk, cycles in zip(
                chunks,
                pool.map(lambda c: self._run_bisect([inputs[i] for i in c], flags), chunks),
                strict=True,
            ):
                result[chunk] = cycles
        return result

    def _run_bisect(self, blocks: list[str], flags: list[str]) -> np.ndarray:
        cycles = self._run(blocks, flags)
        if cycles is not None:
            return cycles
        if len(blocks) == 1:
            self._rejected.add((flags[0], blocks[0]))
            return np.array([np.nan])
        mid = len(blocks) // 2
        return np.concatenate(
            [self._run_bisect(blocks[:mid], flags), self._run_bisect(blocks[mid:], flags)]
        )

    def _run(self, blocks: list[str], flags: list[str]) -> np.ndarray | None:
        """One llvm-mca process over ``blocks``; None if llvm-mca rejects the input."""
        parts = []
        for k, h in enumerate(blocks):
            parts.append(f"# LLVM-MCA-BEGIN b{k}\n{self._asm[h]}\n# LLVM-MCA-END\n")
        proc = subprocess.run(
            [self._tool, *flags, "-all-views=false", "-summary-view", "-"],
            input="".join(parts),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            return None
        cycles = np.full(len(blocks), np.nan)
        current = -1
        for line in proc.stdout.splitlines():
            m = _REGION_RE.match(line)
            if m:
                current = int(m.group(2))
                continue
            m = _CYCLES_RE.match(line)
            if m and 0 <= current < len(blocks):
                cycles[current] = float(m.group(1))
        if np.isnan(cycles).any():
            return None  # a region went missing: treat as a rejection and bisect
        return cycles
