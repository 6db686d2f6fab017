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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envs.blocksim.isa import stack_engine_drops_rsp  # noqa: E402
from envs.blocksim.simulator import BlockSim  # noqa: E402
from envs.groundtruth.datasets import load_measured, make_split  # noqa: E402
from harness.metrics import relative_errors, timing_metrics  # noqa: E402


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
            m = timing_metrics(pred, y)  # the task's own scoring (a failed block counts 1.0)
            ape = relative_errors(pred, y)
            # blocks the engine changes: a PUSH / POP whose RSP write it drops
            stack = np.array(
                [
                    b is not None
                    and any(stack_engine_drops_rsp(k.split("#")[0], 14, True) for k in b.keys)
                    for b in sim.compiled(hexes)
                ]
            )
            print(
                f"  stack engine {'on ' if engine else 'off'} {name:9s} n={len(y):5d} "
                f"MAPE {m['mape']:.4f} median {m['median_rel_error']:.4f} "
                f"tau {m['kendall_tau']:.3f} | PUSH/POP blocks "
                f"{stack.mean():.1%}: MAPE {ape[stack].mean():.3f} (others "
                f"{ape[~stack].mean():.3f}), {ape[stack].sum() / ape.sum():.1%} of the error"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
