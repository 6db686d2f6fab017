"""Does the BHive-state memory model lower blocksim's error against measured timings?

    .venv/bin/python bench/blocksim_bhive_state.py --stack-engine \\
        [--tuned TABLE.json.gz] [--dataset bhive_znver3 --cpu znver3] [--json OUT]

On a shipped measured dataset, by-source split (test = whole applications never used
for choosing anything): a table (the CPU's default, or ``--tuned``, a table written by
``tunebench export``) scored as it is, then with the opt-in model of
:mod:`envs.blocksim.bhive_state` (loads wait for the stores whose bytes they read when
every register starts equal), its three forwarding parameters chosen on train + val
from a grid. Printed: MAPE on train + val and on test, and on the test blocks split by
what the model finds in them (no store -> load pair; exact forwarding; a partial
overlap; a stack pair through the memory file): count, MAPE and the geometric-mean
ratio prediction / measured, before and after.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envs.blocksim import zeroset  # noqa: E402
from envs.blocksim.memdeps import KIND_FORWARD_FAIL, KIND_FORWARD_STACK, KIND_MEMORY  # noqa: E402
from envs.blocksim.simulator import BlockSim  # noqa: E402
from envs.blocksim.tables import Table  # noqa: E402
from envs.groundtruth.datasets import load_measured, make_split  # noqa: E402
from harness.store import write_atomic  # noqa: E402

GRID = {
    "store_forward": (2, 4, 5, 6, 8),
    "store_forward_fail": (8, 12, 16, 20),
    "store_forward_stack": (0, 1, 2),
}
CATEGORIES = ("none", "exact", "partial", "stack")


def mape(pred: np.ndarray, y: np.ndarray, rows: np.ndarray) -> float:
    """MAPE over ``rows`` with a finite prediction (fraction)."""
    p, t = pred[rows], y[rows]
    g = np.isfinite(p)
    return float(np.mean(np.abs(p[g] - t[g]) / t[g]))


def geo_ratio(pred: np.ndarray, y: np.ndarray, rows: np.ndarray) -> float:
    r = pred[rows] / y[rows]
    r = r[np.isfinite(r) & (r > 0)]
    return float(np.exp(np.mean(np.log(r)))) if len(r) else float("nan")


def category(sim: BlockSim, blocks: list[str]) -> np.ndarray:
    """Per block: what the model found (CATEGORIES; the strongest kind present)."""
    out = []
    for blk in sim.compiled(blocks):
        kinds = set() if blk is None else set(np.asarray(blk.rd_kind).tolist())
        if KIND_FORWARD_FAIL in kinds:
            out.append("partial")
        elif KIND_MEMORY in kinds:
            out.append("exact")
        elif KIND_FORWARD_STACK in kinds:
            out.append("stack")
        else:
            out.append("none")
    return np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="bhive_znver3")
    ap.add_argument("--cpu", default="znver3")
    ap.add_argument("--stack-engine", action="store_true")
    ap.add_argument("--tuned", default="", help="a table file from `tunebench export`")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    data = load_measured(args.dataset)
    parts = make_split(data, "by-source")
    y = np.asarray(data.targets, np.float64)
    blocks = list(data.inputs)
    fit = np.concatenate([parts.train, parts.val])
    test = parts.test
    plain = BlockSim(args.cpu, stack_engine=args.stack_engine)
    model = BlockSim(args.cpu, stack_engine=args.stack_engine, bhive_state=True)
    table = Table.load(args.tuned) if args.tuned else plain.default_table()
    if "bhive_state" in table.extensions:
        raise SystemExit("error: --tuned is already a BHive-state table; give a plain one")
    before = plain.predict(blocks, table)
    ext = replace(zeroset.with_zx_rows(table), extensions=model.default_table().extensions)
    best: tuple[float, dict[str, int]] | None = None
    for values in itertools.product(*GRID.values()):
        params = dict(zip(GRID, values, strict=True))
        m = mape(model.predict(blocks, replace(ext, **params)), y, fit)
        if best is None or m < best[0]:
            best = (m, params)
    assert best is not None
    after = model.predict(blocks, replace(ext, **best[1]))
    cats = category(model, blocks)
    label = Path(args.tuned).name if args.tuned else f"{args.cpu} default table"
    engine = " + stack engine" if args.stack_engine else ""
    print(f"{label}{engine} on {data.name} (by-source: test {len(test)} blocks)")
    print(f"forwarding parameters chosen on train + val: {best[1]}")
    print(f"{'':28s} {'train+val':>10s} {'test':>8s}")
    print(
        f"{'as llvm-mca (no memory)':28s} {mape(before, y, fit):10.4f} {mape(before, y, test):8.4f}"
    )
    print(
        f"{'BHive-state memory model':28s} {mape(after, y, fit):10.4f} {mape(after, y, test):8.4f}"
    )
    rows = []
    head = ("test blocks", "n", "MAPE before", "after", "ratio before", "after")
    print("{:12s} {:>5s} {:>12s} {:>7s} {:>13s} {:>7s}".format(*head))
    for c in CATEGORIES:
        r = test[cats[test] == c]
        row = {
            "category": c,
            "n": int(len(r)),
            "mape_before": mape(before, y, r) if len(r) else float("nan"),
            "mape_after": mape(after, y, r) if len(r) else float("nan"),
            "ratio_before": geo_ratio(before, y, r),
            "ratio_after": geo_ratio(after, y, r),
        }
        rows.append(row)
        print(
            f"{c:12s} {row['n']:5d} {row['mape_before']:12.4f} {row['mape_after']:7.4f} "
            f"{row['ratio_before']:13.3f} {row['ratio_after']:7.3f}"
        )
    if args.json:
        out = {
            "dataset": data.name,
            "table": label,
            "stack_engine": args.stack_engine,
            "params": best[1],
            "fit_mape": [mape(before, y, fit), mape(after, y, fit)],
            "test_mape": [mape(before, y, test), mape(after, y, test)],
            "categories": rows,
        }
        write_atomic(Path(args.json), json.dumps(out, indent=1).encode())


if __name__ == "__main__":
    main()
