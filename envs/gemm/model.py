"""An analytical time model of the generated GEMM kernel, and the heuristic built on it.

The kernel's own heuristic (what a hand-written library does without autotuning) picks,
for a shape, the configuration this model predicts fastest with its default constants
(the Zen 4 numbers below). The model's constants are also the parameter space of the
``gemm-select`` task: black-box agents calibrate them against measured timings.

Model, in core cycles, for an M x N x K product and a configuration (mr rows, tn vectors
of vec floats, nr = tn * vec columns, kc, loop order, packing); one 256-bit unit per
8 floats (w = vec / 8):

- micro-kernel: ceil(M/mr) * ceil(N/nr) * K steps; a step issues mr * tn * w FMAs and
  tn * w + mr loads and lasts max(FMAs / fma_per_cycle, loads / loads_per_cycle,
  fma_latency) (the accumulators' dependency chains bound short tiles);
- per micro-kernel call (one per tile and k-block): ``call_cycles`` plus a load and a
  store of each C vector (``cvec_cycles``), and ``edge_cycles`` per element of an edge
  tile (written element by element) or of an unpacked operand's padded edge copy;
- packing: ``pack_cycles`` per float copied (B: K * N, A: M * K when packed);
- unpacked B rows are N floats apart: ``unpacked_b_cycles`` per step when a row is a
  page or more;
- streaming: the operand swept by the innermost tile loop is re-read once per tile of
  the other (innermost m: A, nt times; n: B, mt times; k: both), at ``l2_cycles`` per
  float when its block (M x kc or N x kc floats) fits ``l2_kib``, ``mem_cycles`` if not.

Time = cycles / (clock_ghz * 1e3) microseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from harness.params import FloatParam, ParamSpace

# name -> (default, low, high): defaults for Zen 4 (two 256-bit FMA pipes, two loads per
# cycle, FMA latency 4, 1 MiB L2), the rest rough guesses; bounds 1/8x .. 8x.
CONSTANTS: dict[str, float] = {
    "clock_ghz": 3.7,
    "fma_per_cycle": 2.0,
    "loads_per_cycle": 2.0,
    "fma_latency": 4.0,
    "call_cycles": 30.0,
    "cvec_cycles": 1.0,
    "edge_cycles": 1.0,
    "pack_cycles": 0.5,
    "unpacked_b_cycles": 0.5,
    "l2_cycles": 0.25,
    "mem_cycles": 1.0,
    "l2_kib": 1024.0,
}


def model_space() -> ParamSpace:
    """The model's constants as a parameter space (log-scaled, 1/8x to 8x the default;
    the default is :data:`CONSTANTS`)."""
    return ParamSpace([FloatParam(k, v / 8, v * 8, v, log=True) for k, v in CONSTANTS.items()])


class ConfigArrays:
    """The configurations as float64 columns (each [n_configs]) for vectorised models."""

    def __init__(self, configs: Sequence[Mapping[str, Any]]) -> None:
        self.mr = np.array([c["tile_m"] for c in configs], dtype=np.float64)
        self.tn = np.array([c["tile_n"] for c in configs], dtype=np.float64)
        self.vec = np.array([c["vec"] for c in configs], dtype=np.float64)
        self.kc = np.array([c["tile_k"] for c in configs], dtype=np.float64)
        self.inner = np.array([c["order"][-1] for c in configs])
        self.pack_a = np.array([c["pack"] == "ab" for c in configs])
        self.pack_b = np.array([c["pack"] in ("b", "ab") for c in configs])
        self.nr = self.tn * self.vec

    def take(self, idx: np.ndarray) -> ConfigArrays:
        out = object.__new__(ConfigArrays)
        for name, value in vars(self).items():
            setattr(out, name, value[idx])
        return out


def predict_cycles(
    m: np.ndarray, n: np.ndarray, k: np.ndarray, cfg: ConfigArrays, p: Mapping[str, float]
) -> np.ndarray:
    """Predicted cycles, float64 [n_pairs], for pairs (m[i], n[i], k[i], config i of
    ``cfg``) under constants ``p`` (see the module docstring). All arrays broadcast."""
    m, n, k = (np.asarray(x, dtype=np.float64) for x in (m, n, k))
    w = cfg.vec / 8.0
    mt, nt, kt = np.ceil(m / cfg.mr), np.ceil(n / cfg.nr), np.ceil(k / cfg.kc)
    fmas = cfg.mr * cfg.tn * w
    loads = cfg.tn * w + cfg.mr
    step = np.maximum(
        np.maximum(fmas / p["fma_per_cycle"], loads / p["loads_per_cycle"]), p["fma_latency"]
    )
    page_rows = (n * 4.0 >= 4096.0) & ~cfg.pack_b
    step = step + np.where(page_rows, p["unpacked_b_cycles"], 0.0)
    cycles = mt * nt * k * step
    calls = mt * nt * kt
    cycles += calls * (p["call_cycles"] + 2.0 * cfg.mr * cfg.tn * w * p["cvec_cycles"])
    # Edge tiles: the last m-tile / n-tile when the size is not a multiple of the tile.
    edge_m = (np.mod(m, cfg.mr) > 0).astype(np.float64)
    edge_n = (np.mod(n, cfg.nr) > 0).astype(np.float64)
    edge_calls = (edge_m * nt + edge_n * mt - edge_m * edge_n) * kt
    edge_elems = edge_calls * cfg.mr * cfg.nr
    # Unpacked operands copy their edge tiles into padded buffers (kc x nr or mr x kc).
    pad = (edge_n * mt * k * cfg.nr) * ~cfg.pack_b + (edge_m * nt * k * cfg.mr) * ~cfg.pack_a
    cycles += (edge_elems + pad) * p["edge_cycles"]
    cycles += (k * n * cfg.pack_b + m * k * cfg.pack_a) * p["pack_cycles"]
    l2_floats = p["l2_kib"] * 256.0
    kc_eff = np.minimum(cfg.kc, k)

    def stream(floats: np.ndarray, block: np.ndarray) -> np.ndarray:
        return floats * np.where(block <= l2_floats, p["l2_cycles"], p["mem_cycles"])

    a_stream = stream(nt * m * k, m * kc_eff)
    b_stream = stream(mt * n * k, n * kc_eff)
    cycles += np.where(cfg.inner == "m", a_stream, 0.0)
    cycles += np.where(cfg.inner == "n", b_stream, 0.0)
    cycles += np.where(cfg.inner == "k", a_stream + b_stream, 0.0)
    return cycles


def predict_us(
    m: np.ndarray, n: np.ndarray, k: np.ndarray, cfg: ConfigArrays, p: Mapping[str, float]
) -> np.ndarray:
    """Predicted microseconds per call (float64, broadcast shape of the inputs)."""
    return predict_cycles(m, n, k, cfg, p) / (p["clock_ghz"] * 1e3)


def heuristic_choice(
    m: int, n: int, k: int, cfg: ConfigArrays, p: Mapping[str, float] | None = None
) -> int:
    """The kernel's heuristic: the config id the model predicts fastest for m x n x k
    (ties: the lowest id)."""
    t = predict_us(np.array(m), np.array(n), np.array(k), cfg, CONSTANTS if p is None else p)
    return int(np.argmin(t))
