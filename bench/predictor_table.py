"""The predictor suite's figures: test MAPE vs label budget per agent, median [95% CI]
over seeds, and each agent's ratio to stock llvm-mca (paired by seed).

    .venv/bin/python bench/predictor_table.py runs/predictors
    .venv/bin/python bench/predictor_table.py runs/predictors runs/more_seeds \\
        --exclude 'blocksim__difftune-predictor__*__s0' --per-seed \\
        --pair surrogate-adapt ithemal --pair surrogate-source ithemal

Reads the suite's finished trials (harness.store.load_trials) of one or more run
directories (a trial id in a later directory replaces the same id in an earlier one;
``--exclude`` drops trial ids matching shell patterns, e.g. trials of an older code
version); prints one Markdown table per task: rows = agents, columns = label budgets.
The reference of the ratio is stock llvm-mca (the agent ``mca-stock``) of the same task.
``--pair A B``: the paired difference A - B of the metric per label budget (mean over
the seeds both ran, 95% bootstrap CI over seeds, and each seed's difference).
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.stats import bootstrap_ci, paired_difference  # noqa: E402
from harness.store import load_trials  # noqa: E402

REFERENCE = "mca-stock"


def cell(values: np.ndarray) -> str:
    """``median [low, high]`` in percent over seeds (n = count)."""
    est = bootstrap_ci(values, stat="median")
    if not np.isfinite(est.point):
        return "-"
    return f"{100 * est.point:.1f} [{100 * est.low:.1f}, {100 * est.high:.1f}] (n={est.n})"


def load(run_dirs: list[str], exclude: list[str]) -> pd.DataFrame:
    """Trials of ``run_dirs`` (later directories win per trial id), ``exclude`` dropped."""
    frames = [load_trials(d) for d in run_dirs]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    trials = pd.concat(frames, ignore_index=True).drop_duplicates("trial_id", keep="last")
    if exclude:
        drop = trials["trial_id"].map(lambda t: any(fnmatch.fnmatch(t, p) for p in exclude))
        trials = trials[~drop]
    return trials[trials["status"] == "ok"]


def pair_table(tdf: pd.DataFrame, a: str, b: str, metric: str, budgets: list) -> None:
    """The paired difference ``a - b`` per label budget, in percentage points."""
    if not ((tdf["agent"] == a).any() and (tdf["agent"] == b).any()):
        return
    print(f"\n{a} - {b}, {metric} in points (mean [95% CI over seeds]; per seed):\n")
    for lb in budgets:
        sel = tdf[tdf["budget_labels"] == lb]
        va = sel[sel["agent"] == a].set_index("seed")[metric].to_dict()
        vb = sel[sel["agent"] == b].set_index("seed")[metric].to_dict()
        est = paired_difference(va, vb)
        if est.n == 0:
            continue
        per = ", ".join(
            f"s{s}: {100 * (va[s] - vb[s]):+.1f}" for s in sorted(va.keys() & vb.keys())
        )
        wins = sum(va[s] < vb[s] for s in va.keys() & vb.keys())
        print(
            f"- {int(lb):,} labels: {100 * est.point:+.1f} [{100 * est.low:+.1f}, "
            f"{100 * est.high:+.1f}] (n={est.n}; {a} lower in {wins}/{est.n}); {per}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dirs", nargs="+")
    ap.add_argument("--metric", default="test_mape")
    ap.add_argument("--exclude", action="append", default=[], help="trial id pattern to drop")
    ap.add_argument("--per-seed", action="store_true", help="list each seed's value too")
    ap.add_argument("--pair", nargs=2, action="append", default=[], metavar=("A", "B"))
    args = ap.parse_args()
    trials = load(args.run_dirs, args.exclude)
    if trials.empty:
        sys.exit("no finished trials")
    for task, tdf in trials.groupby("task_label"):
        budgets = sorted(tdf["budget_labels"].dropna().unique())
        print(f"\n### {task}: {args.metric}, % (median [95% CI] over seeds)\n")
        print("| agent | " + " | ".join(f"{int(b):,} labels" for b in budgets) + " |")
        print("|---|" + "---|" * len(budgets))
        ref = tdf[tdf["agent"] == REFERENCE]
        for agent, adf in tdf.groupby("agent", sort=False):
            cells = []
            for b in budgets:
                cur = adf[adf["budget_labels"] == b].set_index("seed")[args.metric].sort_index()
                text = cell(cur.to_numpy())
                r = ref[ref["budget_labels"] == b][args.metric].to_numpy()
                if agent != REFERENCE and len(r) and len(cur):
                    # Stock llvm-mca is deterministic (no labels, no samples, no seed):
                    # one value per label budget, whatever the seeds it ran with.
                    ratio = bootstrap_ci(cur.to_numpy() / np.median(r), stat="median")
                    text += f"; x{ratio.point:.2f} [{ratio.low:.2f}, {ratio.high:.2f}]"
                if args.per_seed and len(cur) > 1:
                    text += " {" + ", ".join(f"{100 * v:.1f}" for v in cur.to_numpy()) + "}"
                cells.append(text)
            print(f"| {agent} | " + " | ".join(cells) + " |")
        used = tdf.groupby(["agent", "budget_labels"])["labels_used"].median()
        print(
            "\nlabels used (median): "
            + ", ".join(f"{a}@{int(b)}: {int(v)}" for (a, b), v in used.items())
        )
        for a, b in args.pair:
            pair_table(tdf, a, b, args.metric, budgets)


if __name__ == "__main__":
    main()
