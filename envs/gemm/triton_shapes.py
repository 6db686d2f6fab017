"""GEMM shapes for the GPU table: diode-style log-normal draws at GPU scale plus the
projections of real transformer layers, up to LLaMA-7B.

The CPU tables' shapes (``envs/gemm/shapes.py``, at most 2^26 multiply-adds) all run in
a few microseconds on a GPU, where launch cost, not the configuration, decides; the
GPU table draws larger ones:

- ``lognormal``: each of M, N, K is ``round(exp(x))``, x ~ Normal(log 768, 1.2);
  M clipped to [1, 16384] (M = 1 is one token of decoding), N and K to [16, 16384]
  (layer widths, never tiny); at most :data:`MAX_MACS` multiply-adds (2^35: ~90 us for
  the best configuration at 750 TFLOP/s, so every configuration of every shape can be
  timed in one short GPU session).
- ``model``: attention QKV (N = 3h, K = h), attention output (h, h), MLP up (f, h) and
  down (h, f) of BERT-base, BERT-large, GPT-2 XL and LLaMA-7B (hidden h, MLP width f)
  at 1, 16, 128, 512 and 2,048 tokens (M), under the same cap.

Split (train / val / test per source) and shape classes are the CPU table's
(``envs.gemm.shapes.split_shapes``, ``shape_class``).
"""

from __future__ import annotations

import numpy as np

from envs.gemm.shapes import Shape

LOGNORMAL_MEDIAN = 768.0
LOGNORMAL_SIGMA = 1.2
M_LO, NK_LO, DIM_HI = 1, 16, 16384
MAX_MACS = 2**35

# (model, hidden h, MLP width f)
MODELS: tuple[tuple[str, int, int], ...] = (
    ("bert-base", 768, 3072),
    ("bert-large", 1024, 4096),
    ("gpt2-xl", 1600, 6400),
    ("llama-7b", 4096, 11008),
)
TOKENS: tuple[int, ...] = (1, 16, 128, 512, 2048)


def gpu_lognormal_shapes(n: int, seed: int, max_macs: int = MAX_MACS) -> list[Shape]:
    """``n`` distinct log-normal shapes drawn with ``seed`` (module docstring)."""
    rng = np.random.default_rng(seed)
    out: list[Shape] = []
    seen: set[tuple[int, int, int]] = set()
    draws = 0
    while len(out) < n:
        x = np.rint(np.exp(rng.normal(np.log(LOGNORMAL_MEDIAN), LOGNORMAL_SIGMA, size=3)))
        m = int(np.clip(x[0], M_LO, DIM_HI))
        nn, k = (int(v) for v in np.clip(x[1:], NK_LO, DIM_HI))
        draws += 1
        if m * nn * k > max_macs or (m, nn, k) in seen:
            continue
        seen.add((m, nn, k))
        out.append(Shape(m, nn, k, "lognormal", f"draw{draws}"))
    return out


def gpu_model_shapes(max_macs: int = MAX_MACS) -> list[Shape]:
    """Projection shapes of :data:`MODELS` at :data:`TOKENS` tokens, within ``max_macs``."""
    out: list[Shape] = []
    seen: set[tuple[int, int, int]] = set()
    for model, h, f in MODELS:
        layers = (("qkv", 3 * h, h), ("attn_out", h, h), ("mlp_up", f, h), ("mlp_down", h, f))
        for t in TOKENS:
            for layer, n, k in layers:
                if t * n * k > max_macs or (t, n, k) in seen:
                    continue
                seen.add((t, n, k))
                out.append(Shape(t, n, k, "model", f"{model}.{layer}.t{t}"))
    return out


def gpu_shapes(n_lognormal: int = 90, seed: int = 0) -> list[Shape]:
    """The GPU table's shapes: ``n_lognormal`` draws plus the model shapes (a draw equal
    to a model shape is dropped)."""
    models = gpu_model_shapes()
    have = {(s.m, s.n, s.k) for s in models}
    draws = [s for s in gpu_lognormal_shapes(n_lognormal, seed) if (s.m, s.n, s.k) not in have]
    return draws + models
