"""The GPU table's schedule space: Triton matmul configurations (torch-diode's own problem).

A configuration of the Triton kernel (``envs/gemm/triton_kernel.py``) for
``C[M, N] = A[M, K] @ B[K, N]`` (bf16 operands, fp32 accumulation, bf16 result,
row-major), the same knobs inductor's Triton mm template tunes and torch-diode ranks:

- ``block_m``, ``block_n``: the output tile one program computes;
- ``block_k``: the K step of its loop (one tile of A and of B per step);
- ``num_warps``: warps per program (4: one warpgroup; 8: two);
- ``num_stages``: software-pipelining depth (tiles of A and B in flight in shared memory).

Programs are ordered in groups of 8 tile rows (inductor's ``GROUP_M``), fixed.

The constraint (what does not fit, or cannot run well on a Hopper SM): the pipeline's
shared memory ``num_stages * (block_m + block_n) * block_k * 2`` bytes within
:data:`SMEM_BYTES` (an H200 / H100 block may take 227 KiB; a margin for Triton's own
scratch), and the fp32 accumulator tile within :data:`ACC_PER_THREAD` registers per
thread (more spills: 256 x 256 on 8 warps would need 256 of the 255).

This module imports neither triton nor the harness at import time, so the collector
(which runs on the GPU machine with that machine's own Python) and the CPU-side tasks
share it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

BLOCK_M: tuple[int, ...] = (16, 32, 64, 128, 256)
BLOCK_N: tuple[int, ...] = (16, 32, 64, 128, 256)
BLOCK_K: tuple[int, ...] = (32, 64, 128)
NUM_WARPS: tuple[int, ...] = (4, 8)
NUM_STAGES: tuple[int, ...] = (2, 3, 4, 5)
GROUP_M = 8

# Hopper: 227 KiB of shared memory per block at most; 200 KiB leaves room for Triton's
# epilogue scratch and barriers.
SMEM_BYTES = 200 * 1024
ACC_PER_THREAD = 128
OPERAND_BYTES = 2  # bf16

PARAM_NAMES: tuple[str, ...] = ("block_m", "block_n", "block_k", "num_warps", "num_stages")

# A common hand-picked configuration (the Triton tutorial's first autotune entry is of
# this size); the tasks' per-shape default is the heuristic, not this one.
DEFAULT: dict[str, int] = {
    "block_m": 128,
    "block_n": 128,
    "block_k": 64,
    "num_warps": 8,
    "num_stages": 3,
}


def smem_bytes(config: Mapping[str, Any]) -> int:
    """Shared memory the pipeline keeps: ``num_stages`` tiles of A and of B, bytes."""
    tile = (int(config["block_m"]) + int(config["block_n"])) * int(config["block_k"])
    return int(config["num_stages"]) * tile * OPERAND_BYTES


def acc_per_thread(config: Mapping[str, Any]) -> float:
    """fp32 accumulators each thread holds: block_m * block_n / (32 * num_warps)."""
    return int(config["block_m"]) * int(config["block_n"]) / (32 * int(config["num_warps"]))


def violation(config: Mapping[str, Any]) -> str | None:
    """Why ``config`` does not fit (one line), or None when it is valid."""
    smem = smem_bytes(config)
    if smem > SMEM_BYTES:
        return f"pipeline needs {smem} B of shared memory, more than {SMEM_BYTES}"
    acc = acc_per_thread(config)
    if acc > ACC_PER_THREAD:
        return f"{acc:.0f} accumulators per thread, more than {ACC_PER_THREAD}"
    return None


def all_configs() -> list[dict[str, int]]:
    """Every valid configuration, in the fixed order that defines config ids."""
    out = []
    for bm, bn, bk, w, s in itertools.product(BLOCK_M, BLOCK_N, BLOCK_K, NUM_WARPS, NUM_STAGES):
        cfg = {"block_m": bm, "block_n": bn, "block_k": bk, "num_warps": w, "num_stages": s}
        if violation(cfg) is None:
            out.append(cfg)
    return out


def config_key(config: Mapping[str, Any]) -> str:
    """A short readable name, e.g. ``bm128bn128bk64-w8-s3``."""
    return (
        f"bm{config['block_m']}bn{config['block_n']}bk{config['block_k']}-"
        f"w{config['num_warps']}-s{config['num_stages']}"
    )


def parse_key(key: str) -> dict[str, int]:
    """Inverse of :func:`config_key`; ValueError on a malformed key."""
    try:
        tiles, w, s = key.split("-")
        bm, rest = tiles.removeprefix("bm").split("bn")
        bn, bk = rest.split("bk")
        cfg = {
            "block_m": int(bm),
            "block_n": int(bn),
            "block_k": int(bk),
            "num_warps": int(w.removeprefix("w")),
            "num_stages": int(s.removeprefix("s")),
        }
    except ValueError as e:
        raise ValueError(f"not a Triton configuration key: {key!r}") from e
    if config_key(cfg) != key:
        raise ValueError(f"not a Triton configuration key: {key!r}")
    return cfg
