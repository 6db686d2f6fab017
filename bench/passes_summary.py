"""A run's ``passes`` trials as CompilerGym-style figures: per task setting and agent, the
reduction factor vs -Oz on the test modules (-Oz instructions / instructions, geomean;
> 1 = better than -Oz) as median [95% bootstrap CI] over seeds, the same for .text
bytes, compilations used, wall time, and the per-package reduction (median over seeds).

    .venv/bin/python bench/passes_summary.py runs/passes
"""

from __future__ import annotations

import argparse

import numpy as np

from harness.stats import bootstrap_ci
from harness.store import load_trials


def _ci(values: np.ndarray) -> str:
    e = bootstrap_ci(values, stat="median")
    return f"{e.point:.4f} [{e.low:.4f}, {e.high:.4f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("run_dir")
    args = ap.parse_args()
    trials = load_trials(args.run_dir)
    trials = trials[trials["task"].str.startswith("passes") & (trials["status"] == "ok")]
    packages = sorted(c for c in trials.columns if c.startswith("test_package/"))
    for label, group in trials.groupby("task_label"):
        print(f"\n## {label}  (reduction vs -Oz on test modules, median [95% CI] over seeds)")
        print(
            f"{'agent':16s} {'seeds':>5s} {'IR instructions':>28s} {'.text bytes':>28s} "
            f"{'compilations':>12s} {'wall s':>7s}"
        )
        for agent, g in group.groupby("agent"):
            text = 1.0 / g["test_geomean_text_oz_ratio"].to_numpy(dtype=np.float64)
            print(
                f"{agent:16s} {len(g):5d} {_ci(g['test_oz_reduction'].to_numpy(np.float64)):>28s} "
                f"{_ci(text):>28s} {int(g['samples_used'].median()):12d} "
                f"{g['wall_s'].median():7.0f}"
            )
        cols = [c for c in packages if group[c].notna().any()]
        if cols:
            names = [c[len("test_package/") :] for c in cols]
            print(f"per package (median reduction): {'':2s}" + " ".join(f"{n:>10s}" for n in names))
            for agent, g in group.groupby("agent"):
                vals = [1.0 / float(np.nanmedian(g[c].to_numpy(np.float64))) for c in cols]
                print(f"  {agent:28s}" + " ".join(f"{v:10.4f}" for v in vals))


if __name__ == "__main__":
    main()
