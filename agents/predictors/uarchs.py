"""Simulated microarchitectures for the representation learners (perfvec): the task's
default configuration, sampled configurations of its simulator, and, on a
cross-microarchitecture task, the source CPU's measurements.

- blocksim-style spaces (integer table parameters named ``FIELD:KEY``): a
  ``structured_share`` of the tables change whole classes of instructions at once, as
  microarchitectures differ (:func:`structured_tables`: a resource's cycles doubled or
  halved for every key that uses it, the latency of every key on a resource shifted,
  dispatch width and reorder buffer moved); the rest are DiffTune's ``mixed`` samples
  (:func:`agents.difftune.sampling.sample_tables`): a random share of the default's
  entries moved by a few steps, ``uniform_share`` of them drawn from DiffTune's ranges;
- other spaces (e.g. llvm-mca: ``mcpu`` x global knobs): uniform samples of the space.

Cross-microarchitecture tasks (``envs/xuarch``) add a categorical parameter
:data:`MACHINE` whose value :data:`SOURCE` makes an evaluation return the source CPU's
measured cycles (free labels, paid as samples) instead of the simulator's.

Also the fixed whole-table changes boosted-residual simulates as features
(:func:`sensitivity_configs`: every latency + 1, every resource use doubled, ...).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.difftune.layout import Layout
from agents.difftune.sampling import sample_tables
from harness.params import CategoricalParam, IntParam, ParamSpace

MACHINE = "machine"  # the cross-uarch tasks' parameter choosing simulator or source data
SOURCE = "source"  # its value for the source CPU's measurements


def table_space(space: ParamSpace) -> ParamSpace | None:
    """The integer table parameters of ``space`` (None if it has none named ``F:KEY``)."""
    ints = [p for p in space if isinstance(p, IntParam)]
    if not any(":" in p.name for p in ints):
        return None
    return ParamSpace(ints)


def source_config(space: ParamSpace) -> dict[str, Any] | None:
    """The configuration that returns the source CPU's measurements, if the task has one."""
    if MACHINE not in space.names:
        return None
    p = space[MACHINE]
    if not isinstance(p, CategoricalParam) or SOURCE not in p.choices:
        return None
    return {**space.default(), MACHINE: SOURCE}


