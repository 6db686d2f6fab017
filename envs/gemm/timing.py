"""Timing one shape: every configuration's kernel and torch.matmul, on this CPU.

Method (the same for the C kernels and torch.matmul): ``warmup`` untimed calls, then
``repeats`` samples, each the mean time of enough back-to-back calls to last at least
``min_sample_ms`` (so microsecond kernels are not clock-bound); a timing is the median
of the samples, its spread (max - min) / median. The clock is ``monotonic`` (wall-clock
time) or ``thread-cpu`` (the timing thread's CPU time, CLOCK_THREAD_CPUTIME_ID: on a
shared machine, time the process spends preempted is not counted; the kernels and
torch.matmul run on the calling thread, so nothing of theirs is missed). Operands stay
the same across calls (warm caches, as an autotuner benchmarks). Configurations are
timed in a seeded random order per shape so slow drift of the machine does not line up
with config ids.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from envs.gemm.build import GemmBuffers, KernelLibrary
from harness.errors import UserError

CLOCKS = ("monotonic", "thread-cpu")


@dataclass(frozen=True)
class TimingSettings:
    """How each (shape, configuration) is timed (see the module docstring)."""

    warmup: int = 2
    repeats: int = 5
    min_sample_ms: float = 0.3
    clock: str = "monotonic"  # or "thread-cpu" (see the module docstring)

    def __post_init__(self) -> None:
        if self.clock not in CLOCKS:
            raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, not {self.clock!r}")

    def to_json(self) -> dict[str, float | str]:
        out: dict[str, float | str] = asdict(self)
        if self.clock == "monotonic":
            # Tables collected before the clock was a setting hold no "clock" key: they
            # were timed on the monotonic clock, and resuming them must stay possible.
            del out["clock"]
        return out


def table_clock(meta: dict) -> str:
    """The clock a table (its sidecar ``meta``) was timed with: re-timings of its pairs
    (refinement, re-measure, live timing) must read the same clock."""
    return str(meta.get("timing", {}).get("clock", "monotonic"))


def retiming_clock(meta: dict, asked: str | None, what: str) -> str:
    """The clock to re-time pairs of the table ``what`` (its sidecar ``meta``) with: the
    one it was timed with; UserError when ``asked`` is another (timings on two clocks
    are not comparable)."""
    clock = table_clock(meta)
    if asked is not None and asked != clock:
        raise UserError(f"{what} was timed with --clock {clock}; re-time it with the same clock")
    return clock


def summarize(samples_s: np.ndarray) -> tuple[float, float]:
    """(median in microseconds, spread = (max - min) / median) of samples in seconds."""
    med = float(np.median(samples_s))
    spread = float((np.max(samples_s) - np.min(samples_s)) / med) if med > 0 else float("nan")
    return med * 1e6, spread


def time_configs(
    lib: KernelLibrary,
    m: int,
    n: int,
    k: int,
    ids: np.ndarray,
    settings: TimingSettings,
    seed: int = 0,
    on_done: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Time kernels ``ids`` (positions in ``lib``) on an m x n x k product.

    Returns (median_us float64 [len(ids)], spread float64 [len(ids)]) in ``ids``' order;
    ``on_done(1)`` after each kernel (progress)."""
    buffers = GemmBuffers(m, n, k, seed=seed)
    med = np.full(len(ids), np.nan)
    spread = np.full(len(ids), np.nan)
    order = np.random.default_rng(seed).permutation(len(ids))
    for pos in order:
        samples = lib.time(
            int(ids[pos]),
            buffers,
            warmup=settings.warmup,
            repeats=settings.repeats,
            min_sample_s=settings.min_sample_ms / 1e3,
            thread_cpu=settings.clock == "thread-cpu",
        )
        med[pos], spread[pos] = summarize(samples)
        if on_done is not None:
            on_done(1)
    return med, spread


def time_torch(
    m: int, n: int, k: int, settings: TimingSettings, seed: int = 0
) -> tuple[float, float]:
    """torch.matmul (its CPU BLAS, one thread) on an m x n x k product, timed like the
    kernels from Python (so it includes torch's per-call dispatch, a few microseconds).
    Returns (median_us, spread)."""
    import torch

    now = time.thread_time if settings.clock == "thread-cpu" else time.perf_counter
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        buffers = GemmBuffers(m, n, k, seed=seed)
        a, b = torch.from_numpy(buffers.a), torch.from_numpy(buffers.b)
        c = torch.from_numpy(buffers.c)
        for _ in range(max(1, settings.warmup)):
            torch.mm(a, b, out=c)
        t0 = now()
        torch.mm(a, b, out=c)
        one = now() - t0
        inner = max(1, int(settings.min_sample_ms / 1e3 / max(one, 1e-9)) + 1)
        samples = np.empty(settings.repeats)
        for r in range(settings.repeats):
            t0 = now()
            for _ in range(inner):
                torch.mm(a, b, out=c)
            samples[r] = (now() - t0) / inner
        return summarize(samples)
    finally:
        torch.set_num_threads(before)
