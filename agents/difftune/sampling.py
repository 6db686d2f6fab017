"""Parameter tables to simulate: DiffTune's uniform ranges, or perturbations of the
defaults.

``difftune``: each parameter uniform over DiffTune's sampling range (GUIDE section 2:
latency 0-5, micro-ops 1-5, ReadAdvance 0-5, port cycles 0-2, dispatch width 1-10, ROB
50-250), intersected with the space's bounds. Far from any real table, so with a small
budget the surrogate learns a region that the optimum does not lie in.

``local`` (default): the default table with a random share q ~ U(0.02, 0.3) of its
parameters moved by round(U(-2, 2) * w) (at least one step), w = max(1, 0.2 * range);
the surrogate then learns the neighbourhood that parameter training walks through.

``mixed``: each table is ``difftune`` with probability ``uniform_share``, else ``local``.
"""

from __future__ import annotations

import numpy as np

from agents.difftune.layout import Layout

# DiffTune's sampling ranges (inclusive) per field head / global name.
DIFFTUNE_RANGES: dict[str, tuple[int, int]] = {
    "lat": (0, 5),
    "uops": (1, 5),
    "ra": (0, 5),
    "port": (0, 2),
    "dispatch_width": (1, 10),
    "rob_size": (50, 250),
}


def _difftune_bounds(layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = layout.low.copy(), layout.high.copy()
    for j, name in enumerate(layout.names):
        head = name.split(":", 1)[0].split(".", 1)[0]
        if head in DIFFTUNE_RANGES:
            a, b = DIFFTUNE_RANGES[head]
            lo[j] = min(max(a, layout.low[j]), layout.high[j])
            hi[j] = max(min(b, layout.high[j]), lo[j])
    return lo, hi


def sample_tables(
    layout: Layout,
    n: int,
    rng: np.random.Generator,
    mode: str = "local",
    uniform_share: float = 0.1,
) -> np.ndarray:
    """``n`` integer tables, float64 [n, d] (raw units, within the space's bounds)."""
    if mode not in ("local", "difftune", "mixed"):
        raise ValueError(f"unknown sampling mode {mode!r}")
    d = layout.d
    lo, hi = _difftune_bounds(layout)
    uniform = rng.integers(lo.astype(np.int64), hi.astype(np.int64) + 1, size=(n, d))
    width = np.maximum(1.0, 0.2 * (layout.high - layout.low))
    q = rng.uniform(0.02, 0.3, size=(n, 1))
    move = rng.random((n, d)) < q
    step = np.rint(rng.uniform(-2.0, 2.0, size=(n, d)) * width)
    step = np.where(step == 0, rng.choice([-1.0, 1.0], size=(n, d)), step)
    local = np.clip(layout.default + move * step, layout.low, layout.high)
    if mode == "local":
        return local
    if mode == "difftune":
        return uniform.astype(np.float64)
    pick = rng.random((n, 1)) < uniform_share
    return np.where(pick, uniform, local).astype(np.float64)
