"""Compilation throughput of the pass-ordering task on this machine, and what dominates.

Compares, on the same corpus modules (a fixed sample of the test packages):

- ``opt-22`` started per compilation (what a task without a server pays): with an
  empty pipeline (process start + libLLVM load + bitcode read and write), and with
  ``-passes=default<Oz>``;
- the long-lived pass server (envs/passes/server.py): ``default<Oz>``, and random
  10-pass sequences (the black-box agents' typical request), with 1 and ``--workers``
  threads (one server each).

Prints compilations/s and the share of a process-per-compilation run spent before any
pass. Check ``/work/QUIET`` and ``uptime`` first: timings need otherwise idle cores.

    .venv/bin/python bench/passes_speed.py [--modules 60] [--workers 2]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from envs.llvmcorpus.store import find_tools
from envs.passes.actions import OZ_PIPELINE, PASSES, element
from envs.passes.modules import corpus_modules
from envs.passes.server import ServerPool


def _opt_per_process(mods, passes: str) -> float:  # noqa: ANN001
    opt = find_tools().opt
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for m in mods:
            subprocess.run(
                [opt, f"-passes={passes}", str(m.bitcode), "-o", os.path.join(tmp, "o.bc")],
                check=True,
                capture_output=True,
            )
    return time.perf_counter() - t0


def _server(mods, sequences, workers: int) -> float:  # noqa: ANN001
    pool = ServerPool()

    def one(k: int) -> bool:
        res = pool.get().run(mods[k].bitcode, sequences[k])
        if not res.ok:
            print(f"  failed: {mods[k].name} {sequences[k]}: {res.error[:200]}")
        return res.ok

    for k in range(min(workers, len(mods))):  # start the servers before timing
        pool.get().run(mods[k].bitcode, [])
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as ex:
        ok = list(ex.map(one, range(len(mods))))
    wall = time.perf_counter() - t0
    pool.close()
    if not all(ok):  # a failed compilation (crash, verifier error) still took its time
        print(f"  {len(ok) - sum(ok)} of {len(ok)} compilations failed")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--modules", type=int, default=60)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    test = corpus_modules(build=False)["test"]
    mods = sorted(test, key=lambda m: hashlib.sha256(m.name.encode()).hexdigest())[: args.modules]
    rng = np.random.default_rng(0)
    rand = [[element(a) for a in rng.choice(PASSES, size=10)] for _ in mods]
    oz = [[OZ_PIPELINE] for _ in mods]
    n = len(mods)
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"{n} test modules, {sum(m.instructions for m in mods)} IR instructions in all")
    rows = []
    t_empty = _opt_per_process(mods, "verify")
    rows.append(("opt-22 per compilation, no pass (start + load + I/O)", t_empty))
    t_opt_oz = _opt_per_process(mods, OZ_PIPELINE)
    rows.append(("opt-22 per compilation, -Oz", t_opt_oz))
    for w in sorted({1, args.workers}):
        rows.append((f"server -Oz, {w} worker(s)", _server(mods, oz, w)))
        rows.append((f"server 10 random passes, {w} worker(s)", _server(mods, rand, w)))
    for label, wall in rows:
        print(f"{label:58s} {n / wall:8.1f} compilations/s  ({1000 * wall / n:6.1f} ms each)")
    print(
        f"per-process start-up share of an opt-22 -Oz compilation: {t_empty / t_opt_oz:.0%} "
        f"({1000 * t_empty / n:.1f} ms of {1000 * t_opt_oz / n:.1f} ms)"
    )


if __name__ == "__main__":
    main()
