"""Check that a blocksim kernel change leaves every prediction bit-identical.

    .venv/bin/python bench/blocksim_equal.py --save /tmp/bs_ref   # before the change
    .venv/bin/python bench/blocksim_equal.py --check /tmp/bs_ref  # after it

Per CPU (znver3 on bhive_znver3, znver4 on bhive_znver4 by default: every block of the
dataset; a CPU without a measured dataset uses bhive_znver3's blocks), predictions under
the default table, under one seeded perturbed table (latencies, micro-ops, port cycles
changed at random, narrower dispatch, smaller ROB), under the default table with
scheduler buffers and load / store queues a quarter of their size, and under the
extended model's default table; also with the steady-state jump off on the first
``--no-jump-n`` blocks. ``--save`` writes them as .npy files, ``--check`` compares (NaN
equal to NaN) and prints the number of differing blocks; the exit status is 1 if any
differs. Kernel time of each run is printed too (one warm call).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envs.blocksim.simulator import BlockSim  # noqa: E402
from envs.blocksim.tables import Table, read_bhive_hex  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "envs" / "groundtruth" / "data"


def perturbed(table: Table, seed: int = 1) -> Table:
    """A seeded random variation of ``table`` (same layout)."""
    rng = np.random.default_rng(seed)
    t = table.copy()
    lat = np.maximum(t.latency + rng.integers(-1, 3, t.latency.shape), 0)
    uops = np.maximum(t.micro_ops + rng.integers(-1, 2, t.micro_ops.shape), 1)
    rc = t.resource_cycles.copy()
    used = rc > 0
    rc[used] = np.maximum(rc[used] + rng.integers(-1, 2, int(used.sum())), 0)
    return replace(
        t,
        latency=lat.astype(np.int64),
        micro_ops=uops.astype(np.int64),
        resource_cycles=rc.astype(np.int64),
        dispatch_width=max(1, int(t.dispatch_width) - 2),
        rob_size=max(8, int(t.rob_size) // 4),
    )


def small_queues(table: Table) -> Table:
    """``table`` with scheduler buffers, load and store queues a quarter of their size
    (at least 1 entry): dispatch stalls on full buffers and queues far more often."""
    return replace(
        table.copy(),
        buffer_sizes=tuple(max(1, int(x) // 4) for x in table.buffer_sizes),
        load_queue=max(1, int(table.load_queue) // 4) if table.load_queue else 0,
        store_queue=max(1, int(table.store_queue) // 4) if table.store_queue else 0,
    )


def runs(cpu: str, hexes: list[str], no_jump_n: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    sim = BlockSim(cpu)
    default = sim.default_table()
    tables = (("default", default), ("perturbed", perturbed(default)))
    for name, table in (*tables, ("small_queues", small_queues(default))):
        sim.predict(hexes, table)  # warm: decode, compile, batch arrays
        t0 = time.perf_counter()
        out[name] = sim.predict(hexes, table)
        print(f"  {cpu} {name}: {time.perf_counter() - t0:.2f} s", flush=True)
    ext = BlockSim(cpu, extended=True)
    ext.predict(hexes, ext.default_table())
    t0 = time.perf_counter()
    out["extended"] = ext.predict(hexes, ext.default_table())
    print(f"  {cpu} extended: {time.perf_counter() - t0:.2f} s", flush=True)
    full = BlockSim(cpu, steady_jump=False)
    for name, table in (("nojump_default", default), ("nojump_perturbed", perturbed(default))):
        out[name] = full.predict(hexes[:no_jump_n], table)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--save", help="directory to write the reference predictions to")
    g.add_argument("--check", help="directory of reference predictions to compare with")
    ap.add_argument("--cpus", nargs="+", default=["znver3", "znver4"])
    ap.add_argument("--limit", type=int, default=None, help="first N blocks of each dataset")
    ap.add_argument("--no-jump-n", type=int, default=1000)
    args = ap.parse_args()
    d = Path(args.save or args.check)
    if args.check and not d.is_dir():
        sys.exit(f"blocksim_equal: no reference predictions in {d} (run --save first)")
    d.mkdir(parents=True, exist_ok=True)
    bad = 0
    for cpu in args.cpus:
        data = DATA / f"bhive_{cpu}.csv.gz"
        if not data.exists():
            data = DATA / "bhive_znver3.csv.gz"
        hexes = read_bhive_hex(data, args.limit)
        for name, pred in runs(cpu, hexes, args.no_jump_n).items():
            f = d / f"{cpu}_{name}.npy"
            if args.save:
                np.save(f, pred)
                print(f"{cpu} {name}: saved {len(pred)} predictions to {f}", flush=True)
                continue
            ref = np.load(f)
            same = (ref == pred) | (np.isnan(ref) & np.isnan(pred))
            diff = int((~same).sum()) if ref.shape == pred.shape else len(pred)
            bad += diff
            print(f"{cpu} {name}: {len(pred)} blocks, {diff} differ", flush=True)
    if args.check:
        print("IDENTICAL" if bad == 0 else f"DIFFERENT: {bad} predictions", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
