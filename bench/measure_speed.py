"""Speed and repeatability of ``tunebench measure`` on a sample of BHive blocks.

Usage::

    taskset -c 1 .venv/bin/python bench/measure_speed.py [--n 200] [--seed 7] [--runs 5]

Measures ``n`` blocks sampled (stratified by application) from
../shared/data/bhive/blocks.csv.gz twice, into a temporary folder, and prints seconds
per block (wall clock, whole pipeline: helper, 5 processes per block, CSV writes), the
counts by status and, for blocks ok in both passes, the share agreeing within 5% and
Kendall tau between the passes. Target: <= 0.25 s per block for 5 runs.
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--blocks", default=str(ROOT.parent / "shared/data/bhive/blocks.csv.gz"))
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--samples", type=int, default=64)
    args = ap.parse_args()
    rows = runner.read_input_csv(args.blocks, skip_invalid=True)
    blocks = [r["hex"] for r in runner.sample_rows(rows, args.n, args.seed, "sources")]
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
