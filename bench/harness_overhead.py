"""Harness overhead at scale: budget accounting, the agent channel, curve monitoring and
records, against simulation time, for one trial.

    .venv/bin/python bench/harness_overhead.py --budget 1000000 --agent random
    .venv/bin/python bench/harness_overhead.py --budget 20000 --agent difftune --isolate both
    .venv/bin/python bench/harness_overhead.py --budget 20000 --agent pycma --isolate both -r 5

Runs one real trial (blocksim, the full shipped dataset, split by-source) and times:
the simulator's work for the agent's requests (train split), the curve monitor's
validation scoring, the final test scoring, the agent channel (time the trial process
spends serving the agent beyond the objective's own work), and the rest of the trial's
wall time. ``--isolate both`` also runs the trial in one process and prints the wall
time ratio (the isolation's cost, agent's start-up included). As in a suite run, the
isolated agents fork from a zygote started before any task is built (harness/zygote.py;
``--no-zygote`` spawns each instead). ``--repeats N`` alternates the two modes N times
and prints each ratio and their median (a shared machine's load comes and goes).

On a shared VM the CPU speed itself drifts by +-10% between two runs of the same trial,
which swamps a few percent of overhead in the ratio. ``--stub-simulation`` measures the
isolation's cost where that noise is small: both modes run on a look-up of the default
configuration's costs (the agent, the channel, validation and records stay, the
simulator's work goes), the CPU seconds isolation adds per trial are the median
difference over the repeats, and one real in-process trial gives the denominator. Not
counted that way: the agent's and the simulator's caches evicting each other.

    .venv/bin/python bench/harness_overhead.py --budget 100000 --agent random \
        --isolate both -r 9 --stub-simulation
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.trial import TrialSpec, build_task, run_trial  # noqa: E402
from harness.zygote import Zygote  # noqa: E402

OPTIONS = {"dataset": "bhive_znver3", "cpu": "znver3", "split": "by-source", "jobs": 1}


# Per split: the default configuration's costs of every item (the stub simulator's answers).
_STUB_COSTS: dict[str, np.ndarray] = {}


def timed_trial(
    agent: str, budget: int, eval_items: int, seed: int, isolate: bool, stub: bool = False
) -> dict:
    """One trial, timed. With ``stub``, the simulator is replaced by a table look-up of
    the default configuration's costs (every configuration costs the same): what is
    left of the trial is the agent's and the harness's own work."""
    task = build_task("blocksim", OPTIONS)
    spent = {"train": 0.0, "val": 0.0, "test": 0.0}
    calls = {"train": 0, "val": 0, "test": 0}
    original = type(task).evaluate
    if stub and not _STUB_COSTS:
        default = task.param_space.default()
        for split in spent:
            every = np.arange(task.n_items(split), dtype=np.int64)
            _STUB_COSTS[split] = np.asarray(original(task, default, split, every))

    def evaluate(config, split, items):  # noqa: ANN001, ANN202 - a timing wrapper
        t0 = time.perf_counter()
        if stub:
            task.param_space.validate(config)  # as the simulator would
            out = _STUB_COSTS[split][np.asarray(items)]
        else:
            out = original(task, config, split, items)
        spent[split] += time.perf_counter() - t0
        calls[split] += len(items)
        return out

    task.evaluate = evaluate  # type: ignore[method-assign]
    spec = TrialSpec(
        suite="bench",
        task_label="blocksim",
        task="blocksim",
        agent=agent,
        seed=seed,
        budget_samples=budget,
        task_options=OPTIONS,
        eval_items=eval_items,
        isolate=isolate,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    rec = run_trial(spec)
    wall = time.perf_counter() - t0
    # CPU s of the whole trial: this process's (the trial runs here) plus, when isolated,
    # the agent process's own. Unlike wall time it does not count waiting for a core.
    cpu = time.process_time() - c0 + rec.get("agent_cpu_s", 0.0)
    del task.evaluate
    if rec["status"] != "ok":
        raise SystemExit(rec["error"])
    return {"rec": rec, "wall": wall, "cpu": cpu, "spent": spent, "calls": calls}


def report(name: str, r: dict) -> None:
    s, c, rec = r["spent"], r["calls"], r["rec"]
    sim = s["train"]
    channel = rec.get("channel_s", 0.0)
    print(
        f"{name}: wall {r['wall']:.1f} s, {rec['samples_used']:,} samples, test MAPE "
        f"{rec['test_mape']:.4f}, {len(rec['curve_samples'])} curve points"
    )
    print(
        f"  simulation for the agent (train): {sim:8.2f} s  ({c['train']:,} blocks, "
        f"{c['train'] / max(sim, 1e-9):,.0f} blocks/s)"
    )
    print(
        f"  curve monitoring (val scoring):   {s['val']:8.2f} s  ({c['val']:,} blocks)"
        f"  = {100 * s['val'] / max(sim, 1e-9):.1f}% of simulation"
    )
    channel_cpu = rec.get("channel_cpu_s", 0.0)
    print(
        f"  agent channel (isolation):        {channel:8.2f} s wall, {channel_cpu:.2f} s CPU"
        f"  = {100 * channel_cpu / max(sim, 1e-9):.1f}% of simulation (CPU)"
    )
    print(f"  final test scoring:               {s['test']:8.2f} s  ({c['test']:,} blocks)")
    rest = r["wall"] - sim - s["val"] - s["test"] - channel
    print(f"  rest (agent's own work, start-up, task build, records): {rest:.2f} s")
    over = s["val"] + channel_cpu
    share = 100 * over / max(sim, 1e-9)
    print(f"  harness overhead (monitoring + channel CPU) / simulation: {share:.1f}%")
    print(f"  CPU time of the trial (agent process included): {r['cpu']:.2f} s")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--agent", default="random")
    p.add_argument("--budget", type=int, default=1_000_000)
    p.add_argument("--eval-items", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--isolate", choices=["yes", "no", "both"], default="yes")
    p.add_argument("-r", "--repeats", type=int, default=1, help="alternate the modes N times")
    p.add_argument("--no-zygote", action="store_true", help="spawn isolated agents")
    p.add_argument(
        "--stub-simulation",
        action="store_true",
        help="time the modes on a look-up instead of the simulator (see the docstring)",
    )
    a = p.parse_args()
    zygote = None
    if a.isolate != "no" and not a.no_zygote:
        # Before any task is built, as the runner does: forks never held a task.
        from harness import registry

        agent_module = registry.agent_target(a.agent).partition(":")[0]
        zygote = Zygote(sorted({"harness.isolation", agent_module}))
        zygote.publish()
    try:
        build_task("blocksim", OPTIONS)  # built once (decoding), outside the timings
        modes = {"yes": [True], "no": [False], "both": [True, False]}[a.isolate]
        # One untimed short trial per mode first: the kernel's JIT load, the agent's
        # imports and the zygote's first fork would otherwise land in the first repeat.
        for isolate in modes:
            timed_trial(a.agent, 10 * a.eval_items, a.eval_items, a.seed, isolate)
        real_cpu = 0.0
        if a.stub_simulation:
            real = timed_trial(a.agent, a.budget, a.eval_items, a.seed, False)
            report(f"{a.agent} in-process, real simulation (the reference)", real)
            real_cpu = real["cpu"]
        ratios, cpu_ratios, added_cpu = [], [], []
        for rep in range(max(1, a.repeats)):
            results = {}
            for isolate in modes if rep % 2 == 0 else modes[::-1]:
                name = "isolated" if isolate else "in-process"
                results[name] = r = timed_trial(
                    a.agent, a.budget, a.eval_items, a.seed, isolate, a.stub_simulation
                )
                report(f"{a.agent} {name} (repeat {rep + 1})", r)
            if len(results) == 2:
                added_cpu.append(results["isolated"]["cpu"] - results["in-process"]["cpu"])
                ratio = results["isolated"]["wall"] / results["in-process"]["wall"]
                same = (
                    results["isolated"]["rec"]["config"] == results["in-process"]["rec"]["config"]
                )
                cpu_ratio = results["isolated"]["cpu"] / results["in-process"]["cpu"]
                ratios.append(ratio)
                cpu_ratios.append(cpu_ratio)
                print(
                    f"isolated / in-process: wall time {ratio:.3f}, CPU time {cpu_ratio:.3f} "
                    f"(same configuration: {same})"
                )
        for what, values in (("wall", ratios), ("CPU", cpu_ratios)):
            if len(values) > 1:
                shown = ", ".join(f"{x:.3f}" for x in values)
                print(
                    f"median isolated / in-process {what} time over {len(values)} repeats: "
                    f"{float(np.median(values)):.3f} ({shown})"
                )
        if real_cpu and added_cpu:
            added = float(np.median(added_cpu))
            shown = ", ".join(f"{x:.3f}" for x in added_cpu)
            print(
                f"CPU s the isolation adds per trial (stub simulation, median of "
                f"{len(added_cpu)}): {added:.3f} ({shown}) = {100 * added / real_cpu:.1f}% of "
                f"the real in-process trial's {real_cpu:.2f} s"
            )
    finally:
        if zygote is not None:
            zygote.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
