"""The GEMM kernel's schedule space: parameters, the constraint, and the enumeration.

A configuration (a "schedule") of the generated C kernel (``envs/gemm/kernel.py``) for
``C[M, N] = A[M, K] @ B[K, N]`` (fp32, row-major, single-threaded):

- ``tile_m``: rows of the register tile (micro-kernel) ``mr``;
- ``tile_n``: columns of the register tile in vectors (``nr = tile_n * vec`` floats);
- ``tile_k``: the K block ``kc`` (the micro-kernel's inner loop length);
- ``order``: the nesting of the three tile loops around the micro-kernel, outermost
  first (``("n", "k", "m")`` is BLIS's order: a B micro-panel stays in L1 while the
  m-tiles sweep past it);
- ``pack``: which operands are copied into tile-major panels before the loops
  (``none``, ``b``, ``ab``); packing is part of the timed call;
- ``vec``: vector width in floats (8: 256-bit, 16: 512-bit vectors; clang splits a
  512-bit vector into two 256-bit halves on CPUs without AVX-512).

The constraint (what "does not fit"): the register tile's accumulators plus one B vector
per column and one broadcast A value must fit in the vector register file
(:data:`VECTOR_REGISTERS`, 32 with AVX-512), and the B micro-panel ``kc * nr`` floats
must fit in half the L1 data cache (:data:`L1_BYTES`). Every valid configuration is
measured in the shipped table, so the space is small enough to enumerate:
:func:`all_configs` lists it in a fixed order; a configuration's position there is its
id (``config_id``) in the table.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from harness.params import CategoricalParam, ParamSpace, PermutationParam

# Choices per parameter (kept in one place: the table's config ids follow from them).
TILE_M: tuple[int, ...] = (1, 2, 4, 6, 8)
TILE_N: tuple[int, ...] = (1, 2, 3, 4)
TILE_K: tuple[int, ...] = (32, 128, 512)
LOOPS: tuple[str, ...] = ("m", "n", "k")
PACK: tuple[str, ...] = ("none", "b", "ab")
VEC: tuple[int, ...] = (8, 16)

# Zen 4 (the machine the shipped table was measured on) and every AVX-512 CPU: 32 vector
# registers. L1 data cache: 32 KiB per core on Zen 3/4.
VECTOR_REGISTERS = 32
L1_BYTES = 32 * 1024

# The default configuration (a common hand-written AVX-512 kernel: 6 x 32 register
# tile, BLIS loop order, B packed). The task's per-shape default is the heuristic
# (envs/gemm/heuristic.py), not this one.
DEFAULT: dict[str, Any] = {
    "tile_m": 6,
    "tile_n": 2,
    "tile_k": 128,
    "order": ("n", "k", "m"),
    "pack": "b",
    "vec": 16,
}

PARAM_NAMES: tuple[str, ...] = ("tile_m", "tile_n", "tile_k", "order", "pack", "vec")


def registers_needed(config: Mapping[str, Any]) -> int:
    """Vector registers the micro-kernel keeps live: mr * tile_n accumulators, tile_n B
    vectors and one broadcast A value (a 512-bit vector on a 256-bit CPU takes two)."""
    return int(config["tile_m"]) * int(config["tile_n"]) + int(config["tile_n"]) + 1


def violation(config: Mapping[str, Any]) -> str | None:
    """Why ``config`` does not fit (one line), or None when it is valid."""
    regs = registers_needed(config)
    if regs > VECTOR_REGISTERS:
        return (
            f"register tile {config['tile_m']}x{config['tile_n']} vectors needs {regs} "
            f"vector registers, more than {VECTOR_REGISTERS}"
        )
    panel = int(config["tile_k"]) * int(config["tile_n"]) * int(config["vec"]) * 4
    if panel > L1_BYTES // 2:
        return (
            f"B micro-panel tile_k x nr = {config['tile_k']} x "
            f"{int(config['tile_n']) * int(config['vec'])} floats ({panel} B) exceeds half of L1"
        )
    return None


def gemm_space() -> ParamSpace:
    """The schedule space with its constraint (the default: :data:`DEFAULT`)."""
    return ParamSpace(
        [
            CategoricalParam("tile_m", TILE_M, DEFAULT["tile_m"]),
            CategoricalParam("tile_n", TILE_N, DEFAULT["tile_n"]),
            CategoricalParam("tile_k", TILE_K, DEFAULT["tile_k"]),
            PermutationParam("order", LOOPS, DEFAULT["order"]),
            CategoricalParam("pack", PACK, DEFAULT["pack"]),
            CategoricalParam("vec", VEC, DEFAULT["vec"]),
        ],
        constraint=violation,
    )


def all_configs() -> list[dict[str, Any]]:
    """Every valid configuration, in the fixed order that defines config ids."""
    out = []
    for tm, tn, tk, order, pack, vec in itertools.product(
        TILE_M, TILE_N, TILE_K, itertools.permutations(LOOPS), PACK, VEC
    ):
        cfg = {"tile_m": tm, "tile_n": tn, "tile_k": tk, "order": order, "pack": pack, "vec": vec}
        if violation(cfg) is None:
            out.append(cfg)
    return out


def config_key(config: Mapping[str, Any]) -> str:
    """A short readable name, e.g. ``m6n2k128-nkm-b-v16`` (also a C identifier suffix
    after :func:`c_name`)."""
    order = "".join(config["order"])
    return (
        f"m{config['tile_m']}n{config['tile_n']}k{config['tile_k']}-{order}-"
        f"{config['pack']}-v{config['vec']}"
    )


def c_name(config: Mapping[str, Any]) -> str:
    """The C function name of ``config``'s kernel."""
    return "gemm_" + config_key(config).replace("-", "_")


def config_index() -> dict[str, int]:
    """config_key -> config id (position in :func:`all_configs`)."""
    return {config_key(c): i for i, c in enumerate(all_configs())}
