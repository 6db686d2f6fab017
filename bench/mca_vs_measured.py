"""Stock llvm-mca (14, or 22 for newer CPU models) against measured block throughput:
MAPE and Kendall tau.

Usage::

    .venv/bin/python bench/mca_vs_measured.py envs/groundtruth/data/bhive_znver3.csv.gz \\
        [--mcpu znver3 znver2 haswell 22:sapphirerapids] [--limit N] [--jobs 1]

An ``-mcpu`` name prefixed ``22:`` runs LLVM 22's llvm-mca: models LLVM 14 lacks
(znver4) or has only as older cores' models (LLVM 14 runs icelake-server and
sapphirerapids on its Skylake-server model: identical figures on bhive_intel-6-167);
disassembly is always LLVM 14's llvm-mc.

For each ``-mcpu`` prints the number of blocks llvm-mca could model, MAPE, median
absolute percentage error and Kendall tau against the ok blocks of the file.
Prediction: llvm-mca's ``Total Cycles`` at ``-iterations=100`` = cycles per 100
iterations, the unit of the measured file. Blocks are disassembled in batches with
``llvm-mc --disassemble`` (``ud2`` separators; AT&T syntax, llvm-mca's default) and
modelled many per process with ``# LLVM-MCA-BEGIN``/``# LLVM-MCA-END`` regions (a
batch that llvm-mca rejects is bisected until the bad block stands alone).
Independent of envs/mca (this is a quick check of the ground truth, not the simulator).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envs.groundtruth.blockdata import load_block_dataset  # noqa: E402

BATCH = 400
_REGION_RE = re.compile(r"\[\d+\] Code Region - (b\d+)")
_CYCLES_RE = re.compile(r"Total Cycles:\s+(\d+)")


def tool(name: str, version: int = 14) -> str:
    """``name-<version>`` if present, else ``name`` (for LLVM 14 only)."""
    for cand in (f"{name}-{version}", name) if version == 14 else (f"{name}-{version}",):
        path = shutil.which(cand)
        if path:
            return path
    raise SystemExit(f"{name}-{version} not found (install Debian's llvm-{version})")


def disassemble(blocks: list[str]) -> list[list[str] | None]:
    """AT&T text of each block's instructions; None where the bytes do not decode."""
    out: list[list[str] | None] = []
    for start in range(0, len(blocks), 2000):
        out.extend(_disasm_bisect(blocks[start : start + 2000]))
    return out


def _disasm_bisect(blocks: list[str]) -> list[list[str] | None]:
    if not blocks:
        return []
    got = _disasm_batch(blocks)
    if got is not None:
        return got
    if len(blocks) == 1:
        return [None]
    mid = len(blocks) // 2
    return _disasm_bisect(blocks[:mid]) + _disasm_bisect(blocks[mid:])


def _disasm_batch(blocks: list[str]) -> list[list[str] | None] | None:
    lines = (b + "0f0b" for b in blocks)  # ud2 after each block
    text = "\n".join(" ".join("0x" + h[i : i + 2] for i in range(0, len(h), 2)) for h in lines)
    proc = subprocess.run(
        [tool("llvm-mc"), "--disassemble", "-triple=x86_64"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or "invalid instruction encoding" in proc.stderr:
        return None
    result: list[list[str] | None] = []
    cur: list[str] = []
    for line in proc.stdout.splitlines():
        s = line.split("#")[0].strip()
        if not s or s.startswith("."):
            continue
        if s == "ud2":
            result.append(cur if cur else None)
            cur = []
        else:
            cur.append(s.replace("\t", " "))
    if cur or len(result) != len(blocks):
        return None
    return result


def mca_cycles(asm: list[list[str]], mcpu: str) -> list[float]:
    """Total Cycles at 100 iterations per block (nan where llvm-mca rejects the block)."""
    out: list[float] = []
    for start in range(0, len(asm), BATCH):
        out.extend(_mca_bisect(asm[start : start + BATCH], mcpu))
    return out


def _mca_bisect(asm: list[list[str]], mcpu: str) -> list[float]:
    if not asm:
        return []
    got = _mca_batch(asm, mcpu)
    if got is not None:
        return got
    if len(asm) == 1:
        return [float("nan")]
    mid = len(asm) // 2
    return _mca_bisect(asm[:mid], mcpu) + _mca_bisect(asm[mid:], mcpu)


def _mca_batch(asm: list[list[str]], mcpu: str) -> list[float] | None:
    parts: list[str] = []
    for i, insts in enumerate(asm):
        parts.append(f"# LLVM-MCA-BEGIN b{i}")
        parts.extend(insts)
        parts.append(f"# LLVM-MCA-END b{i}")
    version, _, name = mcpu.rpartition(":")
    proc = subprocess.run(
        [
            tool("llvm-mca", int(version or 14)),
            "-mtriple=x86_64",
            f"-mcpu={name}",
            "-iterations=100",
        ],
        input="\n".join(parts) + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return None
    cycles: dict[str, float] = {}
    region = None
    for line in proc.stdout.splitlines():
        m = _REGION_RE.search(line)
        if m:
            region = m.group(1)
            continue
        m = _CYCLES_RE.search(line)
        if m and region is not None:
            cycles[region] = float(m.group(1))
            region = None
    if len(asm) == 1 and not cycles:  # a single region prints no region header
        m = _CYCLES_RE.search(proc.stdout)
        return [float(m.group(1))] if m else None
    if len(cycles) != len(asm):
        return None
    return [cycles[f"b{i}"] for i in range(len(asm))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", help="measured block file (tunebench measure CSV or BHive format)")
    ap.add_argument("--mcpu", nargs="+", default=["znver3", "znver2", "haswell"])
    ap.add_argument("--limit", type=int, help="first N ok blocks only")
    ap.add_argument("--jobs", type=int, default=1, help="llvm-mca processes at once")
    args = ap.parse_args()
    for mcpu in args.mcpu:
        if mcpu.rpartition(":")[0] not in ("", "14", "22"):
            raise SystemExit(f"--mcpu {mcpu}: the LLVM version prefix must be 14: or 22:")
    ds = load_block_dataset(args.data)
    blocks = list(ds.inputs[: args.limit])
    meas = ds.targets[: len(blocks)]
    t0 = time.monotonic()
    asm = disassemble(blocks)
    keep = [i for i, a in enumerate(asm) if a]
    print(
        f"{args.data}: {len(blocks)} ok blocks, {len(keep)} decode "
        f"(llvm-mc {time.monotonic() - t0:.1f} s)"
    )
    print(f"{'mcpu':18s} {'n':>6s} {'MAPE':>7s} {'MdAPE':>7s} {'tau':>6s} {'wall_s':>7s}")

    def one(mcpu: str) -> tuple[str, np.ndarray, float]:
        t = time.monotonic()
        pred = np.array(mca_cycles([asm[i] or [] for i in keep], mcpu), dtype=np.float64)
        return mcpu, pred, time.monotonic() - t

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(one, args.mcpu))
    y = meas[keep]
    for mcpu, pred, wall in results:
        ok = np.isfinite(pred)
        ape = np.abs(pred[ok] - y[ok]) / y[ok]
        tau = kendalltau(pred[ok], y[ok]).statistic
        print(
            f"{mcpu:18s} {int(ok.sum()):6d} {100 * ape.mean():6.1f}% {100 * np.median(ape):6.1f}% "
            f"{tau:6.3f} {wall:7.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
