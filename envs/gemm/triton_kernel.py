"""The GPU table's kernel: a tiled Triton matmul whose tile sizes, warps and pipeline
depth are a configuration (``envs/gemm/triton_space.py``).

``C[M, N] = A[M, K] @ B[K, N]``: bf16 operands, fp32 accumulation, bf16 result, all
row-major and contiguous. One program computes one ``block_m x block_n`` tile of C,
looping over K in steps of ``block_k``; programs are numbered in groups of
``GROUP_M`` tile rows so that neighbouring programs share tiles of B in L2 (the
ordering inductor's mm template uses). M is a run-time value Triton does not
specialize on (one compilation serves M = 1 and M = 4096 alike); N and K are
specialized as Triton does by default (divisibility by 16 decides whether row starts
are aligned for wide loads), so a configuration compiles once per (N, K) residue class.

Written here rather than taken from a library because the table needs one kernel whose
every knob is exposed; inductor's template is internal to torch and tied to its
autotuner. Imports triton: only the collector (on a GPU machine) imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import triton
import triton.language as tl

from envs.gemm.triton_space import GROUP_M


@triton.jit(do_not_specialize=["M"])
def _matmul_kernel(
    a_ptr,
    b_ptr,
    c_ptr,
    M,
    N,
    K,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    GROUP: tl.constexpr,
):
    pid = tl.program_id(0)
    tiles_m = tl.cdiv(M, BLOCK_M)
    tiles_n = tl.cdiv(N, BLOCK_N)
    # Grouped order: GROUP tile rows are swept column by column before moving down.
    per_group = GROUP * tiles_n
    group = pid // per_group
    first_m = group * GROUP
    rows_here = tl.minimum(tiles_m - first_m, GROUP)
    tile_m = first_m + (pid % per_group) % rows_here
    tile_n = (pid % per_group) // rows_here

    offs_m = tile_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tile_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a_tile = a_ptr + offs_m[:, None] * K + offs_k[None, :]
    b_tile = b_ptr + offs_k[:, None] * N + offs_n[None, :]
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        k_left = K - k0
        a = tl.load(a_tile, mask=(offs_m[:, None] < M) & (offs_k[None, :] < k_left), other=0.0)
        b = tl.load(b_tile, mask=(offs_k[:, None] < k_left) & (offs_n[None, :] < N), other=0.0)
        acc = tl.dot(a, b, acc)
        a_tile += BLOCK_K
        b_tile += BLOCK_K * N
    c_tile = c_ptr + offs_m[:, None] * N + offs_n[None, :]
    tl.store(
        c_tile, acc.to(c_ptr.dtype.element_ty), mask=(offs_m[:, None] < M) & (offs_n[None, :] < N)
    )


def matmul(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, config: Mapping[str, Any]) -> None:
    """Write ``a @ b`` into ``c`` with ``config``'s kernel.

    Args:
        a: bf16 [M, K], b: bf16 [K, N], c: bf16 [M, N], contiguous, on one device.
        config: block_m, block_n, block_k, num_warps, num_stages.
    """
    m, k = a.shape
    n = b.shape[1]
    bm, bn = int(config["block_m"]), int(config["block_n"])
    grid = (triton.cdiv(m, bm) * triton.cdiv(n, bn),)
    _matmul_kernel[grid](
        a,
        b,
        c,
        m,
        n,
        k,
        BLOCK_M=bm,
        BLOCK_N=bn,
        BLOCK_K=int(config["block_k"]),
        GROUP=GROUP_M,
        num_warps=int(config["num_warps"]),
        num_stages=int(config["num_stages"]),
    )
