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

from envs.gemm.shapes import Shape, lognormal_shapes, model_shapes

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


def gpu_shapes(n_lognormal: int = 90, seed: int = 0) -> list[Shape]:
    """The GPU table's shapes: ``n_lognormal`` draws plus the model shapes (a draw equal
    to a model shape is dropped)."""
    models = model_shapes(MAX_MACS, MODELS, TOKENS)
    have = {(s.m, s.n, s.k) for s in models}
    drawn = lognormal_shapes(
        n_lognormal, seed, MAX_MACS, LOGNORMAL_MEDIAN, LOGNORMAL_SIGMA, (M_LO, NK_LO, NK_LO), DIM_HI
    )
    draws = [s for s in drawn if (s.m, s.n, s.k) not in have]
    return draws + models
