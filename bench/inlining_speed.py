"""Compile throughput of the inlining task on the Debian corpus, and what dominates it.

One compilation = ``opt -passes=default<Oz>`` with the ML inliner asking our pipe host
at every call site, then ``llc -O2 -relocation-model=pic``, then reading ``.text``.
Prints, for a seeded sample of the task's train modules (their -Oz facts cached):

1. start-up: opt (with the interactive advisor) and llc on a one-function module
   (libLLVM load, flag parsing, the pipes' set-up);
2. per module, sequentially: opt under a fixed random policy (of which: time inside the
   policy), llc, and plain ``opt -Oz`` (no advisor) on the same module; the pipe
   protocol's cost = (opt with advisor - policy time) - plain opt;
3. compilations/s with 1 and 2 modules compiled at once (threads; one opt+llc each);
4. with ``--channel N``: the live-policy round trip through the agent isolation channel
   (``ctx.objective.evaluate_policy``): one isolated trial of ``inline-bc`` cloning from
   N modules, its evaluate_policy time per call site against the same modules compiled
   with a local decider.

    .venv/bin/python bench/inlining_speed.py --sample 60 --seed 0 --channel 20
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from envs.inlining.host import (  # noqa: E402
    OPT_PIPELINE,
    compile_with_policy,
    default_decider,
)
from envs.inlining.policy import make_policy  # noqa: E402
from envs.inlining.task import make_inlining_task  # noqa: E402
from envs.inlining.tools import llvm_tools  # noqa: E402

TINY_IR = "define i32 @f(i32 %x) {\n  %y = add i32 %x, 1\n  ret i32 %y\n}\n"


def startup_s(repeats: int = 10) -> tuple[float, float]:
    """Median seconds of (opt with the interactive advisor + host, llc) on a tiny module."""
    with tempfile.TemporaryDirectory() as tmp:
        ir = Path(tmp) / "tiny.ll"
        ir.write_text(TINY_IR)
        opt_runs, llc_runs = [], []
        for _ in range(repeats):
            res = compile_with_policy(ir, default_decider)
            opt_runs.append(res.opt_s)
            llc_runs.append(res.llc_s)
    return statistics.median(opt_runs), statistics.median(llc_runs)


def plain_opt_s(bitcode: Path) -> float:
    tools = llvm_tools()
    t0 = time.perf_counter()
    subprocess.run(
        [tools.opt, f"-passes={OPT_PIPELINE}", str(bitcode), "-o", "/dev/null"], check=True
    )
    return time.perf_counter() - t0


def channel_cost(n_modules: int, seed: int) -> None:
    """Time ``evaluate_policy`` through an isolated ``inline-bc`` trial vs locally."""
    from harness.trial import TrialSpec, build_task, run_trial

    # A small test split (one test package) keeps the trial's final scoring short.
    options = {"corpus": "debian", "packages": ["zlib", "lmdb", "pcre2"], "features": "all"}
    task = build_task("inlining", options)
    calls: list[tuple[str, float]] = []
    original = type(task).evaluate_policy

    def timed(policy, split, items):  # noqa: ANN001, ANN202 - a timing wrapper
        t0 = time.perf_counter()
        out = original(task, policy, split, items)
        calls.append((split, int(items[0]), time.perf_counter() - t0))
        return out

    task.evaluate_policy = timed  # type: ignore[method-assign]
    spec = TrialSpec(
        suite="bench",
        task_label="inlining",
        task="inlining",
        agent="inline-bc",
        seed=seed,
        budget_samples=n_modules,
        task_options=options,
        agent_options={"bc_epochs": 1},
        eval_items=1,
    )
    rec = run_trial(spec)
    del task.evaluate_policy
    if rec["status"] != "ok":
        raise SystemExit(rec["error"])
    remote = sum(c[2] for c in calls)
    local, decisions = 0.0, 0
    for split, item, _ in calls:
        res = compile_with_policy(task.module(split, item).ir_path, default_decider)
        local += res.wall_s
        decisions += res.n_decisions
    per_site_us = (remote - local) / max(decisions, 1) * 1e6
    print(
        f"channel: {len(calls)} modules, {decisions} call sites: through the channel "
        f"{remote:.2f} s, local decider {local:.2f} s -> {per_site_us:.0f} us per call site "
        f"({(remote - local) / max(remote, 1e-9):.0%} of the live-policy compile time)"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sample", type=int, default=60, help="train modules compiled per pass")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--channel", type=int, default=0, help="modules for the channel test")
    p.add_argument("--packages", nargs="+", help="corpus packages (default: all; builds)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="modules at once")
    args = p.parse_args()

    opt0, llc0 = startup_s()
    print(f"start-up: opt + advisor + host {opt0 * 1e3:.0f} ms, llc {llc0 * 1e3:.0f} ms")

    task = make_inlining_task(
        corpus="debian", features="all", policy="mlp", hidden=16, packages=args.packages
    )
    rng = np.random.default_rng(args.seed)
    n = min(args.sample, task.n_items("train"))
    items = np.sort(rng.choice(task.n_items("train"), size=n, replace=False))
    modules = [task.module("train", i) for i in items]
    policy = make_policy(task.param_space.sample(rng), task.spec)

    rows = []
    for m in modules:
        res = compile_with_policy(m.ir_path, policy)
        rows.append((res.opt_s, res.decide_s, res.llc_s, plain_opt_s(m.ir_path), res.n_decisions))
    opt_s, decide_s, llc_s, plain_s, decisions = (np.array(c) for c in zip(*rows, strict=True))
    total = opt_s.sum() + llc_s.sum()
    protocol = (opt_s - decide_s - plain_s).sum()
    print(
        f"{n} train modules ({int(decisions.sum())} call sites, median "
        f"{np.median([m.n_decisions for m in modules]):.0f}), sequential: "
        f"{total:.1f} s = {n / total:.2f} compilations/s"
    )
    print(
        f"  opt with advisor {opt_s.sum() / total:.0%} (plain opt -Oz {plain_s.sum() / total:.0%}, "
        f"policy {decide_s.sum() / total:.1%}, pipe protocol {protocol / total:.1%}), "
        f"llc {llc_s.sum() / total:.0%}; start-up share "
        f"{n * (opt0 + llc0) / total:.0%}; median module {np.median(opt_s + llc_s) * 1e3:.0f} ms"
    )
    for workers in args.workers:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda m: compile_with_policy(m.ir_path, policy), modules))
        wall = time.perf_counter() - t0
        print(f"  {workers} at once: {n / wall:.2f} compilations/s ({wall:.1f} s)")
    if args.channel:
        channel_cost(args.channel, args.seed)


if __name__ == "__main__":
    main()
