"""Generate the C source of a GEMM kernel for one schedule (``envs/gemm/space.py``).

``C[M, N] = A[M, K] @ B[K, N]``, fp32, row-major, single-threaded; M, N and K are run-time
arguments, so one compiled configuration serves every shape. The kernel:

1. optionally packs B into ``nr``-wide column panels ``[ceil(N/nr)][K][nr]`` and A into
   ``mr``-row panels ``[ceil(M/mr)][K][mr]`` (zero-padded at the edges);
2. runs three tile loops (m-tiles of ``mr`` rows, n-tiles of ``nr`` columns, k-blocks of
   ``kc``) nested in the configured ``order``;
3. calls a register-tiled micro-kernel (GCC/clang vector extensions, ``vec`` floats per
   vector) that keeps the ``mr x nr`` tile of C in registers over ``kc`` steps and then
   stores it (first k-block) or adds it (later k-blocks) to C. Whatever the order, an
   (m-tile, n-tile) pair sees its k-blocks in increasing order, so "store on the first
   block" is right for every order.

Edge tiles of unpacked operands are copied into small zero-padded buffers so one
micro-kernel serves all tiles; the results of edge tiles are written element by element.

Every function has the signature of :data:`C_SIGNATURE`; ``work`` is caller-provided
scratch of at least :func:`work_floats` floats (packed panels and edge buffers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from envs.gemm.space import c_name

TIMER_SOURCE = Path(__file__).with_name("timer.c")

C_SIGNATURE = (
    "int M, int N, int K, const float *restrict A, const float *restrict B, "
    "float *restrict C, float *restrict work"
)

# Upper bounds of the space's tiles, for sizing the scratch buffer.
MAX_MR = 16
MAX_NR = 128
MAX_KC = 1024

PRELUDE = """\
#include <stddef.h>
#include <string.h>

typedef float vf8 __attribute__((vector_size(32), aligned(4)));
typedef float vf16 __attribute__((vector_size(64), aligned(4)));

static inline int imin(int a, int b) { return a < b ? a : b; }

/* Copy rows [i0, i0+mv) x columns [p0, p0+kc) of A (leading dimension lda) into a
   zero-padded mr x kc buffer (row stride kc). */
static void pad_a(const float *A, long lda, int i0, int mv, int p0, int kc, int mr,
                  float *dst) {
    for (int i = 0; i < mr; i++)
        for (int p = 0; p < kc; p++)
            dst[(long)i * kc + p] = i < mv ? A[(long)(i0 + i) * lda + p0 + p] : 0.0f;
}

/* Copy rows [p0, p0+kc) x columns [j0, j0+nv) of B (leading dimension ldb) into a
   zero-padded kc x nr buffer (row stride nr). */
static void pad_b(const float *B, long ldb, int p0, int kc, int j0, int nv, int nr,
                  float *dst) {
    for (int p = 0; p < kc; p++) {
        float *d = dst + (long)p * nr;
        memcpy(d, B + (long)(p0 + p) * ldb + j0, (size_t)nv * sizeof(float));
        for (int j = nv; j < nr; j++) d[j] = 0.0f;
    }
}
"""

# The per-configuration part; {placeholders} are filled by kernel_source().
TEMPLATE = """
/* {key} */
#define MR {mr}
#define NV {nv}
#define VW {vec}
#define NR ({nv} * {vec})
#define KC {kc}
typedef vf{vec} V_{fname};

static inline __attribute__((always_inline)) void uk_{fname}(
    int kc, const float *restrict a, long ars, long aks, const float *restrict b, long bks,
    float *restrict c, long ldc, int mv, int nv, int accumulate) {{
    V_{fname} acc[MR][NV];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++) acc[i][v] = (V_{fname}){{0}};
    for (int p = 0; p < kc; p++) {{
        V_{fname} bv[NV];
        for (int v = 0; v < NV; v++) bv[v] = *(const V_{fname} *)(b + (long)p * bks + v * VW);
        for (int i = 0; i < MR; i++) {{
            V_{fname} av = (V_{fname}){{0}} + a[(long)i * ars + (long)p * aks];
            for (int v = 0; v < NV; v++) acc[i][v] += av * bv[v];
        }}
    }}
    if (mv == MR && nv == NR) {{
        for (int i = 0; i < MR; i++)
            for (int v = 0; v < NV; v++) {{
                V_{fname} *cp = (V_{fname} *)(c + (long)i * ldc + v * VW);
                if (accumulate) *cp += acc[i][v]; else *cp = acc[i][v];
            }}
    }} else {{
        float t[MR][NR];
        memcpy(t, acc, sizeof t);
        for (int i = 0; i < mv; i++)
            for (int j = 0; j < nv; j++) {{
                float *cij = c + (long)i * ldc + j;
                if (accumulate) *cij += t[i][j]; else *cij = t[i][j];
            }}
    }}
}}

