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

With ``reference = true`` every configuration is timed between two timings of the
shape's reference schedule (the kernel's heuristic choice, ``envs.gemm.model``), and its
time is its median over the mean of those two, times one reference time per shape (the
median of the shape's reference timings in a collection; the table's stored value when
pairs are re-timed later). Why: on these shared VMs the core's speed drifts over seconds
(another hardware thread outside the VM, clock changes), which a ratio to a kernel timed
a few milliseconds before and after cancels. Two passes over the same 400 random pairs
on a Zen 5 (0.3 ms samples, pinned) agreed within 5% for 72.5% of pairs this way against
51.2% timed plainly (a Zen 3: 13-15 points more; envs/gemm/README.md). It costs a second
timing per configuration.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from envs.gemm.build import GemmBuffers, KernelLibrary
from envs.gemm.model import ConfigArrays, heuristic_choice
from harness.errors import UserError

if TYPE_CHECKING:
    from envs.gemm.table import GemmTable

CLOCKS = ("monotonic", "thread-cpu")


@dataclass(frozen=True)
class TimingSettings:
    """How each (shape, configuration) is timed (see the module docstring)."""

    warmup: int = 2
    repeats: int = 5
    min_sample_ms: float = 0.3
    clock: str = "monotonic"  # or "thread-cpu" (see the module docstring)
    reference: bool = False  # time each configuration against the reference schedule

    def __post_init__(self) -> None:
        if self.clock not in CLOCKS:
            raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, not {self.clock!r}")

    def to_json(self) -> dict[str, float | str | bool]:
        out: dict[str, float | str | bool] = asdict(self)
        # Tables collected before a setting existed do not hold its key: they were timed
        # the old way (monotonic clock, no reference), and resuming them must stay possible.
        if self.clock == "monotonic":
            del out["clock"]
        if not self.reference:
            del out["reference"]
        return out

    @classmethod
    def from_json(cls, raw: dict) -> TimingSettings:
        """The settings a table's sidecar (its ``timing``) records."""
        return cls(
            warmup=int(raw.get("warmup", cls.warmup)),
            repeats=int(raw.get("repeats", cls.repeats)),
            min_sample_ms=float(raw.get("min_sample_ms", cls.min_sample_ms)),
            clock=str(raw.get("clock", "monotonic")),
            reference=bool(raw.get("reference", False)),
        )


class Timings(NamedTuple):
    """What :func:`time_configs` returns for ``ids``: median_us float64 [len(ids)],
    spread float64 [len(ids)] (each configuration's own samples), reference_us: the
    reference schedule's median over this call's timings of it, and reference_id: its
    position in the library (NaN and -1 without a reference)."""

    median_us: np.ndarray
    spread: np.ndarray
    reference_us: float
    reference_id: int


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


def retiming_settings(meta: dict, timing: TimingSettings, what: str) -> TimingSettings:
    """``timing`` for re-timing pairs of the table ``what`` (its sidecar ``meta``): its
    clock must be the table's (UserError otherwise); the reference method is the table's,
    whatever ``timing`` says (a ratio and a plain time are not comparable)."""
    retiming_clock(meta, timing.clock, what)
    reference = TimingSettings.from_json(meta.get("timing", {})).reference
    return replace(timing, reference=reference)


def shape_reference_us(meta: dict, row: int) -> float | None:
    """The reference time a table (sidecar ``meta``) stores for its shape ``row``; None
    for a table timed without a reference."""
    shapes = meta.get("shapes") or []
    value = shapes[row].get("reference_us") if row < len(shapes) else None
    return None if value is None else float(value)


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
    reference_us: float | None = None,
) -> Timings:
    """Time kernels ``ids`` (positions in ``lib``) on an m x n x k product.

    With ``settings.reference`` each time is its ratio to the reference schedule timed
    just before and after it, times ``reference_us`` when given (a table's stored value
    for this shape) or this call's own median reference time. ``on_done(1)`` after each
    kernel (progress). Returns :class:`Timings` in ``ids``' order."""
    buffers = GemmBuffers(m, n, k, seed=seed)
    med = np.full(len(ids), np.nan)
    spread = np.full(len(ids), np.nan)
    order = np.random.default_rng(seed).permutation(len(ids))

    def one(idx: int) -> tuple[float, float]:
        samples = lib.time(
            idx,
            buffers,
            warmup=settings.warmup,
            repeats=settings.repeats,
            min_sample_s=settings.min_sample_ms / 1e3,
            thread_cpu=settings.clock == "thread-cpu",
        )
        return summarize(samples)

    if not settings.reference:
        for pos in order:
            med[pos], spread[pos] = one(int(ids[pos]))
            if on_done is not None:
                on_done(1)
        return Timings(med, spread, float("nan"), -1)
    ref = reference_kernel(lib, m, n, k)
    before, _ = one(ref)
    refs = [before]
    for pos in order:
        own, spread[pos] = one(int(ids[pos]))
        after, _ = one(ref)
        refs.append(after)
        med[pos] = own / (0.5 * (before + after))  # a ratio, scaled below
        before = after
        if on_done is not None:
            on_done(1)
    own_ref = float(np.median(refs))
    scale = own_ref if reference_us is None else float(reference_us)
    return Timings(med * scale, spread, own_ref, ref)


def retime(
    lib: KernelLibrary,
    table: GemmTable,
    row: int,
    ids: np.ndarray,
    settings: TimingSettings,
    seed: int = 0,
    on_done: Callable[[int], None] | None = None,
) -> Timings:
    """Time again kernels ``ids`` on shape ``row`` of a collected ``table`` (refinement,
    re-measure, live timing): with a reference, times are scaled by the reference time
    the table stored for that shape, so they compare with the table's whatever the
    machine's speed now. ``settings`` should come from :func:`retiming_settings` or the
    table's own (the same clock and method)."""
    s = table.shapes[row]
    return time_configs(
        lib,
        s.m,
        s.n,
        s.k,
        ids,
        settings,
        seed=seed,
        on_done=on_done,
        reference_us=shape_reference_us(table.meta, row),
    )


def reference_kernel(lib: KernelLibrary, m: int, n: int, k: int) -> int:
    """The position in ``lib`` of the reference schedule for m x n x k: the kernel's
    heuristic choice (valid for every shape, and among the faster schedules)."""
    return heuristic_choice(m, n, k, ConfigArrays(lib.configs))


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
