"""Benchmark: llvm-mca blocks/s, one process per block vs batched code regions.

Runs both on the same blocks (a seeded sample of BHive blocks), one core, 100
iterations, and checks that they predict the same cycles. Prints the figures.

    .venv/bin/python bench/mca_speed.py [--blocks 2000] [--single 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from envs.mca.simulator import McaSimulator
from harness.dataset import Dataset, subsample

DATASET = (
    Path(__file__).resolve().parent.parent / "envs" / "groundtruth" / "data" / "bhive_znver3.csv.gz"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default=str(DATASET))
    ap.add_argument("--blocks", type=int, default=2000, help="blocks for the batched run")
    ap.add_argument("--single", type=int, default=300, help="blocks for one-process-per-block")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cpu", default="znver3")
    args = ap.parse_args()

    # Any CSV with a ``hex`` column: the measured dataset or BHive's block list.
    frame = pd.read_csv(args.dataset, usecols=["hex"]).dropna()
    hexes = tuple(dict.fromkeys(frame.hex.str.lower()))
    data = Dataset("blocks", hexes, np.zeros(len(hexes)))
    blocks = list(subsample(data, args.blocks, seed=args.seed).inputs)
    config = {"mcpu": args.cpu}
    batched = McaSimulator(jobs=1)
    bad = set(batched.decode(blocks))
    blocks = [b for b in blocks if b not in bad]
    single = McaSimulator(jobs=1, blocks_per_process=1)
    single.decode(blocks)

    rates = []
    for _ in range(3):
        t0 = time.perf_counter()
        pred_batched = batched.predict(blocks, config)
        rates.append(len(blocks) / (time.perf_counter() - t0))
    t0 = time.perf_counter()
    pred_single = single.predict(blocks[: args.single], config)
    rate_single = args.single / (time.perf_counter() - t0)

    same = np.array_equal(pred_single, pred_batched[: args.single], equal_nan=True)
    print(f"llvm-mca {batched.versions()['llvm-mca']}, -mcpu={args.cpu}, 100 iterations, 1 core")
    print(f"one process per block: {rate_single:8.1f} blocks/s ({args.single} blocks)")
    print(
        f"batched regions:       {np.median(rates):8.1f} blocks/s "
        f"({len(blocks)} blocks, median of 3 runs: {', '.join(f'{r:.0f}' for r in rates)})"
    )
    print(f"speed-up: {np.median(rates) / rate_single:.1f}x; same cycles on shared blocks: {same}")
    print(f"rejected blocks: {int(np.isnan(pred_batched).sum())} of {len(blocks)}")


if __name__ == "__main__":
    main()
