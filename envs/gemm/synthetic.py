"""A small synthetic table (no timing): the analytical model with perturbed constants
plus seeded log-normal noise stands in for measurements. For tests and demos only; its
sidecar says ``synthetic`` where a real table names its CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from envs.gemm.collect import write_table
from envs.gemm.model import CONSTANTS, ConfigArrays, predict_us
from envs.gemm.shapes import Shape, lognormal_shapes, split_shapes
from envs.gemm.space import all_configs, config_key

SYNTHETIC_CPU = {
    "vendor": "synthetic",
    "family": 0,
    "model": 0,
    "stepping": 0,
    "microcode": "none",
    "model_name": "synthetic (analytical model + noise)",
    "uarch": "synthetic",
    "isa": [],
    "kernel": "",
    "hypervisor": False,
}


def write_synthetic_table(
    stem: Path, n_shapes: int = 16, seed: int = 0, noise: float = 0.05
) -> Path:
    """Write ``<stem>.csv.gz`` + ``<stem>.json`` for ``n_shapes`` log-normal shapes (at
    least one per split). Times: the model with each constant scaled by a seeded factor
    in [0.7, 1.4], times log-normal noise of sigma ``noise``. Returns the table path."""
    rng = np.random.default_rng(seed)
    shapes: list[Shape] = lognormal_shapes(n_shapes, seed, max_macs=2**22)
    splits = split_shapes(shapes)
    configs = all_configs()
    cfg = ConfigArrays(configs)
    truth = {k: v * float(rng.uniform(0.7, 1.4)) for k, v in CONSTANTS.items()}
    records = []
    for s, split in zip(shapes, splits, strict=True):
        t = predict_us(np.float64(s.m), np.float64(s.n), np.float64(s.k), cfg, truth)
        t = t * np.exp(rng.normal(0.0, noise, size=len(configs)))
        records.append(
            {
                "shape": s.to_json(),
                "split": split,
                "median_us": [float(x) for x in t],
                "spread": [0.01] * len(configs),
                "torch_us": float(t.min() * 0.9),
                "torch_spread": 0.01,
                "wall_s": 0.0,
                "loadavg_before": [],
                "loadavg_after": [],
                "finished": "",
            }
        )
    extra = {
        "cpu": SYNTHETIC_CPU,
        "compiler": "none",
        "cflags": [],
        "timing": {},
        "method": __doc__,
    }
    return write_table(Path(stem), [config_key(c) for c in configs], records, extra)
