"""Does blocksim's opt-in memory model lower the error against measured timings?

    .venv/bin/python bench/blocksim_memdeps.py [--dataset PATH] [--cpu znver3]

On the shipped measured blocks (ok rows of envs/groundtruth/data/bhive_znver3.csv.gz,
the harness's deterministic split, seed 0): the default model (llvm-mca's rules) and
the memory model (:mod:`envs.blocksim.memdeps`), its ``store_forward`` chosen on the
training split from a grid, both scored on the test split (and on all blocks).
Printed per model: MAPE, median APE, Kendall tau, on all blocks and on the blocks
with a provable store -> load dependence. ``--tuned PATH`` (a JSON dict of flat
parameters, e.g. a trial's chosen configuration) scores that table too, with and
without the memory model (``store_forward`` chosen on train again for it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envs.blocksim.simulator import BlockSim  # noqa: E402
from envs.blocksim.tables import Table  # noqa: E402
from envs.groundtruth.blockdata import load_block_dataset  # noqa: E402

SHIPPED = Path(__file__).resolve().parents[1] / "envs/groundtruth/data/bhive_znver3.csv.gz"


def scores(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """MAPE, median APE, Kendall tau of ``pred`` against ``y`` (finite predictions)."""
    g = np.isfinite(pred)
    ape = np.abs(pred[g] - y[g]) / y[g]
    return {
        "n": int(g.sum()),
        "mape": float(ape.mean()),
        "median_ape": float(np.median(ape)),
        "tau": float(kendalltau(pred[g], y[g])[0]),
    }


def _fmt(name: str, s: dict[str, float]) -> str:
    return (
        f"  {name:34s} n={s['n']:5d} MAPE={s['mape']:.4f} "
        f"median={s['median_ape']:.4f} tau={s['tau']:.3f}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default=str(SHIPPED))
    ap.add_argument("--cpu", default="znver3")
    ap.add_argument("--grid", type=int, nargs="+", default=list(range(0, 17)))
    ap.add_argument("--tuned", default=None, help="JSON dict of flat parameters")
    args = ap.parse_args()
    data = load_block_dataset(args.dataset)
    split = data.split(seed=0)
    hexes = list(data.inputs)
    y = np.asarray(data.targets, np.float64)
    plain = BlockSim(args.cpu)
    mem = BlockSim(args.cpu, extended=True)
    compiled = mem.compiled(hexes)
    has_dep = np.array([b is not None and bool((b.rd_kind == 3).any()) for b in compiled], bool)
    base = plain.default_table()
    p_plain = plain.predict(hexes, base)
    mbase = mem.default_table()
    best, best_mape = None, np.inf
    by_sf = {}
    for sf in args.grid:
        p = mem.predict(hexes, mbase.with_flat(["store_forward"], [sf]))
        m = scores(p[split.train], y[split.train])["mape"]
        by_sf[sf] = m
        if m < best_mape:
            best, best_mape = sf, m
    p_mem = mem.predict(hexes, mbase.with_flat(["store_forward"], [best]))
    print(
        f"{data.name}: {len(hexes)} blocks, {has_dep.sum()} with a provable store -> load "
        f"dependence; store_forward chosen on train: {best} (train MAPE by value: "
        + ", ".join(f"{k}:{v:.4f}" for k, v in by_sf.items())
        + ")"
    )
    for part, idx in (("test", split.test), ("all", np.arange(len(hexes)))):
        dep = idx[has_dep[idx]]
        print(f"{part} split:")
        print(_fmt("default (llvm-mca rules)", scores(p_plain[idx], y[idx])))
        print(_fmt(f"memory model, store_forward={best}", scores(p_mem[idx], y[idx])))
        print(_fmt("default, blocks with a dependence", scores(p_plain[dep], y[dep])))
        print(_fmt("memory, blocks with a dependence", scores(p_mem[dep], y[dep])))
    if args.tuned:
        config = json.loads(Path(args.tuned).read_text())
        names = [n for n in config if n != "store_forward"]
        tuned = base.with_flat(names, [config[n] for n in names])
        vals = [config[n] for n in names]
        # store_forward chosen again on train, now under the tuned table
        t_best, t_mape = best, np.inf
        for sf in args.grid:
            t = Table.copy(mbase).with_flat(names + ["store_forward"], vals + [sf])
            m = scores(mem.predict(hexes, t)[split.train], y[split.train])["mape"]
            if m < t_mape:
                t_best, t_mape = sf, m
        tuned_mem = Table.copy(mbase).with_flat(names + ["store_forward"], vals + [t_best])
        p_tuned = plain.predict(hexes, tuned)
        p_tuned_mem = mem.predict(hexes, tuned_mem)
        for part, idx in (("test", split.test), ("all", np.arange(len(hexes)))):
            dep = idx[has_dep[idx]]
            print(f"tuned table, {part} split:")
            print(_fmt("tuned", scores(p_tuned[idx], y[idx])))
            print(_fmt(f"tuned + memory model, sf={t_best}", scores(p_tuned_mem[idx], y[idx])))
            print(_fmt("tuned, blocks with a dependence", scores(p_tuned[dep], y[dep])))
            print(_fmt("tuned + memory, with a dependence", scores(p_tuned_mem[dep], y[dep])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