def structured_tables(layout: Layout, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` tables, float64 [n, d], each changing classes of instructions together.

    Per table: each resource (``port.R`` field) with probability 0.3 has every key's
    cycles on it doubled or halved (>= 1 where used) and, independently with 0.3, every
    key on it a latency shift of -1, +1 or +2 (a key on several shifted resources takes
    the largest); with 0.3 every ReadAdvance moves by +-1, with 0.2 every multi-micro-op
    key by +-1; dispatch width default +-2 and reorder buffer x U(0.6, 1.4). Clipped to
    the space's bounds.
    """
    d = layout.d
    out = np.repeat(layout.default[None, :], n, axis=0)
    fields = list(layout.fields)
    ti = layout.token_index  # [n_tok + 1, F], d = no such parameter
    ports = [j for j, f in enumerate(fields) if f.startswith("port.")]
    lat = fields.index("lat") if "lat" in fields else -1
    ra = fields.index("ra") if "ra" in fields else -1
    uops = fields.index("uops") if "uops" in fields else -1
    glob = dict(zip(layout.globals_, layout.global_index, strict=True))
    for t in range(n):
        row = out[t]
        shift = np.zeros(len(ti))
        for j in ports:
            on = ti[:, j] < d  # keys using this resource
            if rng.random() < 0.3:
                idx = ti[on, j]
                row[idx] = np.maximum(1.0, np.rint(row[idx] * rng.choice([0.5, 2.0])))
            if lat >= 0 and rng.random() < 0.3:
                shift[on] = np.maximum(shift[on], rng.choice([-1.0, 1.0, 2.0]))
        if lat >= 0:
            has = ti[:, lat] < d
            row[ti[has, lat]] += shift[has]
        if ra >= 0 and rng.random() < 0.3:
            idx = ti[ti[:, ra] < d, ra]
            row[idx] = np.where(row[idx] > 0, row[idx] + rng.choice([-1.0, 1.0]), row[idx])
        if uops >= 0 and rng.random() < 0.2:
            idx = ti[ti[:, uops] < d, uops]
            row[idx] = np.where(row[idx] >= 2, row[idx] + rng.choice([-1.0, 1.0]), row[idx])
        if "dispatch_width" in glob:
            row[glob["dispatch_width"]] += rng.integers(-2, 3)
        if "rob_size" in glob:
            row[glob["rob_size"]] = np.rint(row[glob["rob_size"]] * rng.uniform(0.6, 1.4))
    return np.clip(out, layout.low, layout.high)


def sample_uarchs(
    space: ParamSpace,
    n: int,
    rng: np.random.Generator,
    uniform_share: float = 0.1,
    structured_share: float = 0.5,
) -> list[dict[str, Any]]:
    """``n`` valid configurations of the simulator (never the source one)."""
    if n <= 0:
        return []
    tables = table_space(space)
    if tables is None:
        out = []
        for _ in range(n):
            cfg = space.sample(rng)
            if MACHINE in cfg and cfg[MACHINE] == SOURCE:
                cfg[MACHINE] = space.default()[MACHINE]
            out.append(cfg)
        return out
    layout = Layout.from_space(tables)
    base = space.default()
    n_struct = int(round(n * structured_share))
    drawn = np.vstack(
        [
            structured_tables(layout, n_struct, rng),
            sample_tables(layout, n - n_struct, rng, "mixed", uniform_share),
        ]
    )
    return [{**base, **layout.to_config(t)} for t in drawn]


# Whole-table changes whose effect on a block says what bounds it: a latency-bound
# block slows when every latency grows, a port-bound one when every resource use
# doubles, a front-end-bound one when dispatch narrows, and so on.
SENSITIVITIES = ("latency+1", "resources*2", "no-read-advance", "dispatch-3", "rob/4")


def sensitivity_configs(space: ParamSpace, names: tuple[str, ...] = SENSITIVITIES) -> list[dict]:
    """The default configuration with one of :data:`SENSITIVITIES` applied to every table
    key of ``space`` (a blocksim-style space), clipped to its bounds; in ``names`` order.

    ``latency+1``: every ``lat`` + 1; ``resources*2``: every ``port.R`` cycle count x 2;
    ``no-read-advance``: every ``ra`` 0; ``dispatch-3``: ``dispatch_width`` - 3 (>= 1);
    ``rob/4``: ``rob_size`` / 4. A change whose fields the space lacks is the default.
    """
    unknown = [n for n in names if n not in SENSITIVITIES]
    if unknown:
        raise ValueError(f"unknown sensitivity {unknown[0]!r}; known: {', '.join(SENSITIVITIES)}")
    tables = table_space(space)
    if tables is None:
        raise ValueError("sensitivities need a blocksim-style space (FIELD:KEY parameters)")
    layout = Layout.from_space(tables)
    base = space.default()
    fields, ti, d = list(layout.fields), layout.token_index, layout.d
    glob = dict(zip(layout.globals_, layout.global_index, strict=True))

    def field_idx(pred: Any) -> np.ndarray:
        cols = [j for j, f in enumerate(fields) if pred(f)]
        return np.concatenate([ti[ti[:, j] < d, j] for j in cols]) if cols else np.zeros(0, int)

    out = []
    for name in names:
        v = layout.default.copy()
        if name == "latency+1":
            v[field_idx(lambda f: f == "lat")] += 1
        elif name == "resources*2":
            v[field_idx(lambda f: f.startswith("port."))] *= 2
        elif name == "no-read-advance":
            v[field_idx(lambda f: f == "ra")] = 0
        elif name == "dispatch-3" and "dispatch_width" in glob:
            v[glob["dispatch_width"]] = max(1.0, v[glob["dispatch_width"]] - 3)
        elif name == "rob/4" and "rob_size" in glob:
            v[glob["rob_size"]] = np.floor(v[glob["rob_size"]] / 4)
        out.append({**base, **layout.to_config(np.clip(v, layout.low, layout.high))})
    return out
