"""The gemm suite's figures for the issue's targets, from a finished run directory.

Per task, budget and agent: the headline (gemm-search: time / exhaustive best; gemm-select:
top-1/5/10 over best) as the mean over seeds with a 95% bootstrap CI over seeds, the
timings the agent used (gemm-search: samples; gemm-select: labels read plus N per test
shape for the top-N timing) and their fraction of exhaustive search (every schedule of
every test shape: what max-autotune would time). For the best learned selection, a CI
over test shapes too (resampling shapes), the per-class breakdown, and the targets.

    .venv/bin/python bench/gemm_suite.py runs/gemm
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd

from harness.stats import bootstrap_ci
from harness.store import load_trials

TOP_N = (1, 5, 10)


def ci(values: pd.Series) -> str:
    e = bootstrap_ci(values.to_numpy(dtype=float), stat="mean")
    return f"{e.point:.3f} [{e.low:.3f}, {e.high:.3f}]"


def shape_ci(rec: pd.Series, prefix: str, seed: int = 0) -> str:
    """Geomean of a record's per-shape ratios with a bootstrap CI over shapes."""
    vals = np.array([v for k, v in rec.items() if k.startswith(prefix) and np.isfinite(v)])
    if vals.size == 0:
        return "n/a"
    logs = np.log(vals)
    rng = np.random.default_rng(seed)
    boots = np.exp(logs[rng.integers(0, len(logs), size=(5000, len(logs)))].mean(axis=1))
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return f"{np.exp(logs.mean()):.3f} [{lo:.3f}, {hi:.3f}] over {len(vals)} shapes"


def classes(rec: pd.Series, prefix: str, table_name: str) -> dict[str, float]:
    from envs.gemm.table import load_table

    t = load_table(table_name)
    cls = {s.name: s.cls for s in t.shapes}
    by: dict[str, list[float]] = {}
    for k, v in rec.items():
        if k.startswith(prefix) and np.isfinite(v):
            by.setdefault(cls[k[len(prefix) :]], []).append(float(v))
    return {c: float(np.exp(np.mean(np.log(v)))) for c, v in sorted(by.items())}


def autotune_row(table_name: str, n_test: int, per_shape: int) -> str:
    """The validate-against-max-autotune line: exhaustive search's own top-N (every
    schedule of every test shape timed once, as the collection did), scored like the
    agents' (geomean over test shapes of best-of-N / best; no seeds: one collection)."""
    from envs.gemm.table import load_table

    t = load_table(table_name)
    rows = t.rows("test")
    cells = []
    for n in TOP_N:
        r = t.autotune_top_n_over_best(rows, n)
        cells.append(f"{np.exp(np.log(r).mean()):.3f}")
    return (
        f"max-autotune (every schedule timed once; reference) | - | {' | '.join(cells)} | - | "
        f"{n_test * per_shape} | 100%"
    )


def main(run_dir: str) -> None:
    df = load_trials(run_dir)
    df = df[df["status"] == "ok"]
    for task_label, tdf in df.groupby("task_label"):
        task = tdf["task"].iloc[0]
        prov = json.loads(tdf["provenance"].iloc[0])
        n_test = prov["split_sizes"].get("test", prov["split_sizes"].get("search"))
        per_shape = prov["configs_per_shape"]
        exhaustive = n_test * per_shape
        # the table as the suite named it (a shipped stem or a path), else the default
        options = json.loads(tdf["task_options"].iloc[0] or "{}")
        table = options.get("table", prov["dataset"])
        print(
            f"== {task_label} ({task}) on {prov['dataset']}: {n_test} test shapes x "
            f"{per_shape} schedules;"
        )
        print(f"   exhaustive search (max-autotune) = {exhaustive} timings")
        budget_col = "budget_labels" if task == "gemm-select" else "budget_samples"
        reference = autotune_row(table, n_test, per_shape) if task == "gemm-select" else ""
        for budget, bdf in tdf.groupby(budget_col, dropna=False):
            print(f"-- budget {budget_col} = {budget}")
            rows = []
            for agent, adf in bdf.groupby("agent"):
                if task == "gemm-search":
                    used = adf["samples_used"].mean()
                    rows.append(
                        (agent, len(adf), ci(adf["test_time_over_best"]),
                         ci(adf["test_time_over_torch"]),
                         f"{used:.0f} ({used / exhaustive:.2%})")
                    )  # fmt: skip
                else:
                    labels = adf["labels_used"].mean()
                    cells = [ci(adf[f"test_top{n}_over_best"]) for n in TOP_N]
                    deploy = [labels + n * n_test for n in TOP_N]
                    rows.append(
                        (agent, len(adf), *cells, ci(adf["test_top1_over_torch"]),
                         f"{labels:.0f} (+{n_test}N)",
                         " / ".join(f"{d / exhaustive:.1%}" for d in deploy))
                    )  # fmt: skip
            if task == "gemm-search":
                head = ("agent", "seeds", "time/best (mean, 95% CI)", "time/torch", "timings used")
            else:
                head = ("agent", "seeds", "top-1/best", "top-5/best", "top-10/best", "top-1/torch",
                        "labels read", "all timings / exhaustive (N=1/5/10)")  # fmt: skip
            print(" | ".join(head))
            for r in rows:
                print(" | ".join(str(x) for x in r))
            if reference:
                print(reference)
        # The best agent at the largest budget: CI over shapes, per class, targets.
        top = tdf[tdf[budget_col] == tdf[budget_col].max()]
        key = "test_top1_over_best" if task == "gemm-select" else "test_time_over_best"
        means = top.groupby("agent")[key].mean().sort_values()
        best_agent = means.index[0]
        rec = (
            top[top["agent"] == best_agent]
            .sort_values(key)
            .iloc[len(top[top["agent"] == best_agent]) // 2]
        )
        print(
            f"-- best at {budget_col} = {top[budget_col].max()}: {best_agent} "
            f"(median seed {rec['seed']})"
        )
        prefixes = [f"test_top{n}/" for n in TOP_N] if task == "gemm-select" else ["test_shape/"]
        for prefix in prefixes:
            per_class = classes(rec, prefix, table)
            print(
                f"   {prefix[5:-1]}: {shape_ci(rec, prefix)}; per class: "
                + ", ".join(f"{c} {v:.3f}" for c, v in per_class.items())
            )
        if task == "gemm-select":
            for budget, bdf in tdf.groupby(budget_col):
                m = bdf.groupby("agent")[
                    [f"test_top{n}_over_best" for n in TOP_N] + ["labels_used"]
                ].mean()
                ok1 = m[m["test_top1_over_best"] <= 1.10]
                ok5 = m[m["test_top5_over_best"] <= 1.03]
                print(
                    f"   targets at {budget} labels: top-1 within 10%: "
                    f"{list(ok1.index) or 'none'}; "
                    f"top-5 within 3%: {list(ok5.index) or 'none'}"
                )
        print()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/gemm")
