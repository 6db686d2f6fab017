"""Benchmark blocksim against llvm-mca 14: fidelity and speed on the same BHive blocks.

    taskset -c 0 .venv/bin/python bench/blocksim_bench.py --n 2000 --cpus znver3 haswell

For each CPU: llvm-mca region-batched (``# LLVM-MCA-BEGIN``/``END`` per block, 1000
blocks per process, -iterations=100) and blocksim with the CPU's default table run on
the same decodable blocks (a seeded sample of BHive); prints Kendall tau, the median
and mean absolute relative difference of blocksim vs llvm-mca, and blocks/s of both
(blocksim timed after a warm-up call, single thread; medians of 5 blocksim and 3 llvm-mca
runs, interleaved). With ``--measured`` (a measured
dataset CSV), also prints MAPE of both against the measurements.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envs.blocksim.cli import DEFAULT_BLOCKS  # noqa: E402
from envs.blocksim.mcaref import mca_total_cycles  # noqa: E402
from envs.blocksim.simulator import BlockSim  # noqa: E402
from envs.blocksim.tables import read_bhive_hex  # noqa: E402


def compare(cpu: str, hexes: list[str], label: str) -> tuple[np.ndarray, np.ndarray]:
    """Run both simulators on ``hexes``; print figures; return (blocksim, llvm-mca)."""
    sim = BlockSim(cpu)
    table = sim.default_table()
    t0 = time.perf_counter()
    compiled = sim.compiled(hexes)
    t_prep = time.perf_counter() - t0
    ok = [i for i, b in enumerate(compiled) if b is not None]
    hexes = [hexes[i] for i in ok]
    texts = [compiled[i].texts for i in ok]  # type: ignore[union-attr]
    sim.predict(hexes[:2], table)  # numba warm-up (cached compile)
    sim.predict(hexes, table)  # builds the batch arrays once
    # Medians of repeated runs, interleaved (a shared machine's load comes and goes).
    sim_s, mca_s = [], []
    for rep in range(5):
        t0 = time.perf_counter()
        pred = sim.predict(hexes, table)
        sim_s.append(time.perf_counter() - t0)
        if rep % 2 == 0:
            t0 = time.perf_counter()
            ref = mca_total_cycles(texts, cpu, iterations=100)
            mca_s.append(time.perf_counter() - t0)
    t_sim, t_mca = float(np.median(sim_s)), float(np.median(mca_s))
    skipped = sim.last_skipped_iterations
    g = np.isfinite(pred) & np.isfinite(ref)
    rel = np.abs(pred[g] - ref[g]) / ref[g]
    tau = kendalltau(pred[g], ref[g])[0]
    print(
        f"{cpu:8s} {label}: n={int(g.sum())} kendall_tau={tau:.3f} "
        f"median_abs_rel={np.median(rel):.4f} mean_abs_rel={rel.mean():.4f} "
        f"within_5%={np.mean(rel < 0.05):.3f} | blocksim {len(hexes) / t_sim:,.0f} blocks/s "
        f"(decode+compile {len(hexes) / t_prep:,.0f} blocks/s) | llvm-mca "
        f"{len(hexes) / t_mca:,.0f} blocks/s | speedup {t_mca / t_sim:.1f}x | "
        f"steady-state jump in {np.mean(skipped > 0):.0%} of blocks, "
        f"{skipped.sum() / (len(hexes) * sim.iterations):.0%} of iterations skipped | "
        f"fallback keys {sum(sim.missing_keys.values())}"
    )
    return pred, ref


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="blocks per CPU")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cpus", nargs="+", default=["znver3", "haswell", "skylake"])
    ap.add_argument("--blocks", default=str(DEFAULT_BLOCKS))
    ap.add_argument("--measured", default=None, help="measured dataset CSV (optional)")
    args = ap.parse_args()
    all_hex = read_bhive_hex(args.blocks)
    rng = np.random.default_rng(args.seed)
    pick = rng.choice(len(all_hex), size=min(args.n, len(all_hex)), replace=False)
    hexes = [all_hex[i] for i in sorted(pick)]
    for cpu in args.cpus:
        compare(cpu, hexes, f"BHive sample seed={args.seed}")
    if args.measured:
        from envs.groundtruth.blockdata import load_block_dataset

        data = load_block_dataset(args.measured)
        inputs = list(data.inputs)
        pred, ref = compare("znver3", inputs, f"measured {data.name}")
        y = data.targets
        sim_ok = [i for i, b in enumerate(BlockSim("znver3").compiled(inputs)) if b is not None]
        y = y[sim_ok]
        for name, p in (("blocksim", pred), ("llvm-mca", ref)):
            g = np.isfinite(p)
            mape = np.mean(np.abs(p[g] - y[g]) / y[g])
            print(f"  vs measured: {name} MAPE={mape:.3f} tau={kendalltau(p[g], y[g])[0]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
