"""Synthetic target microarchitectures: a CPU's default blocksim table, perturbed the
way real generations differ (seeded, so a target is a name: ``synthetic:<seed>``).

Generations mostly differ by class (a wider machine, a faster FP adder, one more load
port, a longer load-to-use latency), with some one-off differences per instruction. A
perturbation of strength s (0..1):

- a different dispatch width (one of 4, 5, 6, 8 other than the default);
- load-to-use: every key that may load gets latency +1 or -1 (one sign per target);
- per resource, with probability s: every key's cycles on it doubled or halved (>= 1);
- per resource, with probability s: every key using it gets latency -1, +1 or +2;
- per key, with probability s / 3: latency + U{-1, 0, 1, 2} (one-off, >= 0).

So the target shares the default's structure (the same keys, resources, buffers) but
no table near the default reproduces it exactly.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from envs.blocksim.tables import Table


def perturbed_table(base: Table, seed: int, strength: float = 0.3) -> Table:
    """A synthetic target: ``base`` perturbed as the module docstring says."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError("strength must be in [0, 1]")
    rng = np.random.default_rng([seed, 19])
    t = base.copy()
    n, n_res = t.resource_cycles.shape
    widths = [w for w in (4, 5, 6, 8) if w != t.dispatch_width]
    lat = t.latency.copy()
    lat[t.may_load] += int(rng.choice([-1, 1]))
    cyc = t.resource_cycles.copy()
    for r in range(n_res):
        on = cyc[:, r] > 0
        if rng.random() < strength:
            cyc[on, r] = np.maximum(1, np.rint(cyc[on, r] * rng.choice([0.5, 2.0])))
        if rng.random() < strength:
            lat[on] += int(rng.choice([-1, 1, 2]))
    one_off = rng.random(n) < strength / 3
    lat[one_off] += rng.integers(-1, 3, size=int(one_off.sum()))
    return replace(
        t,
        dispatch_width=int(rng.choice(widths)),
        latency=np.maximum(lat, 0),
        resource_cycles=cyc.astype(t.resource_cycles.dtype),
    )


def simulate_in_child(
    inputs: list[str], cpu: str, seed: int, strength: float, stack_engine: bool = False
) -> np.ndarray:
    """blocksim cycles, float64 [n], of ``inputs`` under the synthetic target table (with
    blocksim's opt-in stack engine if asked), computed in a child Python process
    (``python -m envs.xuarch.synthetic``).

    Why a child: tasks are built in the runner's process, which then forks the trials,
    and numba's OpenMP layer, once used in a process, kills every child forked from it
    ("fork() called from a process already using GNU OpenMP, this is unsafe").
    """
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "envs.xuarch.synthetic",
            cpu,
            str(seed),
            str(strength),
            str(int(stack_engine)),
        ],
        input="\n".join(inputs).encode(),
        capture_output=True,
        cwd=root,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"synthetic target simulation failed: {proc.stderr.decode()[-2000:]}")
    out = np.frombuffer(proc.stdout, dtype=np.float64)
    if out.shape != (len(inputs),):
        raise RuntimeError(f"synthetic target simulation returned {out.shape[0]} values")
    return out.copy()


def _main() -> None:
    from envs.blocksim.simulator import BlockSim

    cpu, seed, strength = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    stack_engine = len(sys.argv) > 4 and sys.argv[4] == "1"
    inputs = [h for h in sys.stdin.read().split("\n") if h]
    sim = BlockSim(cpu, stack_engine=stack_engine)
    y = sim.predict(inputs, perturbed_table(sim.default_table(), seed, strength))
    sys.stdout.buffer.write(np.asarray(y, np.float64).tobytes())


if __name__ == "__main__":
    _main()
