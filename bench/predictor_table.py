"""The predictor suite's figures: test MAPE vs label budget per agent, median [95% CI]
over seeds, and each agent's ratio to stock llvm-mca (paired by seed).

    .venv/bin/python bench/predictor_table.py runs/predictors

Reads the suite's finished trials (harness.store.load_trials); prints one Markdown
table per task: rows = agents, columns = label budgets.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.stats import bootstrap_ci  # noqa: E402
from harness.store import load_trials  # noqa: E402

REFERENCE = "mca-stock"


def cell(values: np.ndarray) -> str:
    """``median [low, high]`` in percent over seeds (n = count)."""
    est = bootstrap_ci(values, stat="median")
    if not np.isfinite(est.point):
        return "-"
    return f"{100 * est.point:.1f} [{100 * est.low:.1f}, {100 * est.high:.1f}] (n={est.n})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir")
    ap.add_argument("--metric", default="test_mape")
    args = ap.parse_args()
    trials = load_trials(args.run_dir)
    for task, tdf in trials.groupby("task_label"):
        budgets = sorted(tdf["budget_labels"].dropna().unique())
        print(f"\n### {task}: {args.metric}, % (median [95% CI] over seeds)\n")
        print("| agent | " + " | ".join(f"{int(b):,} labels" for b in budgets) + " |")
        print("|---|" + "---|" * len(budgets))
        ref = tdf[tdf["agent"] == REFERENCE]
        for agent, adf in tdf.groupby("agent", sort=False):
            cells = []
            for b in budgets:
                cur = adf[adf["budget_labels"] == b].set_index("seed")[args.metric]
                text = cell(cur.to_numpy())
                r = ref[ref["budget_labels"] == b][args.metric].to_numpy()
                if agent != REFERENCE and len(r) and len(cur):
                    # Stock llvm-mca is deterministic (no labels, no samples, no seed):
                    # one value per label budget, whatever the seeds it ran with.
                    ratio = bootstrap_ci(cur.to_numpy() / np.median(r), stat="median")
                    text += f"; x{ratio.point:.2f} [{ratio.low:.2f}, {ratio.high:.2f}]"
                cells.append(text)
            print(f"| {agent} | " + " | ".join(cells) + " |")
        used = tdf.groupby(["agent", "budget_labels"])["labels_used"].median()
        print(
            "\nlabels used (median): "
            + ", ".join(f"{a}@{int(b)}: {int(v)}" for (a, b), v in used.items())
        )


if __name__ == "__main__":
    main()
