"""Compile generated GEMM kernels with clang into one shared library, once, cached.

The kernels of a list of configurations are split into chunks compiled in parallel
(``-O3 -march=native``: the kernels are tuned for, and timed on, this CPU), then linked
with a dispatch translation unit (the timer, ``envs/gemm/timer.c``, and the table of
function pointers) into ``<cache>/gemm/<hash>.so``. The hash covers the generated
source, the flags and the compiler's version, so a changed generator or compiler gives
a new library; a library is written to a temporary name and renamed, so concurrent
first uses never load a half-written file.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from envs.gemm.kernel import C_SIGNATURE, PRELUDE, TIMER_SOURCE, kernel_function, work_floats
from envs.gemm.space import c_name
from envs.groundtruth.measure.build import cache_dir
from harness.errors import UserError

CFLAGS: tuple[str, ...] = ("-O3", "-march=native", "-fPIC", "-std=gnu11", "-w")
# Compilers tried in order (``$TUNEBENCH_GEMM_CC`` first when set).
COMPILERS: tuple[str, ...] = ("clang-22", "clang")
# Kernels per compiled chunk (one clang process each).
CHUNK = 24


@cache
def compiler() -> str:
    """Path of the C compiler for kernels; UserError when none is installed."""
    names = [os.environ["TUNEBENCH_GEMM_CC"]] if os.environ.get("TUNEBENCH_GEMM_CC") else []
    for name in [*names, *COMPILERS]:
        path = shutil.which(name)
        if path:
            return path
    raise UserError(
        "the gemm kernels need clang (tried " + ", ".join([*names, *COMPILERS]) + "); "
        "install clang-22 (Debian: apt-get install clang-22)"
    )


@cache
def compiler_version() -> str:
    """First line of ``<compiler> --version``."""
    out = subprocess.run([compiler(), "--version"], capture_output=True, text=True, check=False)
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def _dispatch_source(configs: Sequence[Mapping[str, Any]]) -> str:
    decls = "\n".join(f"void {c_name(c)}({C_SIGNATURE});" for c in configs)
    names = ", ".join(c_name(c) for c in configs)
    return (
        f"{decls}\n{TIMER_SOURCE.read_text()}\n"
        f"const gemm_fn_t gemm_kernels[] = {{{names}}};\n"
        f"const int gemm_n_kernels = {len(configs)};\n"
    )


def _sources(configs: Sequence[Mapping[str, Any]]) -> list[str]:
    chunks = [configs[i : i + CHUNK] for i in range(0, len(configs), CHUNK)]
    return [PRELUDE + "\n".join(kernel_function(c) for c in chunk) for chunk in chunks] + [
        _dispatch_source(configs)
    ]


def _compile(cc: str, src: Path, obj: Path) -> None:
    proc = subprocess.run(
        [cc, *CFLAGS, "-c", "-o", str(obj), str(src)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["no message"])[0]
        raise UserError(f"compiling gemm kernels ({src.name}) with {cc} failed: {first}")


def library_path(configs: Sequence[Mapping[str, Any]], jobs: int = 2) -> Path:
    """The compiled library of ``configs`` (built first when the cache has none)."""
    cc = compiler()
    sources = _sources(configs)
    h = hashlib.sha256()
    for text in [*sources, " ".join(CFLAGS), compiler_version()]:
        h.update(text.encode())
    target = cache_dir() / "gemm" / f"kernels-{h.hexdigest()[:16]}.so"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=target.parent) as tmp:
        srcs = [Path(tmp) / f"part{i:03d}.c" for i in range(len(sources))]
        for path, text in zip(srcs, sources, strict=True):
            path.write_text(text)
        objs = [p.with_suffix(".o") for p in srcs]
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            list(pool.map(lambda so: _compile(cc, *so), zip(srcs, objs, strict=True)))
        out = Path(tmp) / "lib.so"
        proc = subprocess.run(
            [cc, "-shared", "-o", str(out), *map(str, objs)], capture_output=True, text=True
        )
        if proc.returncode != 0:
            first = (proc.stderr.strip().splitlines() or ["no message"])[0]
            raise UserError(f"linking gemm kernels with {cc} failed: {first}")
        os.chmod(out, 0o644)
        os.replace(out, target)
    return target


_F32P = np.ctypeslib.ndpointer(dtype=np.float32, flags="C_CONTIGUOUS")
_F64P = np.ctypeslib.ndpointer(dtype=np.float64, flags="C_CONTIGUOUS")


class KernelLibrary:
    """The compiled kernels of ``configs``, callable by position in that list.

    Args:
        configs: valid configurations (``envs.gemm.space``), in the caller's id order.
        jobs: clang processes at once when the library must be built.
    """

    def __init__(self, configs: Sequence[Mapping[str, Any]], jobs: int = 2) -> None:
        self.configs = [dict(c) for c in configs]
        self.path = library_path(self.configs, jobs=jobs)
        lib = ctypes.CDLL(str(self.path))
        i = ctypes.c_int
        lib.gemm_call.argtypes = [i, i, i, i, _F32P, _F32P, _F32P, _F32P]
        lib.gemm_call.restype = None
        lib.gemm_time.argtypes = [
            *(i, i, i, i, _F32P, _F32P, _F32P, _F32P),
            *(i, i, ctypes.c_double, i, _F64P),
        ]
        lib.gemm_time.restype = i
        self._lib = lib

    def __len__(self) -> int:
        return len(self.configs)

    def matmul(self, idx: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``a @ b`` by kernel ``idx``: a float32 [M, K], b float32 [K, N] -> [M, N]."""
        a32 = np.ascontiguousarray(a, dtype=np.float32)
        b32 = np.ascontiguousarray(b, dtype=np.float32)
        (m, k), (k2, n) = a32.shape, b32.shape
        if k != k2:
            raise ValueError(f"inner dimensions differ: {a32.shape} @ {b32.shape}")
        c = np.empty((m, n), dtype=np.float32)
        work = np.empty(work_floats(m, n, k), dtype=np.float32)
        self._lib.gemm_call(int(idx), m, n, k, a32, b32, c, work)
        return c

    def time(
        self,
        idx: int,
        buffers: GemmBuffers,
        warmup: int = 2,
        repeats: int = 5,
        min_sample_s: float = 1e-3,
        thread_cpu: bool = False,
    ) -> np.ndarray:
        """Seconds per call of kernel ``idx`` on ``buffers``' shape: float64 [repeats]
        samples, each the mean over enough back-to-back calls to last
        ``min_sample_s`` (after ``warmup`` calls); ``thread_cpu``: the calling thread's
        CPU seconds instead of wall-clock (monotonic) seconds."""
        out = np.empty(repeats, dtype=np.float64)
        bf = buffers
        self._lib.gemm_time(
            int(idx), bf.m, bf.n, bf.k, bf.a, bf.b, bf.c, bf.work,
            int(warmup), int(repeats), float(min_sample_s), int(thread_cpu), out,
        )  # fmt: skip
        return out


class GemmBuffers:
    """Operands and scratch for one shape: a float32 [M, K], b float32 [K, N] (seeded
    uniform values in [-1, 1)), c float32 [M, N], work float32 [work_floats]."""

    def __init__(self, m: int, n: int, k: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.m, self.n, self.k = int(m), int(n), int(k)
        self.a = rng.uniform(-1, 1, size=(m, k)).astype(np.float32)
        self.b = rng.uniform(-1, 1, size=(k, n)).astype(np.float32)
        self.c = np.zeros((m, n), dtype=np.float32)
        self.work = np.zeros(work_floats(m, n, k), dtype=np.float32)
