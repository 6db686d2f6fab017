"""How much of blocksim's error against measured timings comes from PUSH / POP chains?

    .venv/bin/python bench/blocksim_stack_engine.py [--dataset bhive_znver3] [--cpu znver3]

LLVM 14's scheduling models make every PUSH and POP write RSP, so a run of them is a
dependency chain (a POP's load latency each); real cores rename RSP in a stack engine,
and LLVM 22's llvm-mca drops that write. blocksim's opt-in ``stack_engine`` does the
same for any table. On the by-source split of a shipped measured dataset, per part
(train + val, test), for the CPU's default table without and with the stack engine:
MAPE, median APE, Kendall tau, the share of blocks with a PUSH / POP and the share of
the absolute percentage error they carry.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envs.blocksim.simulator import BlockSim  # noqa: E402
from envs.groundtruth.datasets import load_measured, make_split  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="bhive_znver3", help="shipped dataset name or path")
    ap.add_argument("--cpu", default="znver3", help="blocksim CPU (its default table)")
    args = ap.parse_args()
    data = load_measured(args.dataset)
    split = make_split(data, "by-source")
    parts = {"train+val": np.concatenate([split.train, split.val]), "test": split.test}
    print(f"{data.name} ({data.meta.get('uarch', '?')}), blocksim {args.cpu} default table")
    for engine in (False, True):
        sim = BlockSim(args.cpu, stack_engine=engine)
        for name, idx in parts.items():
            hexes = [data.inputs[i] for i in idx]
            y = data.targets[idx]
            pred = np.asarray(sim.predict(hexes, sim.default_table()), np.float64)
            ok = np.isfinite(pred)
            ape = np.abs(pred[ok] - y[ok]) / y[ok]
            stack = np.array(
                [
                    b is not None and any(k.startswith(("PUSH", "POP")) for k in b.keys)
                    for b in sim.compiled(hexes)
                ]
            )[ok]
            print(
                f"  stack engine {'on ' if engine else 'off'} {name:9s} n={int(ok.sum()):5d} "
                f"MAPE {ape.mean():.4f} median {np.median(ape):.4f} "
                f"tau {kendalltau(pred[ok], y[ok]).statistic:.3f} | PUSH/POP blocks "
                f"{stack.mean():.1%}: MAPE {ape[stack].mean():.3f} (others "
                f"{ape[~stack].mean():.3f}), {ape[stack].sum() / ape.sum():.1%} of the error"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
