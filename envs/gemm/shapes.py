"""GEMM shapes for the ground truth: diode-style log-normal draws plus real models' layers.

- ``lognormal``: as torch-diode's collection draws matmul sizes: each of M, N, K is
  ``round(exp(x))`` with x ~ Normal(log(median), sigma), clipped to [lo, hi]; a draw
  whose work M*N*K exceeds ``max_macs`` is redrawn (keeps one timing cheap enough to
  time every configuration of every shape on one core).
- ``model``: the projections of real transformer layers at several token counts M:
  attention QKV (N = 3h, K = h), attention output (h, h), MLP up (4h, h) and down
  (h, 4h) for hidden sizes h of small public models (BERT-small/-mini, DistilBERT /
  BERT-base, GPT-2 small), same work cap.

A shape's ``cls`` (for per-class reports): ``gemv-like`` (min(M, N) <= 16), ``small``
(M*N*K < 2^18), ``deep-k`` (K >= 4 max(M, N)), ``large`` (M*N*K >= 2^24), else
``medium``.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np

# Log-normal parameters: median 192, sigma 1.1 (natural log): 90% of draws in ~[30, 1200].
LOGNORMAL_MEDIAN = 192.0
LOGNORMAL_SIGMA = 1.1
DIM_LO, DIM_HI = 1, 4096
# M*N*K cap: 2^26 MACs ~ 1.3 ms at 100 GFLOP/s for the best configuration.
MAX_MACS = 2**26

# (model, hidden size h, MLP width f) for the model shapes.
MODELS: tuple[tuple[str, int, int], ...] = (
    ("bert-mini", 256, 1024),
    ("bert-small", 512, 2048),
    ("bert-base", 768, 3072),
)
TOKENS: tuple[int, ...] = (1, 8, 32, 128, 384)


@dataclass(frozen=True)
class Shape:
    """One GEMM problem C[m, n] = A[m, k] @ B[k, n] (fp32).

    Attributes:
        m, n, k: sizes.
        source: ``lognormal`` or ``model``.
        origin: for model shapes, e.g. ``bert-base.mlp_up.t128``; else ``draw<i>``.
    """

    m: int
    n: int
    k: int
    source: str
    origin: str

    @property
    def macs(self) -> int:
        return self.m * self.n * self.k

    @property
    def gflop(self) -> float:
        """Floating-point work, GFLOP (2 M N K)."""
        return 2.0 * self.macs / 1e9

    @property
    def cls(self) -> str:
        return shape_class(self.m, self.n, self.k)

    @property
    def name(self) -> str:
        return f"{self.m}x{self.n}x{self.k}"

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def shape_class(m: int, n: int, k: int) -> str:
    """The class of an m x n x k product (see the module docstring)."""
    macs = m * n * k
    if min(m, n) <= 16:
        return "gemv-like"
    if macs < 2**18:
        return "small"
    if k >= 4 * max(m, n):
        return "deep-k"
    if macs >= 2**24:
        return "large"
    return "medium"


def lognormal_shapes(
    n: int,
    seed: int,
    max_macs: int = MAX_MACS,
    median: float = LOGNORMAL_MEDIAN,
    sigma: float = LOGNORMAL_SIGMA,
    lows: tuple[int, int, int] = (DIM_LO, DIM_LO, DIM_LO),
    high: int = DIM_HI,
) -> list[Shape]:
    """``n`` distinct log-normal shapes drawn with ``seed`` (see the module docstring);
    ``lows`` are the smallest M, N, K, ``high`` the largest of each."""
    rng = np.random.default_rng(seed)
    out: list[Shape] = []
    seen: set[tuple[int, int, int]] = set()
    draws = 0
    while len(out) < n:
        x = rng.normal(np.log(median), sigma, size=3)
        m, nn, k = (int(v) for v in np.clip(np.rint(np.exp(x)), lows, high))
        draws += 1
        if m * nn * k > max_macs or (m, nn, k) in seen:
            continue
        seen.add((m, nn, k))
        out.append(Shape(m, nn, k, "lognormal", f"draw{draws}"))
    return out


def model_shapes(
    max_macs: int = MAX_MACS,
    models: tuple[tuple[str, int, int], ...] = MODELS,
    tokens: tuple[int, ...] = TOKENS,
) -> list[Shape]:
    """Projection shapes of ``models`` (name, hidden h, MLP width f) at ``tokens`` tokens
    (M), within ``max_macs``: QKV (N = 3h, K = h), attention output (h, h), MLP up (f, h)
    and down (h, f)."""
    out: list[Shape] = []
    seen: set[tuple[int, int, int]] = set()
    for model, h, f in models:
        layers = (("qkv", 3 * h, h), ("attn_out", h, h), ("mlp_up", f, h), ("mlp_down", h, f))
        for t in tokens:
            for layer, n, k in layers:
                if t * n * k > max_macs or (t, n, k) in seen:
                    continue
                seen.add((t, n, k))
                out.append(Shape(t, n, k, "model", f"{model}.{layer}.t{t}"))
    return out


def default_shapes(n_lognormal: int = 130, seed: int = 0) -> list[Shape]:
    """The shipped table's shapes: ``n_lognormal`` log-normal draws plus the model shapes
    (duplicates of a model shape among the draws are dropped)."""
    models = model_shapes()
    have = {(s.m, s.n, s.k) for s in models}
    draws = [s for s in lognormal_shapes(n_lognormal, seed) if (s.m, s.n, s.k) not in have]
    return draws + models


def _unit_hash(shape: Shape) -> float:
    h = hashlib.sha256(f"gemm-split:{shape.m}x{shape.n}x{shape.k}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def split_shapes(shapes: list[Shape], val: float = 0.15, test: float = 0.25) -> list[str]:
    """``train`` / ``val`` / ``test`` per shape: within each source (log-normal, model),
    shapes ordered by a hash of their sizes; the first ``test`` fraction is test, the
    next ``val`` fraction validation, the rest training (so both sources are in every
    split in proportion, and a shape keeps its split when the sizes list grows a little)."""
    out = [""] * len(shapes)
    for source in sorted({s.source for s in shapes}):
        idx = [i for i, s in enumerate(shapes) if s.source == source]
        idx.sort(key=lambda i: _unit_hash(shapes[i]))
        n_test = round(test * len(idx))
        n_val = round(val * len(idx))
        for rank, i in enumerate(idx):
            out[i] = "test" if rank < n_test else ("val" if rank < n_test + n_val else "train")
    return out
