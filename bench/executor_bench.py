"""Benchmark: wall time of one suite with 1 local worker, 2 local workers, and Ray on
2 CPUs, in one run; checks that the three runs give the same trial results.

The suite is a small real one: the llvm-mca task on the repository's small measured
dataset (tests/data/measured_small.csv, one llvm-mca process per trial), a few agents
and seeds. Each executor fills its own run directory under ``--out``. Ray's figure is
split into starting the local instance, the suite itself, and shutting it down.

    .venv/bin/python bench/executor_bench.py [--seeds 3] [--budget 2000]
        [--agents default,random,optuna-tpe] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from harness.runner import run_suite
from harness.store import load_trials

REPO = Path(__file__).resolve().parent.parent
DATASET = REPO / "tests" / "data" / "measured_small.csv"

SUITE = """
name = "executor-bench"
seeds = {seeds}
budgets = [{budget}]
eval_items = {eval_items}
[tasks.mca]
task = "mca"
options = {{ dataset = "{dataset}", jobs = 1 }}
agents = {agents}
"""


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load avg {one:.1f} (1 min) {five:.1f} (5 min)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    ap.add_argument("--budget", type=int, default=2000, help="samples per trial")
    ap.add_argument("--eval-items", type=int, default=50, help="train blocks per evaluation")
    ap.add_argument("--agents", default="default,random,optuna-tpe", help="comma-separated")
    ap.add_argument("--out", help="folder for the three run directories (default: a temp dir)")
    args = ap.parse_args()

    out = Path(args.out or tempfile.mkdtemp(prefix="executor-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    agents = [a.strip() for a in args.agents.split(",") if a.strip()]
    cfg = out / "suite.toml"
    cfg.write_text(
        SUITE.format(
            seeds=list(range(args.seeds)),
            budget=args.budget,
            eval_items=args.eval_items,
            dataset=DATASET,
            agents="[" + ", ".join(f'"{a}"' for a in agents) + "]",
        )
    )
    n_trials = args.seeds * len(agents)
    quiet = lambda _line: None  # noqa: E731 - the bench prints its own summary
    print(
        f"suite: mca on {DATASET.name}, agents {', '.join(agents)}, {args.seeds} seeds, "
        f"budget {args.budget} samples, eval_items {args.eval_items} -> {n_trials} trials"
    )

    rows: list[tuple[str, float, str]] = []
    # The local runs go first: the local executor forks, and a process should not fork
    # once Ray's client threads are running in it.
    for workers in (1, 2):
        before = _load()
        t0 = time.perf_counter()
        s = run_suite(cfg, out / f"local{workers}", workers=workers, log=quiet)
        wall = time.perf_counter() - t0
        assert s.ok == n_trials, f"local x{workers}: {s}"
        rows.append((f"local, {workers} worker(s)", wall, before))

    import ray

    from harness.executor_ray import connect

    before = _load()
    t0 = time.perf_counter()
    connect(None, 2)  # started here so the executor reuses it and start-up is timed apart
    t_start = time.perf_counter() - t0
    t1 = time.perf_counter()
    s = run_suite(cfg, out / "ray2", workers=2, executor="ray", log=quiet)
    t_suite = time.perf_counter() - t1
    t2 = time.perf_counter()
    ray.shutdown()
    t_stop = time.perf_counter() - t2
    assert s.ok == n_trials, f"ray: {s}"
    rows.append(("Ray, 2 CPUs (local instance)", t_start + t_suite + t_stop, before))

    cols = ["trial_id", "config", "val_loss", "test_loss", "samples_used"]
    trials = [load_trials(out / d) for d in ("local1", "local2", "ray2")]
    frames = [t[cols].sort_values("trial_id").reset_index(drop=True) for t in trials]
    same = all(f.equals(frames[0]) for f in frames[1:])

    # Sum of the trials' own wall times: grows when concurrent trials slow each other
    # (2 cores shared), which is what limits the speed-up here.
    print(f"{'executor':<30} {'wall_s':>8} {'sum of trial wall_s':>20}   before the run")
    for (name, wall, load), t in zip(rows, trials, strict=True):
        print(f"{name:<30} {wall:8.1f} {t.wall_s.sum():20.1f}   {load}")
    print(f"  Ray split: start {t_start:.1f} s, suite {t_suite:.1f} s, shutdown {t_stop:.1f} s")
    print(f"same trial results (config, val/test loss, samples) in all three: {same}")
    print(f"run directories: {out}")


if __name__ == "__main__":
    main()
