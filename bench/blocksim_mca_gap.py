"""Why stock blocksim and stock llvm-mca differ against a measured dataset.

    .venv/bin/python bench/blocksim_mca_gap.py --dataset bhive_znver4 --cpu znver4

On the dataset's split (``--split``, default by-source; ``--part test``), three
predictions of the same blocks, 100 iterations each:

- ``mca task``: the ``mca`` task's llvm-mca (its LLVM version per CPU: 22 for
  znver4 / znver5) on LLVM 14's disassembly, the text the task feeds it;
- ``llvm-mca on blocksim's text``: the same llvm-mca on the instructions blocksim
  reads (decoded by the CPU's LLVM, prefixes folded, reassembled);
- ``blocksim``: the CPU's default table.

Printed: MAPE / median APE / Kendall tau of each against the measurement, agreement of
blocksim with llvm-mca on its own text (within 5%, tau), agreement of the two llvm-mca
texts, and the ``--worst K`` blocks where blocksim and llvm-mca disagree most.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.blocksim_bench import figures  # noqa: E402
from envs.blocksim.mcaref import mca_total_cycles  # noqa: E402
from envs.blocksim.simulator import BlockSim  # noqa: E402
from envs.blocksim.tables import CPU_LLVM  # noqa: E402
from envs.groundtruth.datasets import load_measured, make_split  # noqa: E402
from envs.mca.simulator import McaSimulator  # noqa: E402


def against(pred: np.ndarray, y: np.ndarray) -> str:
    """MAPE etc. of ``pred`` against ``y`` (a NaN prediction counts as 100% error)."""
    ape = np.where(np.isfinite(pred), np.abs(pred - y) / y, 1.0)
    g = np.isfinite(pred)
    tau = kendalltau(pred[g], y[g])[0]
    return (
        f"MAPE={ape.mean():.4f} median APE={np.median(ape):.4f} tau={tau:.3f} "
        f"missing={int((~g).sum())}"
    )


def agree(a: np.ndarray, b: np.ndarray) -> str:
    """blocksim_bench's agreement figures of ``a`` with ``b``, on one line."""
    f = figures(a, b)
    return (
        f"n={f['n']} within 5%={f['within_5pct']:.3f} exact={f['exact']:.3f} "
        f"median |rel|={f['median_abs_rel']:.4f} mean |rel|={f['mean_abs_rel']:.4f} "
        f"tau={f['kendall_tau']:.4f}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="bhive_znver4")
    ap.add_argument("--cpu", default="znver4")
    ap.add_argument("--split", default="by-source")
    ap.add_argument("--part", default="test", choices=["train", "val", "test", "all"])
    ap.add_argument("--max-blocks", type=int, default=0, help="0 = every block of the part")
    ap.add_argument("--worst", type=int, default=15)
    args = ap.parse_args()
    data = load_measured(args.dataset)
    parts = make_split(data, args.split)
    idx = np.arange(len(data)) if args.part == "all" else np.asarray(getattr(parts, args.part))
    if args.max_blocks:
        idx = idx[: args.max_blocks]
    hexes = [data.inputs[i] for i in idx]
    y = np.asarray(data.targets, np.float64)[idx]
    sim = BlockSim(args.cpu)
    p_bs = sim.predict(hexes, sim.default_table())
    compiled = sim.compiled(hexes)
    ok = [k for k, b in enumerate(compiled) if b is not None]
    p_ref = np.full(len(hexes), np.nan)
    p_ref[ok] = mca_total_cycles([list(compiled[k].texts) for k in ok], args.cpu)  # type: ignore[union-attr]
    mca = McaSimulator(llvm=CPU_LLVM[args.cpu], jobs=1)
    p_task = mca.predict(hexes, {"mcpu": args.cpu})
    print(f"{data.name} {args.part} ({args.split}): {len(idx)} blocks, cpu {args.cpu}")
    print(f"  mca task (LLVM 14 text)         {against(p_task, y)}")
    print(f"  llvm-mca on blocksim's text     {against(p_ref, y)}")
    print(f"  blocksim                        {against(p_bs, y)}")
    print(f"  blocksim vs llvm-mca (its text) {agree(p_bs, p_ref)}")
    print(f"  llvm-mca: task text vs blocksim's text {agree(p_task, p_ref)}")
    rel = np.abs(p_bs - p_ref) / p_ref
    rel[~np.isfinite(rel)] = np.inf
    order = np.argsort(-rel)
    # Which opcodes the disagreeing blocks (|rel| >= 5%) hold, vs all blocks
    bad = [k for k in order if rel[k] >= 0.05]
    cnt_bad: Counter[str] = Counter()
    cnt_all: Counter[str] = Counter()
    for k in range(len(hexes)):
        if compiled[k] is None:
            continue
        keys = {x.split("#")[0] for x in compiled[k].keys}  # type: ignore[union-attr]
        cnt_all.update(keys)
        if rel[k] >= 0.05:
            cnt_bad.update(keys)
    print(f"  {len(bad)} blocks differ by >= 5%; opcodes most over-represented in them:")
    lift = sorted(cnt_bad, key=lambda o: -(cnt_bad[o] / max(1, cnt_all[o])) * cnt_bad[o])
    for o in lift[:15]:
        print(f"    {o:24s} in {cnt_bad[o]} of them ({cnt_all[o]} blocks overall)")
    for k in order[: args.worst]:
        txt = "; ".join(compiled[k].texts) if compiled[k] is not None else "?"  # type: ignore[union-attr]
        print(
            f"    blocksim {p_bs[k]:8.0f} llvm-mca {p_ref[k]:8.0f} task {p_task[k]:8.0f} "
            f"measured {y[k]:8.1f}  {txt[:150]}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
