"""Compilations per second of the inlining task (opt -Oz with our pipe host + llc).

Compiles every train module under a fixed random linear policy, sequentially and
then with 2 threads; prints modules, call-site decisions, seconds and compilations/s.

    .venv/bin/python bench/inlining_speed.py
"""

from __future__ import annotations

import time

import numpy as np

from envs.inlining.task import make_inlining_task


def main() -> None:
    rng = np.random.default_rng(0)
    for jobs in (1, 2):
        task = make_inlining_task(jobs=jobs, per_module_metrics=False)
        items = np.arange(task.n_items("train"))
        config = task.param_space.sample(rng)  # a fresh policy: nothing cached
        t0 = time.perf_counter()
        sizes = task.simulate(config, "train", items)
        wall = time.perf_counter() - t0
        decisions = sum(m.n_decisions for m in (task.module("train", i) for i in items))
        print(
            f"jobs={jobs}: {len(items)} modules ({decisions} call sites under -Oz) in "
            f"{wall:.2f} s = {len(items) / wall:.2f} compilations/s; "
            f"failed {int(np.isnan(sizes).sum())}"
        )


if __name__ == "__main__":
    main()
