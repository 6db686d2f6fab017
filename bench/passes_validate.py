"""Re-run and check every chosen sequence of a run's ``passes`` trials with the stock tools.

For each finished trial: the sequence its configuration applies to each test module
(a closed-loop policy's episode gives it), re-run with ``opt-22`` (one process per
element), verified by ``opt-22 -passes=verify``, its instruction count compared with
the pass server's (and the trial's reduction vs -Oz recomputed from the stock counts);
and every distinct chosen sequence applied to csmith programs, whose
output must print the same checksum as at -O0 (envs/passes/validate.py).

    .venv/bin/python bench/passes_validate.py runs/passes [--csmith 8] [--max-modules 0]
        [--task-label passes-per-module]
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import Counter

import numpy as np

from envs.passes.modules import csmith_modules
from envs.passes.policy import observation
from envs.passes.server import PassServer, ServerPool
from envs.passes.task import FAILED_RATIO
from envs.passes.validate import validate
from harness.store import load_trials
from harness.trial import build_task


def chosen_sequences(task, config: dict, max_modules: int) -> list[tuple]:  # noqa: ANN001
    """(module, sequence) for the test modules (a hashed sample of ``max_modules``; 0 =
    all) under a trial's configuration."""
    mods = list(enumerate(task.splits["test"]))
    if max_modules:
        mods = sorted(mods, key=lambda im: hashlib.sha256(im[1].name.encode()).hexdigest())
        mods = mods[:max_modules]
    if task.policy == "sequence":
        return [(m, task.sequence(config, "test", i)) for i, m in mods]
    decide = task.net.decider(config)

    def policy(state) -> int:  # noqa: ANN001 - a PassState
        return decide(observation(state))

    return [(m, task.run_episode(m, policy, False)[2]) for _, m in mods]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("run_dir")
    ap.add_argument("--csmith", type=int, default=8, help="csmith programs (seeds 1..N)")
    ap.add_argument("--max-modules", type=int, default=0, help="test modules per trial (0: all)")
    ap.add_argument("--task-label", help="only the trials of this suite task (default: all)")
    args = ap.parse_args()
    trials = load_trials(args.run_dir)
    trials = trials[(trials["task"] == "passes") & (trials["status"] == "ok")]
    if args.task_label:
        trials = trials[trials["task_label"] == args.task_label]
        if trials.empty:
            raise SystemExit(f"error: no finished passes trial of task {args.task_label!r}")
    server = PassServer()
    programs = csmith_modules(range(1, args.csmith + 1), 0, 0, ServerPool())["train"]
    checked: dict[tuple, bool] = {}
    stock: dict[tuple, int] = {}  # (module, sequence) -> the stock tools' count
    by_seq: dict[tuple, str] = {}
    varied = 0  # pairs where opt-22 gave more than one count (one of them the server's)
    totals: Counter[str] = Counter()
    for _, rec in trials.iterrows():
        task = build_task("passes", json.loads(rec["task_options"]))
        config = task.param_space.validate(json.loads(rec["config"]))
        counts: Counter[str] = Counter()
        ratios = []  # stock count / -Oz count per module (a failure: FAILED_RATIO)
        for m, seq in chosen_sequences(task, config, args.max_modules):
            key = (m.name, seq)
            if key not in checked:
                v = validate(m, seq, server)
                checked[key] = v.ok
                varied += v.stock_varies
                stock[key] = v.stock_instructions if v.verified else -1
                if not v.ok:
                    print(f"  FAILED {m.name} {seq}: {v}")
            counts["ok" if checked[key] else "failed"] += 1
            n = stock[key]
            ratios.append(max(n, 1) / m.oz_instructions if n >= 0 else FAILED_RATIO)
            if seq not in by_seq:
                outs = [validate(p, seq, server).output for p in programs]
                by_seq[seq] = "same" if all(o in ("same", "no-run") for o in outs) else "DIFFERS"
                totals["csmith_" + by_seq[seq]] += 1
        totals.update(counts)
        # The trial's figure recomputed from the stock tools' counts (what a user gets
        # running the chosen sequences with opt-22), on the modules checked.
        stock_reduction = float(np.exp(-np.mean(np.log(ratios)))) if ratios else float("nan")
        print(
            f"{rec['trial_id']:60s} modules ok {counts['ok']:4d} failed {counts['failed']:3d}"
            f"  reduction vs -Oz with the stock tools' counts {stock_reduction:.4f}x"
        )
    print(
        f"{len(checked)} (module, sequence) pairs re-run: {sum(checked.values())} verified with "
        f"equal counts ({varied} of them where opt-22's own count varies over runs and one "
        f"run gives the server's); {len(by_seq)} distinct sequences on {len(programs)} csmith "
        f"programs: "
        f"{totals['csmith_same']} same output, {totals['csmith_DIFFERS']} differ"
    )
    if not np.all(list(checked.values())) or totals["csmith_DIFFERS"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
