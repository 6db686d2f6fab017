"""Synthetic target microarchitectures: a CPU's default blocksim table, perturbed the
way real generations differ (seeded, so a target is a name: ``synthetic:<seed>``).

A perturbation of strength s (0..1):

- a different dispatch width (one of 4, 5, 6, 8 other than the default);
- load-to-use: every key that may load gets latency +1 or -1 (one sign per target);
- per key, with probability s: latency + U{-1, 0, 1, 2} (>= 0);
- per key using resources, with probability s / 2: every resource use doubled or
  halved (>= 1 cycle where used);
- per key, with probability s / 4: micro-ops +1 or -1 (>= 1).

So the target shares the default's structure (the same keys, resources, buffers) but
no single parameter table near the default reproduces it exactly.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from envs.blocksim.tables import Table


def perturbed_table(base: Table, seed: int, strength: float = 0.3) -> Table:
    """A synthetic target: ``base`` perturbed as the module docstring says."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError("strength must be in [0, 1]")
    rng = np.random.default_rng([seed, 19])
    t = base.copy()
    n = len(t.latency)
    widths = [w for w in (4, 5, 6, 8) if w != t.dispatch_width]
    lat = t.latency.copy()
    lat[t.may_load] += int(rng.choice([-1, 1]))
    move = rng.random(n) < strength
    lat[move] += rng.integers(-1, 3, size=int(move.sum()))
    cyc = t.resource_cycles.copy()
    scale = (rng.random(n) < strength / 2) & (cyc.sum(1) > 0)
    for i in np.flatnonzero(scale):
        used = cyc[i] > 0
        cyc[i, used] = np.maximum(1, np.rint(cyc[i, used] * rng.choice([0.5, 2.0])))
    uops = t.micro_ops.copy()
    step = rng.random(n) < strength / 4
    uops[step] += rng.choice([-1, 1], size=int(step.sum()))
    return replace(
        t,
        dispatch_width=int(rng.choice(widths)),
        latency=np.maximum(lat, 0),
        resource_cycles=cyc.astype(t.resource_cycles.dtype),
        micro_ops=np.maximum(uops, 1),
    )