void {fname}({signature}) {{
    const int mt = (M + MR - 1) / MR, nt = (N + NR - 1) / NR, kt = (K + KC - 1) / KC;
    float *Ap = work;                                   /* [mt][K][MR] when A is packed */
    float *Bp = Ap + (long)mt * K * MR;                 /* [nt][K][NR] when B is packed */
    float *apad = Bp + (long)nt * K * NR;               /* MR x KC edge buffer */
    float *bpad = apad + (long)MR * KC;                 /* KC x NR edge buffer */
    (void)Ap; (void)Bp; (void)apad; (void)bpad;
{pack_code}
{loops_open}
        const int i0 = it * MR, j0 = jt * NR, p0 = pt * KC;
        const int mv = imin(MR, M - i0), nv = imin(NR, N - j0), kc = imin(KC, K - p0);
        const float *a; long ars, aks;
        const float *b; long bks;
{a_code}
{b_code}
        uk_{fname}(kc, a, ars, aks, b, bks, C + (long)i0 * N + j0, N, mv, nv, p0 > 0);
{loops_close}
}}
#undef MR
#undef NV
#undef VW
#undef NR
#undef KC
"""

PACK_A = """\
    for (int it = 0; it < mt; it++) {
        const int i0 = it * MR, mv = imin(MR, M - i0);
        float *d = Ap + (long)it * K * MR;
        for (int p = 0; p < K; p++)
            for (int i = 0; i < MR; i++)
                d[(long)p * MR + i] = i < mv ? A[(long)(i0 + i) * K + p] : 0.0f;
    }"""

PACK_B = """\
    for (int jt = 0; jt < nt; jt++) {
        const int j0 = jt * NR, nv = imin(NR, N - j0);
        float *d = Bp + (long)jt * K * NR;
        for (int p = 0; p < K; p++) {
            memcpy(d + (long)p * NR, B + (long)p * N + j0, (size_t)nv * sizeof(float));
            for (int j = nv; j < NR; j++) d[(long)p * NR + j] = 0.0f;
        }
    }"""

A_PACKED = """\
        a = Ap + ((long)it * K + p0) * MR; ars = 1; aks = MR;"""
A_DIRECT = """\
        if (mv == MR) { a = A + (long)i0 * K + p0; ars = K; aks = 1; }
        else { pad_a(A, K, i0, mv, p0, kc, MR, apad); a = apad; ars = kc; aks = 1; }"""
B_PACKED = """\
        b = Bp + ((long)jt * K + p0) * NR; bks = NR;"""
B_DIRECT = """\
        if (nv == NR) { b = B + (long)p0 * N + j0; bks = N; }
        else { pad_b(B, N, p0, kc, j0, nv, NR, bpad); b = bpad; bks = NR; }"""

_LOOP_VAR = {"m": ("it", "mt"), "n": ("jt", "nt"), "k": ("pt", "kt")}


def _loops(order: Sequence[str]) -> tuple[str, str]:
    """Opening and closing text of the three tile loops nested in ``order``."""
    opens, closes = [], []
    for depth, loop in enumerate(order):
        var, bound = _LOOP_VAR[loop]
        pad = "    " * (depth + 1)
        opens.append(f"{pad}for (int {var} = 0; {var} < {bound}; {var}++) {{")
        closes.insert(0, f"{pad}}}")
    return "\n".join(opens), "\n".join(closes)


def kernel_function(config: Mapping[str, Any]) -> str:
    """C source of one configuration's kernel function (needs :data:`PRELUDE` first)."""
    from envs.gemm.space import config_key

    pack = config["pack"]
    opens, closes = _loops(config["order"])
    pack_code = "\n".join(
        code for flag, code in ((pack == "ab", PACK_A), (pack in ("b", "ab"), PACK_B)) if flag
    )
    return TEMPLATE.format(
        key=config_key(config),
        fname=c_name(config),
        mr=int(config["tile_m"]),
        nv=int(config["tile_n"]),
        vec=int(config["vec"]),
        kc=int(config["tile_k"]),
        signature=C_SIGNATURE,
        pack_code=pack_code,
        loops_open=opens,
        loops_close=closes,
        a_code=A_PACKED if pack == "ab" else A_DIRECT,
        b_code=B_PACKED if pack in ("b", "ab") else B_DIRECT,
    )


def work_floats(m: int, n: int, k: int) -> int:
    """Scratch floats any configuration needs for an m x n x k product: packed A and B
    panels (rounded up to the largest tiles) plus the two edge buffers."""
    # ceil(m / mr) * mr < m + MAX_MR rows of packed A; likewise for B's columns.
    return (m + MAX_MR) * k + (n + MAX_NR) * k + MAX_MR * MAX_KC + MAX_KC * MAX_NR
