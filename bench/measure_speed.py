"""Speed and repeatability of ``tunebench measure`` on a sample of BHive blocks.

Usage::

    taskset -c 1 .venv/bin/python bench/measure_speed.py [--n 200] [--seed 7] [--runs 5]
    taskset -c 1 .venv/bin/python bench/measure_speed.py --fma-sweep   # issue 14's FMA case

Measures ``n`` blocks sampled (stratified by application) from the shipped
envs/groundtruth/data/bhive_applications.csv.gz (or ``--blocks``: any CSV with a
``hex`` column, stratified by its ``sources`` or ``applications`` column if any) twice,
into a temporary folder, and prints seconds per block (wall clock, whole pipeline:
helper, 5 processes per block, CSV writes), the counts by status and, for blocks ok in
both passes, the share agreeing within 5% and Kendall tau between the passes.
Target: <= 0.25 s per block for 5 runs.

``--fma-sweep`` instead times independent FMA chains (4-13 x 256-bit, 128-bit, 512-bit,
own sources), vmulps/vaddps at the same balance point and FMA + add-chain clock probes,
and prints measured vs ideal cycles per iteration (needs llvm-mc-22 to assemble them).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from envs.groundtruth.blockdata import load_block_dataset  # noqa: E402
from envs.groundtruth.measure import runner  # noqa: E402


def _assemble(lines: list[str]) -> str:
    """Hex machine code of Intel-syntax instructions (llvm-mc-22)."""
    import subprocess

    out = subprocess.run(
        ["llvm-mc-22", "-x86-asm-syntax=intel", "-show-encoding"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return "".join(
        ln.split("encoding: [")[1].split("]")[0].replace("0x", "").replace(",", "")
        for ln in out.splitlines()
        if "encoding: [" in ln
    )


def fma_sweep() -> int:
    """Measured vs ideal cycles per iteration of FMA chains and clock probes."""

    def fma(n: int, w: str = "ymm", src: str = "{w}1, {w}2") -> list[str]:
        return [f"vfmadd231ps {w}{3 + i}, " + src.format(w=w, i=3 + i) for i in range(n)]

    cases: list[tuple[str, list[str], float]] = []
    for n in range(4, 14):
        cases.append((f"fma256 x{n}", fma(n), max(4.0, n / 2)))
    for n in (8, 10):
        cases.append((f"fma256 x{n} own sources", fma(n, src="{w}{i}, {w}{i}"), max(4.0, n / 2)))
    cases.append(("fma128 x8", fma(8, "xmm"), 4.0))
    for op in ("vmulps", "vaddps"):
        for n in (6, 8):
            body = [f"{op} ymm{3 + i}, ymm{3 + i}, ymm1" for i in range(n)]
            cases.append((f"{op} x{n}", body, max(3.0, n / 2)))
    for n in (8, 12, 16):
        cases.append((f"fma512 x{n}", fma(n, "zmm"), float(n)))
    add = "add rax, rax"
    cases.append(("fma256 x8 + 5-add chain (clock probe)", fma(8) + [add] * 5, 5.0))
    cases.append(("fma256 x12 + 7-add chain (clock probe)", fma(12) + [add] * 7, 7.0))
    with runner.Helper(runner.MeasureConfig()) as helper:
        for name, body, ideal in cases:
            r = helper.measure(_assemble(body))
            got = r.cycles_per_100 / 100
            print(
                f"{name:<40} ideal {ideal:6.2f}  measured {got:7.3f}  ({got / ideal - 1:+.1%})  "
                f"{r.status}, spread {r.spread:.2%}",
                flush=True,
            )
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--blocks", default=str(ROOT / "envs/groundtruth/data/bhive_applications.csv.gz")
    )
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--fma-sweep", action="store_true", help="FMA chains and clock probes")
    args = ap.parse_args()
    if args.fma_sweep:
        return fma_sweep()
    rows = runner.read_input_csv(args.blocks, skip_invalid=True)
    strata = next((c for c in ("sources", "applications") if rows and c in rows[0]), None)
    blocks = [r["hex"] for r in runner.sample_rows(rows, args.n, args.seed, strata)]
    cfg = runner.MeasureConfig(runs=args.runs, samples=args.samples)
    with tempfile.TemporaryDirectory() as tmp:
        passes = []
        for k in (1, 2):
            out = Path(tmp) / f"pass{k}.csv"
            t0 = time.monotonic()
            s = runner.measure_blocks(blocks, out, cfg, progress=None)
            wall = time.monotonic() - t0
            print(
                f"pass {k}: {s.measured} blocks in {wall:.1f} s = {wall / s.measured:.3f} s/block "
                f"({args.runs} runs, {args.samples} samples); {dict(sorted(s.counts.items()))}"
            )
            passes.append(load_block_dataset(out))
    a, b = passes
    common = sorted(set(a.inputs) & set(b.inputs))
    ia = {h: i for i, h in enumerate(a.inputs)}
    ib = {h: i for i, h in enumerate(b.inputs)}
    ya = np.array([a.targets[ia[h]] for h in common])
    yb = np.array([b.targets[ib[h]] for h in common])
    rel = np.abs(yb / ya - 1)
    print(
        f"ok in both passes: {len(common)}; within 5%: {np.mean(rel <= 0.05):.3f}; "
        f"within 1%: {np.mean(rel <= 0.01):.3f}; Kendall tau {kendalltau(ya, yb).statistic:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
