"""blocksim's predictions as llvm-mca counts them, T(100), against as the ground truth is
measured, T(200) - T(100), on a measured dataset's by-source split.

    .venv/bin/python bench/blocksim_differenced.py --dataset bhive_znver3 --cpu znver3 \
        --stack-engine --bhive-state [--table tuned.json.gz ...]

``tunebench measure`` (the BHive method) times the block unrolled 100x and 200x and
reports the difference, so filling and draining the pipeline cancel; llvm-mca's Total
Cycles for 100 iterations (and blocksim's default) count them once. Per table (the
CPU's default with the chosen opt-in models, plus each ``--table`` file, e.g. from
``tunebench export``), prints the mean absolute percentage error on train + val and on
test, both ways, and the median fill-and-drain cycles T(100) - (T(200) - T(100)) per
block-length bucket. The tables are not re-tuned: a table tuned with
``differenced = true`` is the fair comparison (configs/blocksim_differenced.toml).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envs.blocksim.export import load_table_file  # noqa: E402
from envs.blocksim.simulator import BlockSim  # noqa: E402
from envs.groundtruth.datasets import load_measured, make_split  # noqa: E402
from harness.metrics import mape as harness_mape  # noqa: E402


def mape(pred: np.ndarray, y: np.ndarray, rows: np.ndarray) -> float:
    """The harness's test MAPE (a failed prediction counts 1.0) over ``rows``."""
    return harness_mape(pred[rows], y[rows])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="bhive_znver3")
    ap.add_argument("--cpu", default="znver3")
    ap.add_argument("--stack-engine", action="store_true")
    ap.add_argument("--bhive-state", action="store_true")
    ap.add_argument("--table", action="append", default=[], help="a table file (repeatable)")
    args = ap.parse_args()
    data = load_measured(args.dataset)
    parts = make_split(data, "by-source")
    y = np.asarray(data.targets, np.float64)
    hexes = list(data.inputs)
    fit = np.concatenate([parts.train, parts.val])
    kw = {"stack_engine": args.stack_engine, "bhive_state": args.bhive_state}
    t100 = BlockSim(args.cpu, iterations=100, **kw)
    t200 = BlockSim(args.cpu, iterations=200, **kw)
    tables = [("default", t100.default_table())]
    tables += [(Path(f).name, load_table_file(f)) for f in args.table]
    n_inst = np.array([len(b.keys) if b else 0 for b in t100.compiled(hexes)])
    print(
        f"{args.dataset} ({len(hexes)} blocks, by-source: test {len(parts.test)}), {args.cpu}"
        f"{' + stack engine' if args.stack_engine else ''}"
        f"{' + BHive-state memory' if args.bhive_state else ''}"
    )
    for name, table in tables:
        once = t100.predict(hexes, table)
        twice = t200.predict(hexes, table)
        diff = twice - once
        print(
            f"  {name}: T(100) train+val {mape(once, y, fit):.4f} test "
            f"{mape(once, y, parts.test):.4f} | T(200) - T(100) train+val "
            f"{mape(diff, y, fit):.4f} test {mape(diff, y, parts.test):.4f}"
        )
        fill = once - diff
        cells = []
        for lo, hi in ((1, 2), (2, 5), (5, 17), (17, 10**6)):
            m = (n_inst >= lo) & (n_inst < hi) & np.isfinite(fill)
            cells.append(f"{lo}-{hi - 1 if hi < 10**6 else ''}: {np.median(fill[m]):.0f}")
        print(f"    fill + drain cycles (median, by instructions): {', '.join(cells)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
