"""The blocksim kernel: a cycle-level model of llvm-mca's out-of-order pipeline.

One call simulates a batch of basic blocks, each repeated ``iterations`` times, over
flat arrays (numba ``@njit``). Per cycle, in llvm-mca's stage order:

1. Retire: in program order, every instruction whose execution finished in an earlier
   cycle leaves the reorder buffer (no retire-width limit).
2. Issue: in llvm-mca's order (age minus number of users, then age), an instruction
   dispatched in an earlier cycle issues when
   - each dependency is ready (:mod:`envs.blocksim.regfile` resolves them):
     producer's issue cycle + max(0, the producer write's latency - the reader's
     ReadAdvance for the reads it applies to); an instruction whose partial write
     depends on the register's previous write waits until that write has fewer cycles
     left than the instruction's own latency (llvm-mca's rule),
   - (stores) the previous store and the previous load have issued, possibly in
     the same cycle (llvm-mca's LSUnit with -noalias: loads never wait for stores),
   - every resource it uses has a free unit: units first, then groups by size; a
     use of c cycles holds the chosen unit for c cycles. The unit is the one
     llvm-mca's ResourceManager picks (DefaultResourceStrategy): the highest free
     unit still in the resource's "next in sequence" mask; taking a unit removes it
     from the sequence of every resource that contains it. Selection happens only
     when the instruction issues: a failed check leaves no trace.
   It finishes after ``latency`` cycles.
3. Dispatch: in order, up to ``dispatch_width`` micro-ops per cycle (an instruction
   with more micro-ops needs a whole empty group and carries the rest over to the
   next cycles), if the reorder buffer has room for its micro-ops, each scheduler
   buffer it takes has a free entry (held until it issues) and, for a load (store),
   the load (store) queue has one (held until it retires). An instruction with
   zero latency and no resources issues in its dispatch cycle (llvm-mca's
   "must issue immediately"), and so does an eliminated register move, whatever its
   operands (llvm-mca executes it at register renaming).

Total cycles = the cycle of the last retirement + 1, as llvm-mca's "Total Cycles".

The scheduler is event driven, so the cost is per instruction, not per waiting
instruction per cycle (the first version rescanned every waiting instruction each
cycle). A waiting instance is in exactly one place: on a timer (operands ready at a
known cycle, or "next cycle"), taken in (cycle, scheduling order); parked
on the unissued producer it waits for, which wakes it when it issues; or in the queue
of the resource it found full, whose oldest member alone is re-checked when a unit
frees (the next one only after it issued). Checks that fail have no side effects
(but the rotation above), so checking an instance only when it can have become
issuable gives exactly the cycle-by-cycle result; tests/test_blocksim.py compares
with a plain cycle-by-cycle scan. Cycles in which nothing can happen (no timer due,
no retirement, dispatch not waiting for the next cycle's slots) are skipped.

Operands are resolved as early as their result is known, not at the check: at
dispatch (cycle c, checked at c + 1 at the earliest) and when a parked instance is
woken (checked this cycle or the next). An issued producer's cycle is final, and an
unissued one wakes the instance when it issues, no later than the check would have
seen it, so parking at once or setting the timer straight to the operand-ready cycle
gives the same issue cycles as resolving at the check, one calendar round fewer
(1.18x on znver3, separate processes, medians of 7 calls, 2,000 BHive blocks).

Timers live in a calendar (one slot per cycle, a power of two more slots than the
furthest a timer can be set ahead) plus a small heap of the cycles that have entries;
a cycle's entries are sorted by scheduling order when the cycle starts.

Steady-state jump (exact): the run is deterministic and, from iteration 2 on, shift
invariant (every read of a waiting or future instance reaches at most two iterations
back). So if the whole pipeline state at the start of a cycle, written relative to
that cycle and to the first instance of the iteration being dispatched, equals the
state P iterations and D cycles earlier, the run repeats itself every P iterations
and D cycles until dispatch reaches the last instance (the one thing that is not
periodic); the kernel then moves the state ahead q whole periods at once and simulates
the rest. The state (:func:`_state_vector`) holds every instance from two iterations
before the oldest unretired one to the newest dispatched: issue/finish cycles, or
where it waits (timer cycle, producer, resource queue) and its operand-ready cycle;
per resource its unit-selection masks and its queue's proxy cycle; per unit its busy
time (clamped at the current cycle); ROB use, dispatch carry (scheduler-buffer and
load/store-queue use follow from the instances). A cheap signature is
compared first, the full state only when the signature recurs. The selection masks
make typical periods several iterations long (units in groups of 3 and 4). Blocks whose
window keeps growing (dispatch faster than execution, common with a 6-wide dispatch)
have no exactly periodic state before a scheduler buffer, a load/store queue or the
ROB is full, and if that is late they are simulated in full (the buffers made this
rarer: jumps in 54% of znver3 blocks, was 36%; clamping the issue cycles of instances
issued long ago, 64% of 2,000 BHive blocks and 32% of their iterations skipped, was 57%
and 28%). A block whose 100 iterations all fit in the window has dispatched everything
before its state can repeat, so nothing is left to skip. ``tests/test_blocksim.py``
checks jump against full runs.

The hottest helpers (calendar push, insertion into the cycle's entries, time-heap
pop) are inlined by hand: numba reference-counts the array arguments of a call it
does not inline away, and with them as calls 17% of the kernel's samples were in
NRT_incref/NRT_decref (perf, 2,000 BHive blocks). The operand scan, used at dispatch,
at a check and at a wake, is one function inlined by numba (``inline="always"``): as
fast as the hand copies. The calendar push inlined that way ran 6% slower than by
hand (separate processes, 4 rounds), so it stays inlined by hand.

Per-instance constant costs (session 6 of issue 16; predictions bit-identical, checked
by ``bench/blocksim_equal.py`` on every block of bhive_znver3 / bhive_znver4 and 8,000
blocks on the other CPUs, five tables; the kernel 1.25-1.35x faster per block, paired
in one process, on 2,000 BHive blocks and on all of bhive_znver3 / bhive_znver4):
every working array is a slice of one workspace allocated per batch
(per chunk of blocks in the threaded kernel) instead of ~30 allocations per block;
k // n and k % n are table loads (``kit``, ``kpos``) and a resource queue's proxy code
uses shifts, not divisions; the free-unit mask is computed without branches (which
units are free is unpredictable); taking a unit updates only the selection states of
resources the block uses (``bur_*``: no other state is ever read); a check saves the
selection states it changes only for uses before the last (a check fails before the
failing use changes anything); the reservation checks run only for blocks with an
instruction that reserves a group; the signature's hash uses precomputed powers and
only the resources and units whose state can change in the block; dispatch scans an
instruction's scheduler buffers only while one is full.

Per-block set-up and aliasing (session 18 of issue 16; predictions bit-identical by
``bench/blocksim_equal.py``; ``taskset -c 1 .venv/bin/python bench/blocksim_bench.py
--samples bhive --cpus znver5``, interleaved with the kernel before, 2 runs each, Intel
family 6 model 167: 24,436 / 25,029 -> 26,347 / 26,182 blocks/s, 23.8 / 24.1x -> 25.2 /
25.3x llvm-mca): the kernel runs without numba's reference counting
(``_nrt=False``: it allocates nothing, and each of its ~60 workspace slices per block
cost an atomic increment and decrement, ~1 us a block); per-instance arrays are
written when the instance is dispatched instead of filled for all m; calendar pool
entries are linked into the free list 64 at a time; the calendar is sized from the
block's own rows, not the batch's; the signature's powers are computed once per
workspace; the free-unit scan reads per-resource copies of the busy times
(``rbusy``, contiguous) instead of going through ``ru_idx``; the unit-selection words
are read into locals and written back once (numba cannot tell the workspace's slices
apart, so each store made it reload them); one-unit resources are left out of the
selection update (their state is constant).

Where the time goes (``bench/blocksim_profile_lines.py``: perf samples of the generated
kernel attributed to its source lines with ``NUMBA_DEBUGINFO=1`` and gdb's ``info
line``; znver5 table, 2,000 BHive blocks, 50k samples, 2026-12-04, Intel host):
checking an instruction's resources (free-unit scan and llvm-mca's unit selection)
39%, dispatch 12%, the rest of a check (popping entries, proxies, operand timers) 8%,
the steady-state check 8%, issue bookkeeping 7%, the timer heap and sorting a cycle's
entries 6%, operand resolution 5%, retirement 4%, waking parked dependents 4%, per-block
set-up 1%. 49% of the 2,000 blocks' instances are skipped by the jump; single-instruction
blocks almost never jump (their 100 iterations fit in the window).

This file is the readable source; BlockSim runs the kernel generated from it by
:mod:`envs.blocksim.kernel_gen` (every array index cast to ``np.uint64``, which spares
numba's negative-index wraparound: 1.27x), ``envs/blocksim/_kernel_unsigned.py``.
After editing this file, run ``python envs/blocksim/kernel_gen.py``; a test fails
while the generated file is stale.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from envs.blocksim.kernel_args import BlockArrays, KernelConfig, TableArrays

_INF = np.int64(1) << np.int64(60)


@intrinsic
def _msb(typingctx, x):
    """Index of the highest set bit of the int64 ``x`` > 0 (63 - LLVM's ctlz: one
    lzcnt instruction, where a loop over the bits branched unpredictably)."""
    if x != types.int64:
        return None

    def codegen(context, builder, signature, args):
        lz = builder.ctlz(args[0], ir.Constant(ir.IntType(1), 1))
        return builder.sub(ir.Constant(ir.IntType(64), 63), lz)

    return types.int64(types.int64), codegen


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _tpush(th: np.ndarray, ts: int, t: int) -> int:
    """Push cycle ``t`` on the min-heap ``th[:ts]``; returns the new size."""
    i = ts
    while i > 0:
        par = (i - 1) >> 1
        if th[par] <= t:
            break
        th[i] = th[par]
        i = par
    th[i] = t
    return ts + 1


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _cal_push(
    cal: np.ndarray,
    e_r: np.ndarray,
    e_k: np.ndarray,
    e_next: np.ndarray,
    th: np.ndarray,
    free: int,
    ts: int,
    t: int,
    r: int,
    k: int,
) -> tuple[int, int]:
    """File (order key r, entry k) under cycle ``t`` (> the current cycle) in the
    calendar; returns the new (free-list head, time-heap size). The caller makes
    sure the free list is not empty."""
    slot = t & (cal.shape[0] - 1)
    e = free
    free = e_next[e]
    e_r[e] = r
    e_k[e] = k
    h = cal[slot]
    if h < 0:
        ts = _tpush(th, ts, t)
    e_next[e] = h
    cal[slot] = e
    return free, ts


@nb.njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _operands(
    it: int,
    i: int,
    row: int,
    n: int,
    base: int,
    issue: np.ndarray,
    inst_row: np.ndarray,
    lat: np.ndarray,
    ra: np.ndarray,
    rd_ptr: np.ndarray,
    rd_pos: np.ndarray,
    rd_dist: np.ndarray,
    rd_lofs: np.ndarray,
    rd_kind: np.ndarray,
    store_forward: int,
    store_forward_fail: int,
    store_forward_stack: int,
) -> tuple[int, int]:
    """Operands of the instance of instruction ``i`` (table row ``row``) in iteration
    ``it``: (operand-ready cycle, -1) once every producer has issued, else (0, the first
    unissued producer it must wait for). A dependency is ready at the producer's issue
    cycle plus its write's latency (the producer's latency + ``rd_lofs``), less the
    reader's ReadAdvance (kind 1), or, for a partial write waiting for the register's
    previous write (kind 2, llvm-mca's "partial register write cannot complete before a
    dependent write"), less the writer's own latency - 1, or, for a load reading a
    store's data (kind 3, the opt-in memory model of :mod:`envs.blocksim.memdeps`),
    plus ``store_forward`` less the load's latency, or, for a load that overlaps that
    store only in part (kind 4, :mod:`envs.blocksim.bhive_state`), plus
    ``store_forward_fail`` less the load's latency, or, for a stack-relative pair the
    core renames through its memory file (kind 5), plus ``store_forward_stack`` less the
    load's latency. Inlined into the kernel at
    numba IR level (``inline="always"``), so its array arguments cost no reference
    counting."""
    t = 0
    for r in range(rd_ptr[i], rd_ptr[i + 1]):
        pit = it - rd_dist[r]
        if pit < 0:
            continue
        p = pit * n + rd_pos[r]
        if issue[p] < 0:
            return 0, p
        lp = lat[inst_row[base + rd_pos[r]]] + rd_lofs[r]
        kind = rd_kind[r]
        if kind == 1:
            lp -= ra[row]
        elif kind == 2:
            if lat[row] > 1:
                lp -= lat[row] - 1
        elif kind == 3:
            lp += store_forward - lat[row]
        elif kind == 4:
            lp += store_forward_fail - lat[row]
        elif kind == 5:
            lp += store_forward_stack - lat[row]
        lp = lp if lp > 0 else 0
        tp = issue[p] + lp
        t = tp if tp > t else t
    return t, -1


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _max_read_delay(
    n: int,
    base: int,
    inst_row: np.ndarray,
    lat: np.ndarray,
    ra: np.ndarray,
    rd_ptr: np.ndarray,
    rd_pos: np.ndarray,
    rd_lofs: np.ndarray,
    rd_kind: np.ndarray,
    store_forward: int,
    store_forward_fail: int,
    store_forward_stack: int,
) -> int:
    """The most cycles any read of the block adds to its producer's issue cycle (the
    ``lp`` of :func:`_operands`, over every read of every instruction), at least 0.

    The lines computing ``lp`` repeat _operands' on purpose: one helper inlined into both
    (``inline="always"``, nested in the inlined _operands) made the kernel 2.2x slower
    (in-process A/B on 2,000 BHive blocks, znver3 and znver5, 2026-12-03)."""
    most = 0
    for i in range(base, base + n):
        row = inst_row[i]
        for r in range(rd_ptr[i], rd_ptr[i + 1]):
            lp = lat[inst_row[base + rd_pos[r]]] + rd_lofs[r]
            kind = rd_kind[r]
            if kind == 1:
                lp -= ra[row]
            elif kind == 2:
                if lat[row] > 1:
                    lp -= lat[row] - 1
            elif kind == 3:
                lp += store_forward - lat[row]
            elif kind == 4:
                lp += store_forward_fail - lat[row]
            elif kind == 5:
                lp += store_forward_stack - lat[row]
            most = lp if lp > most else most
    return most


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _purge_stale(
    cal: np.ndarray, e_k: np.ndarray, e_next: np.ndarray, free: int, rq_ver: np.ndarray
) -> int:
    """Unlink stale resource-queue proxies from the calendar; the new free-list head."""
    for slot in range(cal.shape[0]):
        prev = -1
        e = cal[slot]
        while e >= 0:
            en = e_next[e]
            k = e_k[e]
            if k < 0 and (-1 - k) >> _RQ_BITS != rq_ver[(-1 - k) & _RQ_MASK]:
                if prev < 0:
                    cal[slot] = en
                else:
                    e_next[prev] = en
                e_next[e] = free
                free = e
            else:
                prev = e
            e = en
    return free


_POOL_CHUNK = 64


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _refill(
    cal: np.ndarray,
    e_k: np.ndarray,
    e_next: np.ndarray,
    free: int,
    rq_ver: np.ndarray,
    e_top: int,
) -> tuple[int, int]:
    """A non-empty free list for the calendar's pool: the next _POOL_CHUNK entries never
    used (from ``e_top``), or, once every entry was, the stale proxies unlinked
    (:func:`_purge_stale`). Returns (free-list head, new e_top)."""
    cap = e_next.shape[0]
    if e_top < cap:
        end = e_top + _POOL_CHUNK if e_top + _POOL_CHUNK < cap else cap
        for e in range(e_top, end - 1):
            e_next[e] = e + 1
        e_next[end - 1] = free
        return e_top, end
    return _purge_stale(cal, e_k, e_next, free, rq_ver), e_top


# Where a waiting (dispatched, unissued) instance is: on a timer (the calendar),
# parked on an unissued producer, or in a resource's queue (see the module docstring).
_LOC_TIMER = 1
_LOC_DEP = 2
_LOC_RQ = 3
_NOT_READY = -(np.int64(1) << np.int64(50))  # operand-ready cycle not known yet
# A resource queue's proxy entry is -1 - (version << _RQ_BITS | resource): shifts and
# masks, not divisions (at most 2**_RQ_BITS resources; simulate_block checks).
_RQ_BITS = 16
_RQ_MASK = (1 << _RQ_BITS) - 1
_SIG_RING = 16  # cheap signatures of the last checks (see _state_vector)
_MAX_FULL = 8  # full state vectors taken per block before giving up on a jump


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _state_vector(
    out: np.ndarray,
    c: int,
    a: int,
    n: int,
    ret: int,
    nd: int,
    rob_used: int,
    carry: int,
    issue: np.ndarray,
    done: np.ndarray,
    rdy: np.ndarray,
    loc: np.ndarray,
    locv: np.ndarray,
    rq_head: np.ndarray,
    rq_t: np.ndarray,
    rr: np.ndarray,
    busy: np.ndarray,
    lmax: int,
) -> int:
    """Write the pipeline state at the start of cycle ``c`` into ``out``; its length.

    Everything the future of the run depends on, as offsets from the cycle ``c`` and
    from the anchor instance ``a`` (the first instance of the iteration being
    dispatched), so that two states a whole number of iterations apart compare equal
    exactly when the run from one is the run from the other shifted in time and
    index. Layout: nd - a, ret - a, rob_used, carry; per resource its unit-selection
    state (llvm-mca's next-in-sequence and removed masks), the cycles it stays
    reserved whole, and its queue's proxy cycle (-1 if the queue is empty); per unit the
    cycles until it is free (0 if free); per instance from ``lo`` (two iterations
    before the oldest unretired one: the oldest producer a later read can see) to
    ``nd``: issued: (-1, issue, done); waiting: (place, cycle / producer / resource,
    operand-ready cycle clamped at ``c`` (an earlier one acts the same), or _NOT_READY).
    An issued instance's issue cycle is clamped at ``c - lmax - 1`` and its done cycle at
    ``c - 1``: ``lmax`` bounds what a read adds to its producer's issue cycle in this
    block (:func:`_max_read_delay`), so an earlier issue makes every later read ready
    before ``c`` either way, and ``done`` only decides retirement (``done < c``). Without
    the clamp, instances that issued early while the window grew (independent ones,
    dispatched ahead of a dependency chain) keep the state from repeating until they
    retire, often past the run's end.
    """
    out[0] = nd - a
    out[1] = ret - a
    out[2] = rob_used
    out[3] = carry
    w = 4
    for r in range(rq_t.shape[0]):
        out[w] = rr[3 * r]
        out[w + 1] = rr[3 * r + 1]
        held = rr[3 * r + 2] - c
        out[w + 2] = held if held > 0 else 0
        out[w + 3] = rq_t[r] - c if rq_head[r] >= 0 else -1
        w += 4
    for u in range(busy.shape[0]):
        b = busy[u] - c
        out[w] = b if b > 0 else 0
        w += 1
    lo = (ret // n - 2) * n
    for k in range(lo, nd):
        if issue[k] >= 0:
            out[w] = -1
            iv = issue[k] - c
            out[w + 1] = iv if iv > -lmax - 1 else -lmax - 1
            dv = done[k] - c
            out[w + 2] = dv if dv > -1 else -1
        else:
            place = loc[k]
            out[w] = place
            if place == _LOC_TIMER:
                out[w + 1] = locv[k] - c
            elif place == _LOC_DEP:
                out[w + 1] = locv[k] - a
            else:
                out[w + 1] = locv[k]
            if rdy[k] < 0:
                out[w + 2] = _NOT_READY
            else:  # any ready cycle up to now acts the same
                out[w + 2] = rdy[k] - c if rdy[k] > c else 0
        w += 3
    return w


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _same_state(x: np.ndarray, y: np.ndarray, length: int) -> bool:
    for i in range(length):
        if x[i] != y[i]:
            return False
    return True


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _restore_state(
    v: np.ndarray,
    c: int,
    a: int,
    n: int,
    m: int,
    base: int,
    umax: int,
    users: np.ndarray,
    issue: np.ndarray,
    done: np.ndarray,
    rdy: np.ndarray,
    loc: np.ndarray,
    locv: np.ndarray,
    okey: np.ndarray,
    dep_head: np.ndarray,
    dep_next: np.ndarray,
    rq_head: np.ndarray,
    rq_tail: np.ndarray,
    rq_next: np.ndarray,
    rq_prev: np.ndarray,
    rq_t: np.ndarray,
    rq_ver: np.ndarray,
    rr: np.ndarray,
    busy: np.ndarray,
    rbusy: np.ndarray,
    ru_idx: np.ndarray,
    kit: np.ndarray,
    kpos: np.ndarray,
    cal: np.ndarray,
    e_r: np.ndarray,
    e_k: np.ndarray,
    e_next: np.ndarray,
    th: np.ndarray,
) -> tuple[int, int]:
    """Rebuild the state ``v`` (see :func:`_state_vector`) at cycle ``c``, anchor ``a``.

    Instances (with their iteration and position, ``kit`` / ``kpos``), timers, queues
    and their proxies are re-created at the new indices and cycles in an emptied
    calendar whose every pool entry is linked (stale proxies dropped); the units' busy
    times and their per-resource copies ``rbusy`` are set. Returns the calendar's new
    (free-list head, time-heap size); the caller sets nd, ret, rob_used and carry
    from ``v[0:4]``.
    """
    n_res = rq_t.shape[0]
    cal[:] = -1
    cap = e_next.shape[0]
    for e in range(cap - 1):
        e_next[e] = e + 1
    e_next[cap - 1] = -1
    free = 0
    ts = 0
    w = 4
    for r in range(n_res):
        rr[3 * r] = v[w]
        rr[3 * r + 1] = v[w + 1]
        rr[3 * r + 2] = c + v[w + 2]
        rq_t[r] = c + v[w + 3] if v[w + 3] >= 0 else -1
        rq_head[r] = -1
        rq_tail[r] = -1
        w += 4
    for u in range(busy.shape[0]):
        busy[u] = c + v[w]
        w += 1
    for x in range(rbusy.shape[0]):
        rbusy[x] = busy[ru_idx[x]]
    nd = a + v[0]
    ret = a + v[1]
    lo = (ret // n - 2) * n
    for k in range(lo, nd):
        dep_head[k] = -1
    for k in range(lo, nd):
        kit[k] = k // n
        kpos[k] = k - kit[k] * n
        key = (k - users[base + kpos[k]] + umax) * m + k
        okey[k] = key
        if v[w] < 0:
            issue[k] = c + v[w + 1]
            done[k] = c + v[w + 2]
            loc[k] = 0
        else:
            issue[k] = -1
            rdy[k] = -1 if v[w + 2] == _NOT_READY else c + v[w + 2]
            place = v[w]
            loc[k] = place
            if place == _LOC_TIMER:
                locv[k] = c + v[w + 1]
                free, ts = _cal_push(cal, e_r, e_k, e_next, th, free, ts, c + v[w + 1], key, k)
            elif place == _LOC_DEP:
                p = a + v[w + 1]
                locv[k] = p
                dep_next[k] = dep_head[p]
                dep_head[p] = k
            else:
                rid = v[w + 1]
                locv[k] = rid
                prv = rq_tail[rid]  # queue order = scheduling order
                while prv >= 0 and okey[prv] > key:
                    prv = rq_prev[prv]
                rq_prev[k] = prv
                if prv < 0:
                    nxt = rq_head[rid]
                    rq_head[rid] = k
                else:
                    nxt = rq_next[prv]
                    rq_next[prv] = k
                rq_next[k] = nxt
                if nxt < 0:
                    rq_tail[rid] = k
                else:
                    rq_prev[nxt] = k
        w += 3
    for r in range(n_res):
        if rq_head[r] >= 0:
            rq_ver[r] += 1
            code = -1 - ((rq_ver[r] << _RQ_BITS) | r)
            free, ts = _cal_push(
                cal, e_r, e_k, e_next, th, free, ts, rq_t[r], okey[rq_head[r]], code
            )
    return free, ts


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _sig_powers(pw: np.ndarray) -> None:
    """pw[i] = 1000003 ** (len(pw) - 1 - i) (int64, wrapping): the weight of the i-th
    term in :func:`_signature`'s polynomial hash."""
    x = np.int64(1)
    for i in range(pw.shape[0] - 1, -1, -1):
        pw[i] = x
        x = x * np.int64(1000003)


@nb.njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _signature(
    out: np.ndarray,
    c: int,
    a: int,
    ret: int,
    nd: int,
    rob_used: int,
    carry: int,
    rr: np.ndarray,
    busy: np.ndarray,
    pw_rr: np.ndarray,
    pw_busy: np.ndarray,
    sig_r: np.ndarray,
    n_sig_r: int,
    sig_u: np.ndarray,
    n_sig_u: int,
) -> None:
    """A cheap necessary condition for equal states (see :func:`_state_vector`): the
    scalars plus hashes of the unit-selection states and the units' busy times.

    Each hash is the polynomial h = (..((x0 * P + x1) * P + x2)..) in wrapping int64
    arithmetic, computed as sum(x_i * pw[i]) with the powers of P precomputed
    (:func:`_sig_powers`): the same value (mod 2**64) without Horner's chain of
    dependent multiplications. Only the terms of resources ``sig_r[:n_sig_r]`` and
    units ``sig_u[:n_sig_u]`` are summed: the others are constant during the block (a
    resource no instruction of it uses or reserves, a unit of none of those), so
    leaving them out moves every hash of the block by the same constant and keeps
    which signatures are equal exactly. Inlined into the kernel (no reference
    counting)."""
    out[0] = nd - a
    out[1] = ret - a
    out[2] = rob_used
    out[3] = carry
    h = np.int64(0)
    for x in range(n_sig_r):
        r = sig_r[x]
        held = rr[3 * r + 2] - c
        h += rr[3 * r] * pw_rr[3 * r]
        h += rr[3 * r + 1] * pw_rr[3 * r + 1]
        h += (held if held > 0 else 0) * pw_rr[3 * r + 2]
    out[4] = h
    h = np.int64(0)
    for x in range(n_sig_u):
        u = sig_u[x]
        bu = busy[u] - c
        h += (bu if bu > 0 else 0) * pw_busy[u]
    out[5] = h


@nb.njit(cache=True, nogil=True, error_model="numpy", _nrt=False)
def simulate_block(
    b: int,
    blocks: BlockArrays,
    table: TableArrays,
    config: KernelConfig,
    horizon: int,
    skipped: np.ndarray,
    ws: np.ndarray,
    max_uses: int,
    max_in: int,
) -> float:
    """Total cycles of block ``b`` (instructions blk_ptr[b]:blk_ptr[b+1]).

    With ``jump``, the run skips whole periods once the pipeline state repeats (exact,
    see the module docstring); without, every cycle is simulated (same result).
    With ``extrapolate``, the run stops once the retirement cycles of whole iterations
    repeat with a period of 1-4 iterations for three periods, and the rest is
    extrapolated (see :func:`_extrapolate`): approximate, off by default.
    ``horizon``: a bound on how many cycles ahead of the current one a timer can be
    set (see :func:`simulate_batch`). ``skipped[b]`` is set to the iterations the
    steady-state jump skipped (0 if none). ``ws``: the workspace every working array
    is carved from (:func:`_workspace_size` int64 at least); ``max_uses``, ``max_in``:
    the most resource uses of a table row, the most resources containing a unit.

    Per-instruction arrays are indexed by global instruction index; ``rd_*`` by read
    index (CSR through ``rd_ptr``); table arrays by table row; ``res_*`` (CSR through
    ``res_ptr``) by row, ``ru_*`` (CSR) by resource: its units in llvm-mca's mask
    order; ``ur_*`` (CSR) by unit: the resources containing it (``ur_res``) and its
    position among their units (``ur_pos``).
    """
    # The bundled arguments as the locals the body uses (numba keeps them in registers).
    blk_ptr, inst_row, rd_ptr, rd_pos, rd_dist = (
        blocks.blk_ptr,
        blocks.inst_row,
        blocks.rd_ptr,
        blocks.rd_pos,
        blocks.rd_dist,
    )
    rd_lofs, rd_kind, elim, is_store, is_load = (
        blocks.rd_lofs,
        blocks.rd_kind,
        blocks.elim,
        blocks.is_store,
        blocks.is_load,
    )
    ps_pos, ps_dist, pl_pos, pl_dist, users = (
        blocks.ps_pos,
        blocks.ps_dist,
        blocks.pl_pos,
        blocks.pl_dist,
        blocks.users,
    )
    lat, uops, ra, res_ptr, res_id, res_cyc = (
        table.lat,
        table.uops,
        table.ra,
        table.res_ptr,
        table.res_id,
        table.res_cyc,
    )
    ru_ptr, ru_idx, ur_ptr, ur_res, ur_pos = (
        table.ru_ptr,
        table.ru_idx,
        table.ur_ptr,
        table.ur_res,
        table.ur_pos,
    )
    buf_ptr, buf_id, buf_size = table.buf_ptr, table.buf_id, table.buf_size
    rs_ptr, rs_id, rs_cyc = table.rs_ptr, table.rs_id, table.rs_cyc
    iterations, dispatch_width, rob_size = (
        config.iterations,
        config.dispatch_width,
        config.rob_size,
    )
    lq_size, sq_size, store_forward = config.lq_size, config.sq_size, config.store_forward
    store_forward_fail = config.store_forward_fail
    store_forward_stack = config.store_forward_stack
    n_units, extrapolate, jump = config.n_units, config.extrapolate, config.jump
    base = blk_ptr[b]
    n = blk_ptr[b + 1] - base
    if n <= 0:
        return np.nan
    m = n * iterations
    n_res = ru_ptr.shape[0] - 1
    n_u = ur_ptr.shape[0] - 1
    # The calendar needs more slots than the furthest a timer of this block can be set
    # ahead: the batch's bound ``horizon`` computed from this block's rows alone (as
    # _horizon does), usually a quarter of it (filling the calendar is per block).
    b_lat = 0
    b_cyc = 0
    b_ofs = 0
    for i in range(base, base + n):
        rw = inst_row[i]
        b_lat = max(b_lat, lat[rw])
        for j in range(res_ptr[rw], res_ptr[rw + 1]):
            b_cyc = max(b_cyc, res_cyc[j])
        for j in range(rs_ptr[rw], rs_ptr[rw + 1]):
            b_cyc = max(b_cyc, rs_cyc[j])
        for r in range(rd_ptr[i], rd_ptr[i + 1]):
            b_ofs = max(b_ofs, rd_lofs[r])
    forward = max(store_forward, store_forward_fail, store_forward_stack, 0)
    b_horizon = min(horizon, b_lat + b_ofs + b_cyc + forward + 2)
    cal_size = 1
    while cal_size <= b_horizon:
        cal_size *= 2
    cap = 2 * m + 2 * n_res + 64
    vlen = 4 + 4 * n_res + n_units + 3 * m
    # Every array below is a slice of the caller's workspace ``ws`` (see
    # _workspace_size: allocating them per block cost ~5% in malloc / free).
    # The workspace's head holds the batch's constants: the signature's powers (set by
    # the caller, :func:`_workspace`).
    pw_rr = ws[0 : 3 * n_res]
    pw_busy = ws[3 * n_res : 3 * n_res + n_units]
    o = 3 * n_res + n_units
    # Iteration and position in the block of each instance (k // n, k % n as loads: an
    # integer division costs more than the rest of an instance's bookkeeping lines).
    # Per-instance arrays are set when the instance is dispatched (or restored by the
    # steady-state jump), never before: nothing reads an instance before that, and
    # filling all m up front was most of a short block's set-up.
    kit = ws[o : o + m]
    o += m
    kpos = ws[o : o + m]
    o += m
    issue = ws[o : o + m]  # issue cycle, -1 = not issued
    o += m
    done = ws[o : o + m]  # cycle the execution finishes
    o += m
    rdy = ws[o : o + m]  # operand-ready cycle once all producers issued
    o += m
    # Instances waiting for an unissued producer p: linked list dep_head[p] -> dep_next.
    dep_head = ws[o : o + m]
    o += m
    dep_next = ws[o : o + m]
    o += m
    # Timers: a calendar of `cal_size` slots (a power of two > horizon), slot t mod
    # cal_size holding a list of (order key, instance) entries for cycle t (pool e_*,
    # free list `free`), plus a min-heap `th` of the cycles that have entries (to skip
    # idle cycles). At the start of a cycle its entries are sorted by order key into
    # `cur` and checked in that order; an entry made for the current cycle while it is
    # being checked is inserted into `cur`. Order key = llvm-mca's scheduling order
    # (age - users, then age) made non-negative: (k - users + umax) * m + k.
    # Live entries: at most m instances plus one proxy per resource queue (below);
    # stale proxies are unlinked when the pool runs out.
    if n_res > _RQ_MASK:
        raise ValueError("too many resources for the resource-queue proxy code")
    cal = ws[o : o + cal_size]
    o += cal_size
    cal[:] = -1
    th = ws[o : o + cal_size + 1]
    o += cal_size + 1
    ts = 0
    e_r = ws[o : o + cap]
    o += cap
    e_k = ws[o : o + cap]
    o += cap
    e_next = ws[o : o + cap]
    o += cap
    # Entries are linked into the free list _POOL_CHUNK at a time when it runs dry
    # (e_top: the first never linked), stale proxies purged only once all were: a
    # block's live entries are about its window, far fewer than cap.
    free = -1
    e_top = 0
    # (a cycle's entries: at most the whole pool plus those made during the cycle)
    cur_r = ws[o : o + cap + m + n_res]
    o += cap + m + n_res
    cur_k = ws[o : o + cap + m + n_res]
    o += cap + m + n_res
    umax = 0
    for p in range(n):
        if users[base + p] > umax:
            umax = users[base + p]
    lmax = _max_read_delay(
        n,
        base,
        inst_row,
        lat,
        ra,
        rd_ptr,
        rd_pos,
        rd_lofs,
        rd_kind,
        store_forward,
        store_forward_fail,
        store_forward_stack,
    )  # (the steady-state check's clamp of issue cycles)
    iter_ret = ws[o : o + iterations]  # for the approximate `extrapolate`
    o += iterations
    iter_ret[:] = 0
    # Instances that found resource rid full wait in rid's queue (doubly linked, in
    # scheduling order) instead of on a timer: when a unit frees, only the queue's
    # head is checked, and the next one only if the head issued, not every waiting
    # instance. One "proxy" timer entry per non-empty queue, (head key,
    # -1 - (version << _RQ_BITS | rid)) at its cycle rq_t; a stale version is dropped.
    rq_head = ws[o : o + n_res]
    o += n_res
    rq_head[:] = -1
    rq_tail = ws[o : o + n_res]
    o += n_res
    rq_tail[:] = -1
    rq_ver = ws[o : o + n_res]
    o += n_res
    rq_ver[:] = 0
    rq_t = ws[o : o + n_res]
    o += n_res
    rq_t[:] = -1
    rq_next = ws[o : o + m]
    o += m
    rq_prev = ws[o : o + m]
    o += m
    okey = ws[o : o + m]  # scheduling-order key, set at dispatch
    o += m
    # Where each waiting instance is (_LOC_*) and its cycle / producer / resource there.
    loc = ws[o : o + m]
    o += m
    locv = ws[o : o + m]
    o += m
    busy = ws[o : o + n_units]
    o += n_units
    busy[:] = 0
    # The same busy times per resource, in its units' order (rbusy[ru_ptr[r] + s] is
    # busy[ru_idx[ru_ptr[r] + s]]): the free-unit scan of a check, the kernel's
    # hottest loop, reads them contiguously instead of through ru_idx. Written for
    # the resources this block uses (the only ones it scans).
    rbusy = ws[o : o + ru_ptr[n_res]]
    o += ru_ptr[n_res]
    rbusy[:] = 0
    # Scheduler-buffer entries in use (dispatch to issue), load / store queue entries
    # in use (dispatch to retirement); buf_* is CSR by table row, sizes per buffer.
    buf_used = ws[o : o + buf_size.shape[0]]
    o += buf_size.shape[0]
    buf_used[:] = 0
    # Buffers full now (buf_used >= buf_size): dispatch checks an instruction's buffers
    # only while one is (a buffer fills at its last increment, empties one entry at its
    # first decrement from full).
    n_bfull = 0
    for x in range(buf_size.shape[0]):
        n_bfull += buf_size[x] <= 0
    lq_used = 0
    sq_used = 0
    # llvm-mca's unit selection per resource (DefaultResourceStrategy): rr[3r] is the
    # next-in-sequence mask over its units (bit p = its p-th unit, in mask order),
    # rr[3r+1] the units removed from the next sequence.
    # rr[3r+2]: the cycle until which the resource is reserved whole (llvm-mca reserves
    # a group an instruction needs all units of: DIV on the Intel models).
    rr = ws[o : o + 3 * n_res]
    o += 3 * n_res
    ru_all = ws[o : o + n_res]  # all units of each resource, as a mask
    o += n_res
    for r in range(n_res):
        ru_all[r] = (np.int64(1) << (ru_ptr[r + 1] - ru_ptr[r])) - 1
        rr[3 * r] = ru_all[r]
        rr[3 * r + 1] = 0
        rr[3 * r + 2] = 0
    # Units a check took, in order (chosen[:nch]) and marked (taken[u] == stamp).
    chosen = ws[o : o + max_uses]
    o += max_uses
    taken = ws[o : o + n_units]
    o += n_units
    taken[:] = 0
    stamp = 0
    # Selection states changed by a check, restored if the check fails: per use but
    # the last, its resource and those of its unit's (at most 2 words each).
    svr = ws[o : o + 2 * max_uses * (max_in + 1)]
    o += 2 * max_uses * (max_in + 1)
    svv = ws[o : o + 2 * max_uses * (max_in + 1)]
    o += 2 * max_uses * (max_in + 1)
    # Taking a unit updates the selection state of the resources containing it that
    # this block's instructions use (bur_*: ur_* filtered to those): no other
    # resource's selection state is ever read while simulating this block.
    rused = ws[o : o + n_res]
    o += n_res
    rused[:] = 0
    any_rs = False  # does an instruction of the block reserve a group whole?
    for p in range(n):
        rw = inst_row[base + p]
        for j in range(res_ptr[rw], res_ptr[rw + 1]):
            rused[res_id[j]] = 1
        any_rs = any_rs or rs_ptr[rw + 1] > rs_ptr[rw]
    bur_ptr = ws[o : o + n_u + 1]
    o += n_u + 1
    bur_res = ws[o : o + ur_ptr[n_u]]
    o += ur_ptr[n_u]
    bur_pos = ws[o : o + ur_ptr[n_u]]
    o += ur_ptr[n_u]
    # (A resource of one unit is left out: its selection state is (1, 0) from the
    # start and taking its unit, through it or a group, leaves it so.)
    # Per unit, its places in rbusy (CSR, bof_*): one per resource of the block that
    # contains it.
    bof_ptr = ws[o : o + n_u + 1]
    o += n_u + 1
    bof_off = ws[o : o + ur_ptr[n_u]]
    o += ur_ptr[n_u]
    w = 0
    wo = 0
    for u in range(n_u):
        bur_ptr[u] = w
        bof_ptr[u] = wo
        for x in range(ur_ptr[u], ur_ptr[u + 1]):
            g = ur_res[x]
            if rused[g] != 0:
                bof_off[wo] = ru_ptr[g] + ur_pos[x]
                wo += 1
                if ru_ptr[g + 1] - ru_ptr[g] > 1:
                    bur_res[w] = g
                    bur_pos[w] = ur_pos[x]
                    w += 1
    bur_ptr[n_u] = w
    bof_ptr[n_u] = wo
    # Steady state (module docstring): once per iteration (the first cycle start after
    # dispatch enters it) a signature is compared with the last _SIG_RING ones; a
    # repeat makes the full state a candidate; when the candidate's signature comes
    # round again the full states are compared, and equal states P iterations and D
    # cycles apart let the run jump ahead whole periods.
    steady = jump and not extrapolate
    next_check = 0
    sig = ws[o : o + _SIG_RING * 6].reshape((_SIG_RING, 6))
    o += _SIG_RING * 6
    sig[:] = 0
    n_sig = 0
    now = ws[o : o + 6]
    o += 6
    now[:] = 0
    # The resources and units whose state can change in this block (see _signature).
    sig_r = ws[o : o + n_res]
    o += n_res
    sig_u = ws[o : o + n_units]
    o += n_units
    n_sig_r = 0
    for r in range(n_res):
        if rused[r] != 0:
            sig_r[n_sig_r] = r
            n_sig_r += 1
        elif any_rs:  # reserved by an instruction of the block without using it
            for p in range(n):
                rw = inst_row[base + p]
                for j in range(rs_ptr[rw], rs_ptr[rw + 1]):
                    if rs_id[j] == r and (n_sig_r == 0 or sig_r[n_sig_r - 1] != r):
                        sig_r[n_sig_r] = r
                        n_sig_r += 1
    taken[:] = 0  # (scratch: mark the units of the used resources)
    for x in range(n_sig_r):
        r = sig_r[x]
        if rused[r] != 0:
            for y in range(ru_ptr[r], ru_ptr[r + 1]):
                taken[ru_idx[y]] = 1
    n_sig_u = 0
    for u in range(n_units):
        if taken[u] != 0:
            sig_u[n_sig_u] = u
            n_sig_u += 1
    taken[:] = 0
    full = ws[o : o + 2 * vlen].reshape((2, vlen))  # rows: candidate, scratch
    o += 2 * vlen
    cand = -1  # row of the candidate state, -1 = none
    cand_it = 0
    cand_c = 0
    cand_len = 0
    cand_sig = ws[o : o + 6]
    o += 6
    cand_sig[:] = 0
    n_full = 0
    if o > ws.shape[0]:
        raise ValueError("blocksim workspace too small")

    nd = 0
    d_it = 0  # iteration and position in the block of instance nd
    d_pos = 0
    ret = 0
    rob_used = 0
    carry = 0
    c = 0
    last_retire = 0
    while ret < m:
        if steady and nd >= next_check and ret >= 2 * n:
            # (From iteration 2 on, no read of a waiting or future instance reaches
            # before iteration 0, so the run from here on is shift invariant.)
            j = nd // n
            next_check = (j + 1) * n
            a = j * n
            _signature(
                now, c, a, ret, nd, rob_used, carry, rr, busy, pw_rr, pw_busy, sig_r, n_sig_r,
                sig_u, n_sig_u,
            )  # fmt: skip
            if cand >= 0 and j - cand_it > _SIG_RING:
                cand = -1  # it never came round again
            if cand >= 0:
                same = True
                for i in range(6):
                    if now[i] != cand_sig[i]:
                        same = False
                        break
                if same:
                    new = 1 - cand
                    ln = _state_vector(
                        full[new], c, a, n, ret, nd, rob_used, carry, issue, done, rdy,
                        loc, locv, rq_head, rq_t, rr, busy, lmax,
                    )  # fmt: skip
                    n_full += 1
                    if ln == cand_len and _same_state(full[cand], full[new], ln):
                        period = j - cand_it
                        q = (m - 1 - nd) // (period * n)
                        if q >= 1:
                            skipped[b] = q * period
                            a += q * period * n
                            dcyc = q * (c - cand_c)
                            c += dcyc
                            last_retire += dcyc
                            free, ts = _restore_state(
                                full[new], c, a, n, m, base, umax, users, issue, done,
                                rdy, loc, locv, okey, dep_head, dep_next, rq_head,
                                rq_tail, rq_next, rq_prev, rq_t, rq_ver, rr, busy, rbusy,
                                ru_idx, kit, kpos, cal, e_r, e_k, e_next, th,
                            )  # fmt: skip
                            e_top = e_next.shape[0]  # (the restore linked every entry)
                            nd = a + full[new, 0]
                            ret = a + full[new, 1]
                            d_it = nd // n
                            d_pos = nd - d_it * n
                            # buffer and queue use follow from the restored instances
                            buf_used[:] = 0
                            lq_used = 0
                            sq_used = 0
                            for kk in range(ret, nd):
                                ik = base + kpos[kk]
                                if issue[kk] < 0:
                                    rk = inst_row[ik]
                                    for x in range(buf_ptr[rk], buf_ptr[rk + 1]):
                                        buf_used[buf_id[x]] += 1
                                lq_used += is_load[ik]
                                sq_used += is_store[ik]
                            n_bfull = 0
                            for x in range(buf_size.shape[0]):
                                n_bfull += buf_used[x] >= buf_size[x]
                        steady = False
                    else:  # the later state is the likelier one to repeat
                        cand = new
                        cand_it = j
                        cand_c = c
                        cand_len = ln
            else:
                for e in range(min(n_sig, _SIG_RING)):
                    same = True
                    for i in range(6):
                        if sig[e, i] != now[i]:
                            same = False
                            break
                    if same:
                        cand = 0
                        cand_it = j
                        cand_c = c
                        cand_len = _state_vector(
                            full[0], c, a, n, ret, nd, rob_used, carry, issue, done,
                            rdy, loc, locv, rq_head, rq_t, rr, busy, lmax,
                        )  # fmt: skip
                        for i in range(6):
                            cand_sig[i] = now[i]
                        n_full += 1
                        break
            e = n_sig % _SIG_RING
            for i in range(6):
                sig[e, i] = now[i]
            n_sig += 1
            if n_full >= _MAX_FULL:
                steady = False
        progressed = False
        # 1. retire
        while ret < nd and issue[ret] >= 0 and done[ret] < c:
            ir = base + kpos[ret]
            rob_used -= uops[inst_row[ir]]
            lq_used -= is_load[ir]
            sq_used -= is_store[ir]
            ret += 1
            last_retire = c
            progressed = True
            if extrapolate and ret % n == 0:
                it = ret // n - 1
                iter_ret[it] = c
                if it >= 8:
                    total = _extrapolate(iter_ret, it, iterations)
                    if total >= 0:
                        return float(total + 1)
        if ret >= m:
            break
        # 2. issue: this cycle's timers, in scheduling order (a producer issued now
        # may wake a later-ordered consumer in this same cycle, as in a scan)
        ncur = 0
        if ts > 0 and th[0] <= c:
            while ts > 0 and th[0] <= c:
                # pop the time heap (inlined by hand, see the module docstring)
                ts -= 1
                _t = th[ts]
                _i = 0
                while True:
                    _ch = 2 * _i + 1
                    if _ch >= ts:
                        break
                    if _ch + 1 < ts and th[_ch + 1] < th[_ch]:
                        _ch += 1
                    if th[_ch] < _t:
                        th[_i] = th[_ch]
                        _i = _ch
                    else:
                        break
                th[_i] = _t
            slot = c & (cal_size - 1)
            e = cal[slot]
            cal[slot] = -1
            while e >= 0:
                en = e_next[e]
                # insert (e_r[e], e_k[e]) into this cycle's sorted cur[0:ncur] (inlined by hand)
                _rr = e_r[e]
                _kk = e_k[e]
                _i = ncur
                while _i > 0 and cur_r[_i - 1] > _rr:
                    cur_r[_i] = cur_r[_i - 1]
                    cur_k[_i] = cur_k[_i - 1]
                    _i -= 1
                cur_r[_i] = _rr
                cur_k[_i] = _kk
                ncur += 1
                e_next[e] = free
                free = e
                e = en
        icur = 0
        while icur < ncur:
            if free < 0:
                free, e_top = _refill(cal, e_k, e_next, free, rq_ver, e_top)
            kr = cur_r[icur]
            k = cur_k[icur]
            icur += 1
            from_rq = -1
            if k < 0:  # a resource queue's proxy: check its head
                code = -1 - k
                rid = code & _RQ_MASK
                if (code >> _RQ_BITS) != rq_ver[rid] or rq_head[rid] < 0:
                    continue
                k = rq_head[rid]
                from_rq = rid
                rq_ver[rid] += 1
                nh = rq_next[k]
                rq_head[rid] = nh
                if nh < 0:
                    rq_tail[rid] = -1
                else:
                    rq_prev[nh] = -1
            it = kit[k]
            i = base + kpos[k]
            row = inst_row[i]
            t = rdy[k]
            if t < 0:
                t, wait_on = _operands(
                    it, i, row, n, base, issue, inst_row, lat, ra, rd_ptr, rd_pos, rd_dist,
                    rd_lofs, rd_kind, store_forward, store_forward_fail, store_forward_stack,
                )  # fmt: skip
                if wait_on >= 0:  # park on the producer; it wakes k when it issues
                    dep_next[k] = dep_head[wait_on]
                    dep_head[wait_on] = k
                    loc[k] = _LOC_DEP
                    locv[k] = wait_on
                    continue
                rdy[k] = t
            if t > c:
                # _cal_push(..., t, kr, k), inlined by hand
                _slot = (t) & (cal.shape[0] - 1)
                _e = free
                free = e_next[_e]
                e_r[_e] = kr
                e_k[_e] = k
                _h = cal[_slot]
                if _h < 0:
                    _tt = t
                    _i = ts
                    while _i > 0:
                        _par = (_i - 1) >> 1
                        if th[_par] <= _tt:
                            break
                        th[_i] = th[_par]
                        _i = _par
                    th[_i] = _tt
                    ts += 1
                e_next[_e] = _h
                cal[_slot] = _e
                loc[k] = _LOC_TIMER
                locv[k] = t
                continue
            if is_store[i]:
                wait_on = -1
                if ps_pos[i] >= 0:
                    pit = it - ps_dist[i]
                    if pit >= 0:
                        p = pit * n + ps_pos[i]
                        if issue[p] < 0:
                            wait_on = p
                if wait_on < 0 and pl_pos[i] >= 0:
                    pit = it - pl_dist[i]
                    if pit >= 0:
                        p = pit * n + pl_pos[i]
                        if issue[p] < 0:
                            wait_on = p
                if wait_on >= 0:
                    dep_next[k] = dep_head[wait_on]
                    dep_head[wait_on] = k
                    loc[k] = _LOC_DEP
                    locv[k] = wait_on
                    continue
            # resources: a free unit for each use, all or nothing, chosen as llvm-mca's
            # ResourceManager does: among the resource's ready units (free, not taken
            # by this instruction's earlier uses) the highest one still in the
            # resource's sequence; taking a unit removes it from the sequence of every
            # resource containing it (DefaultResourceStrategy::select / used).
            nch = 0
            nsv = 0
            wake = -1
            wres = -1
            stamp += 1  # units this check takes: taken[u] == stamp
            jlast = res_ptr[row + 1] - 1
            if any_rs:  # (else no resource is ever reserved: rr[3r+2] stays 0)
                for j in range(rs_ptr[row], rs_ptr[row + 1]):
                    # a group this instruction reserves whole must not be reserved now
                    if rr[3 * rs_id[j] + 2] > c:
                        wake = rr[3 * rs_id[j] + 2]
                        break
            for j in range(res_ptr[row], res_ptr[row + 1]):
                if wake >= 0:
                    break
                rid = res_id[j]
                lo = ru_ptr[rid]
                cnt = ru_ptr[rid + 1] - lo
                if any_rs and rr[3 * rid + 2] > c:  # reserved whole by another instruction
                    wake = rr[3 * rid + 2]
                    break
                uready = np.int64(0)
                # (no branch: which units are free is unpredictable)
                if nch == 0:
                    for s_ in range(cnt):
                        uready |= np.int64(rbusy[lo + s_] <= c) << s_
                else:
                    for s_ in range(cnt):
                        uu = ru_idx[lo + s_]
                        uready |= np.int64((rbusy[lo + s_] <= c) & (taken[uu] != stamp)) << s_
                if uready == 0:
                    tmin = rbusy[lo]
                    for s_ in range(1, cnt):
                        if rbusy[lo + s_] < tmin:
                            tmin = rbusy[lo + s_]
                    # Busy times only grow, so no unit of rid frees before tmin (if
                    # the free units were all taken by this instruction's own
                    # earlier uses, retry next cycle).
                    wake = tmin if tmin > c else c + 1
                    wres = rid if tmin > c else -1
                    break
                # The selection state changed below is saved for a later use's failure
                # (a check that fails leaves no trace); the last use cannot fail after it.
                # (The selection words are read into locals and written back once:
                # the compiler cannot tell rr from the other workspace arrays apart,
                # so every store would make it read them again.)
                save = j < jlast
                r0 = rr[3 * rid]
                r1 = rr[3 * rid + 1]
                if save:
                    svr[nsv] = 3 * rid
                    svv[nsv] = r0
                    svr[nsv + 1] = 3 * rid + 1
                    svv[nsv + 1] = r1
                    nsv += 2
                cmask = uready & r0
                if cmask == 0:
                    r0 = ru_all[rid] ^ r1
                    r1 = 0
                    cmask = uready & r0
                    if cmask == 0:
                        r0 = ru_all[rid]
                        cmask = uready
                hb = _msb(cmask)  # highest set bit of cmask (> 0)
                bit = np.int64(1) << hb
                rr[3 * rid] = r0 & (bit | (bit - 1))
                rr[3 * rid + 1] = r1
                found = ru_idx[lo + hb]
                # the unit is taken: every resource containing it marks it used
                for x in range(bur_ptr[found], bur_ptr[found + 1]):
                    g = bur_res[x]
                    gb = np.int64(1) << bur_pos[x]
                    g0 = rr[3 * g]
                    g1 = rr[3 * g + 1]
                    if save:
                        svr[nsv] = 3 * g
                        svv[nsv] = g0
                        svr[nsv + 1] = 3 * g + 1
                        svv[nsv + 1] = g1
                        nsv += 2
                    if gb > g0:
                        rr[3 * g + 1] = g1 | gb
                    else:
                        g0 &= ~gb
                        if g0 == 0:
                            rr[3 * g] = ru_all[g] ^ g1
                            rr[3 * g + 1] = 0
                        else:
                            rr[3 * g] = g0
                taken[found] = stamp
                chosen[nch] = found
                nch += 1
            if wake >= 0:
                # A failed check leaves no trace (llvm-mca selects units only when
                # an instruction issues).
                for q in range(nsv - 1, -1, -1):
                    rr[svr[q]] = svv[q]
                if wres < 0:
                    # _cal_push(..., wake, kr, k), inlined by hand
                    _slot = (wake) & (cal.shape[0] - 1)
                    _e = free
                    free = e_next[_e]
                    e_r[_e] = kr
                    e_k[_e] = k
                    _h = cal[_slot]
                    if _h < 0:
                        _tt = wake
                        _i = ts
                        while _i > 0:
                            _par = (_i - 1) >> 1
                            if th[_par] <= _tt:
                                break
                            th[_i] = th[_par]
                            _i = _par
                        th[_i] = _tt
                        ts += 1
                    e_next[_e] = _h
                    cal[_slot] = _e
                    loc[k] = _LOC_TIMER
                    locv[k] = wake
                else:
                    loc[k] = _LOC_RQ
                    locv[k] = wres
                    # Queue on the full resource, in scheduling order (from the tail:
                    # newcomers are usually the youngest).
                    a = -1 if from_rq == wres else rq_tail[wres]  # was the head
                    while a >= 0 and okey[a] > kr:
                        a = rq_prev[a]
                    rq_prev[k] = a
                    if a < 0:
                        nh = rq_head[wres]
                        rq_head[wres] = k
                    else:
                        nh = rq_next[a]
                        rq_next[a] = k
                    rq_next[k] = nh
                    if nh < 0:
                        rq_tail[wres] = k
                    else:
                        rq_prev[nh] = k
                    if a < 0:  # new head: new proxy at the first cycle a unit frees
                        rq_ver[wres] += 1
                        rq_t[wres] = wake
                        code = -1 - ((rq_ver[wres] << _RQ_BITS) | wres)
                        # _cal_push(..., wake, kr, code), inlined by hand
                        _slot = (wake) & (cal.shape[0] - 1)
                        _e = free
                        free = e_next[_e]
                        e_r[_e] = kr
                        e_k[_e] = code
                        _h = cal[_slot]
                        if _h < 0:
                            _tt = wake
                            _i = ts
                            while _i > 0:
                                _par = (_i - 1) >> 1
                                if th[_par] <= _tt:
                                    break
                                th[_i] = th[_par]
                                _i = _par
                            th[_i] = _tt
                            ts += 1
                        e_next[_e] = _h
                        cal[_slot] = _e
                if from_rq >= 0 and from_rq != wres and rq_head[from_rq] >= 0:
                    # the queue's next instance gets its proxy now (this cycle)
                    rq_ver[from_rq] += 1
                    rq_t[from_rq] = c
                    code = -1 - ((rq_ver[from_rq] << _RQ_BITS) | from_rq)
                    # insert (head key, proxy) into this cycle's sorted cur[icur:ncur] (inlined)
                    _rr = okey[rq_head[from_rq]]
                    _kk = code
                    _i = ncur
                    while _i > icur and cur_r[_i - 1] > _rr:
                        cur_r[_i] = cur_r[_i - 1]
                        cur_k[_i] = cur_k[_i - 1]
                        _i -= 1
                    cur_r[_i] = _rr
                    cur_k[_i] = _kk
                    ncur += 1
                continue
            q = 0
            for j in range(res_ptr[row], res_ptr[row + 1]):
                if q < nch:
                    u = chosen[q]
                    tb = c + res_cyc[j]
                    busy[u] = tb
                    for x in range(bof_ptr[u], bof_ptr[u + 1]):
                        rbusy[bof_off[x]] = tb
                    q += 1
            for j in range(rs_ptr[row], rs_ptr[row + 1]):
                rr[3 * rs_id[j] + 2] = c + rs_cyc[j]
            issue[k] = c
            done[k] = c + lat[row]
            for x in range(buf_ptr[row], buf_ptr[row + 1]):
                bx = buf_id[x]
                bu = buf_used[bx]
                n_bfull -= bu == buf_size[bx]
                buf_used[bx] = bu - 1
            progressed = True
            if from_rq >= 0 and rq_head[from_rq] >= 0:
                # the queue's next instance may take another unit now
                rq_ver[from_rq] += 1
                rq_t[from_rq] = c
                code = -1 - ((rq_ver[from_rq] << _RQ_BITS) | from_rq)
                # insert (head key, proxy) into this cycle's sorted cur[icur:ncur] (inlined)
                _rr = okey[rq_head[from_rq]]
                _kk = code
                _i = ncur
                while _i > icur and cur_r[_i - 1] > _rr:
                    cur_r[_i] = cur_r[_i - 1]
                    cur_k[_i] = cur_k[_i - 1]
                    _i -= 1
                cur_r[_i] = _rr
                cur_k[_i] = _kk
                ncur += 1
            # Wake the instances parked on k: those after k in scheduling order are
            # checked later in this cycle, the others (already passed) next cycle.
            d = dep_head[k]
            while d >= 0:
                dn = dep_next[d]
                dr = okey[d]
                cc = c if dr > kr else c + 1
                # Resolve d's operands now: its producers' issue cycles are final, so
                # this gives what its check at cycle cc would (module docstring).
                dit = kit[d]
                di = base + kpos[d]
                drow = inst_row[di]
                td, wait_d = _operands(
                    dit, di, drow, n, base, issue, inst_row, lat, ra, rd_ptr, rd_pos,
                    rd_dist, rd_lofs, rd_kind, store_forward, store_forward_fail,
                    store_forward_stack,
                )  # fmt: skip
                if wait_d >= 0:  # park on the next unissued producer
                    dep_next[d] = dep_head[wait_d]
                    dep_head[wait_d] = d
                    locv[d] = wait_d
                    d = dn
                    continue
                rdy[d] = td
                loc[d] = _LOC_TIMER
                if td > cc:
                    if free < 0:
                        free, e_top = _refill(cal, e_k, e_next, free, rq_ver, e_top)
                    # _cal_push(..., td, dr, d), inlined by hand
                    _slot = (td) & (cal.shape[0] - 1)
                    _e = free
                    free = e_next[_e]
                    e_r[_e] = dr
                    e_k[_e] = d
                    _h = cal[_slot]
                    if _h < 0:
                        _tt = td
                        _i = ts
                        while _i > 0:
                            _par = (_i - 1) >> 1
                            if th[_par] <= _tt:
                                break
                            th[_i] = th[_par]
                            _i = _par
                        th[_i] = _tt
                        ts += 1
                    e_next[_e] = _h
                    cal[_slot] = _e
                    locv[d] = td
                elif dr > kr:
                    # insert (dr, d) into this cycle's sorted cur[icur:ncur] (inlined by hand)
                    _rr = dr
                    _kk = d
                    _i = ncur
                    while _i > icur and cur_r[_i - 1] > _rr:
                        cur_r[_i] = cur_r[_i - 1]
                        cur_k[_i] = cur_k[_i - 1]
                        _i -= 1
                    cur_r[_i] = _rr
                    cur_k[_i] = _kk
                    ncur += 1
                    locv[d] = c
                else:
                    if free < 0:
                        free, e_top = _refill(cal, e_k, e_next, free, rq_ver, e_top)
                    # _cal_push(..., c + 1, dr, d), inlined by hand
                    _slot = (c + 1) & (cal.shape[0] - 1)
                    _e = free
                    free = e_next[_e]
                    e_r[_e] = dr
                    e_k[_e] = d
                    _h = cal[_slot]
                    if _h < 0:
                        _tt = c + 1
                        _i = ts
                        while _i > 0:
                            _par = (_i - 1) >> 1
                            if th[_par] <= _tt:
                                break
                            th[_i] = th[_par]
                            _i = _par
                        th[_i] = _tt
                        ts += 1
                    e_next[_e] = _h
                    cal[_slot] = _e
                    locv[d] = c + 1
                d = dn
            dep_head[k] = -1
        # 3. dispatch
        if carry > 0:
            avail = 0 if carry >= dispatch_width else dispatch_width - carry
            carry -= dispatch_width - avail
        else:
            avail = dispatch_width
        wblk = False
        while nd < m:
            i = base + d_pos
            row = inst_row[i]
            u = uops[row]
            req = u if u < dispatch_width else dispatch_width
            if req > avail:
                wblk = True  # slots free up next cycle: that cycle is not idle
                break
            q = u if u < rob_size else rob_size
            if rob_used > 0 and rob_used + q > rob_size:
                break
            # a full scheduler buffer it needs, or a full load / store queue, stalls
            # dispatch until an issue (a retirement) frees an entry
            stall = (lq_size > 0 and is_load[i] and lq_used >= lq_size) or (
                sq_size > 0 and is_store[i] and sq_used >= sq_size
            )
            if n_bfull > 0:
                for x in range(buf_ptr[row], buf_ptr[row + 1]):
                    stall |= buf_used[buf_id[x]] >= buf_size[buf_id[x]]
            if stall:
                break
            for x in range(buf_ptr[row], buf_ptr[row + 1]):
                bx = buf_id[x]
                bu = buf_used[bx] + 1
                buf_used[bx] = bu
                n_bfull += bu == buf_size[bx]
            lq_used += is_load[i]
            sq_used += is_store[i]
            rob_used += u
            if u > dispatch_width:
                carry = u - dispatch_width
                avail = 0
            else:
                avail -= u
            progressed = True
            k = nd
            nd += 1
            kit[k] = d_it
            kpos[k] = d_pos
            it = d_it
            d_pos += 1
            if d_pos == n:
                d_pos = 0
                d_it += 1
            issue[k] = -1
            rdy[k] = -1
            dep_head[k] = -1
            loc[k] = 0
            locv[k] = 0
            okey[k] = (k - users[i] + umax) * m + k
            # Operands resolved now: those issued have final cycles, and an unissued
            # producer can issue at c + 1 at the earliest, when it wakes k, so k's check
            # at c + 1 would see the same (module docstring).
            if elim[i]:
                # An eliminated register move: executed at dispatch, no operands (its
                # readers read its source's producer), no resources.
                issue[k] = c
                done[k] = c
                for x in range(buf_ptr[row], buf_ptr[row + 1]):
                    bx = buf_id[x]
                    bu = buf_used[bx]
                    n_bfull -= bu == buf_size[bx]
                    buf_used[bx] = bu - 1
                continue
            t, wait_on = _operands(
                it, i, row, n, base, issue, inst_row, lat, ra, rd_ptr, rd_pos, rd_dist,
                rd_lofs, rd_kind, store_forward, store_forward_fail, store_forward_stack,
            )  # fmt: skip
            if wait_on >= 0:
                dep_next[k] = dep_head[wait_on]
                dep_head[wait_on] = k
                loc[k] = _LOC_DEP
                locv[k] = wait_on
                continue
            rdy[k] = t
            if lat[row] == 0 and res_ptr[row + 1] == res_ptr[row] and t <= c:
                # "must issue immediately" if store order allows: no resources to check
                ok = True
                if is_store[i]:
                    if ps_pos[i] >= 0:
                        pit = it - ps_dist[i]
                        if pit >= 0 and issue[pit * n + ps_pos[i]] < 0:
                            ok = False
                    if pl_pos[i] >= 0:
                        pit = it - pl_dist[i]
                        if pit >= 0 and issue[pit * n + pl_pos[i]] < 0:
                            ok = False
                if ok:
                    issue[k] = c
                    done[k] = c
                    for x in range(buf_ptr[row], buf_ptr[row + 1]):
                        bx = buf_id[x]
                        bu = buf_used[bx]
                        n_bfull -= bu == buf_size[bx]
                        buf_used[bx] = bu - 1
                    continue
            tk = t if t > c + 1 else c + 1
            if free < 0:
                free, e_top = _refill(cal, e_k, e_next, free, rq_ver, e_top)
            # _cal_push(..., tk, okey[k], k), inlined by hand
            _slot = (tk) & (cal.shape[0] - 1)
            _e = free
            free = e_next[_e]
            e_r[_e] = okey[k]
            e_k[_e] = k
            _h = cal[_slot]
            if _h < 0:
                _tt = tk
                _i = ts
                while _i > 0:
                    _par = (_i - 1) >> 1
                    if th[_par] <= _tt:
                        break
                    th[_i] = th[_par]
                    _i = _par
                th[_i] = _tt
                ts += 1
            e_next[_e] = _h
            cal[_slot] = _e
            loc[k] = _LOC_TIMER
            locv[k] = tk
        # Next cycle: skip cycles in which nothing can happen. Dispatch blocked by
        # width (or a multi-uop carry) changes next cycle; blocked by the ROB, it
        # waits for a retirement.
        if progressed or carry > 0 or wblk:
            c += 1
        else:
            ev = _INF
            if ts > 0:
                ev = th[0]
            if ret < nd and issue[ret] >= 0 and done[ret] + 1 < ev:
                ev = done[ret] + 1
            c = ev if ev > c + 1 and ev < _INF else c + 1
    return float(last_retire + 1)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _horizon(blocks: BlockArrays, table: TableArrays, config: KernelConfig) -> int:
    """How far ahead of the current cycle any timer can be set, in cycles."""
    # No timer is set further ahead than an operand-ready cycle (a latency, plus a
    # negative fixed ReadAdvance folded into rd_lofs, plus the store-forwarding
    # latency of the opt-in memory model) or a unit's busy time.
    max_lat = 0
    for x in table.lat:
        max_lat = max(max_lat, x)
    max_cyc = 0
    for x in table.res_cyc:
        max_cyc = max(max_cyc, x)
    max_ofs = 0
    for x in blocks.rd_lofs:
        max_ofs = max(max_ofs, x)
    forward = max(config.store_forward, config.store_forward_fail, config.store_forward_stack, 0)
    return max_lat + max_ofs + max_cyc + forward + 2


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _workspace_size(
    blocks: BlockArrays, table: TableArrays, config: KernelConfig, horizon: int
) -> tuple[int, int, int]:
    """(int64 words of workspace simulate_block needs for any block of the batch, the
    most resource uses of a table row, the most resources containing a unit)."""
    max_n = 0
    for b in range(blocks.blk_ptr.shape[0] - 1):
        max_n = max(max_n, blocks.blk_ptr[b + 1] - blocks.blk_ptr[b])
    m = max_n * config.iterations
    n_res = table.ru_ptr.shape[0] - 1
    n_u = table.ur_ptr.shape[0] - 1
    n_units = config.n_units
    max_uses = 1
    for x in range(table.res_ptr.shape[0] - 1):
        max_uses = max(max_uses, table.res_ptr[x + 1] - table.res_ptr[x])
    max_in = 1
    for u in range(n_u):
        max_in = max(max_in, table.ur_ptr[u + 1] - table.ur_ptr[u])
    cal_size = 1
    while cal_size <= horizon:
        cal_size *= 2
    cap = 2 * m + 2 * n_res + 64
    vlen = 4 + 4 * n_res + n_units + 3 * m
    words = (
        13 * m  # kit, kpos, issue, done, rdy, dep_head/next, rq_next/prev, okey, loc, locv
        + 2 * cal_size
        + 1
        + 3 * cap
        + 2 * (cap + m + n_res)
        + config.iterations
        + 4 * n_res  # rq_head, rq_tail, rq_ver, rq_t
        + n_units  # busy
        + table.ru_ptr[n_res]  # rbusy
        + n_u
        + 1
        + table.ur_ptr[n_u]  # bof_ptr, bof_off
        + table.buf_size.shape[0]
        + 4 * n_res  # rr, ru_all
        + max_uses
        + n_units  # taken
        + 4 * max_uses * (max_in + 1)
        + n_res  # rused
        + n_u
        + 1
        + 2 * table.ur_ptr[n_u]
        + _SIG_RING * 6
        + 12  # now, cand_sig
        + 3 * n_res
        + n_units  # signature powers
        + n_res
        + n_units  # sig_r, sig_u
        + 2 * vlen
    )
    return words, max_uses, max_in


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _workspace(words: int, table: TableArrays, config: KernelConfig) -> np.ndarray:
    """A workspace of ``words`` int64 for simulate_block, its head set: the powers of
    :func:`_signature`'s hash for resources (3 per resource), then for units."""
    ws = np.empty(words, np.int64)
    n_res = table.ru_ptr.shape[0] - 1
    _sig_powers(ws[0 : 3 * n_res])
    _sig_powers(ws[3 * n_res : 3 * n_res + config.n_units])
    return ws


@nb.njit(cache=True, parallel=True)
def simulate_batch(
    blocks: BlockArrays, table: TableArrays, config: KernelConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Total cycles of every block, float64 [n_blocks], and the iterations of each that
    the steady-state jump skipped, int64 [n_blocks] (numba threads over blocks, in
    chunks: one workspace per chunk)."""
    nb_blocks = blocks.blk_ptr.shape[0] - 1
    out = np.empty(nb_blocks)
    skipped = np.zeros(nb_blocks, np.int64)
    horizon = _horizon(blocks, table, config)
    words, max_uses, max_in = _workspace_size(blocks, table, config, horizon)
    n_chunks = min(nb_blocks, 256)  # (a fixed count: get_num_threads() stops caching)
    for ch in nb.prange(n_chunks):
        ws = _workspace(words, table, config)
        for b in range(ch * nb_blocks // n_chunks, (ch + 1) * nb_blocks // n_chunks):
            out[b] = simulate_block(
                b, blocks, table, config, horizon, skipped, ws, max_uses, max_in
            )
    return out, skipped


@nb.njit(cache=True, nogil=True, error_model="numpy")
def simulate_batch_serial(
    blocks: BlockArrays, table: TableArrays, config: KernelConfig
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`simulate_batch` on the calling thread: no threading layer involved (one
    job, or a process forked from one whose OpenMP layer cannot run after a fork)."""
    nb_blocks = blocks.blk_ptr.shape[0] - 1
    out = np.empty(nb_blocks)
    skipped = np.zeros(nb_blocks, np.int64)
    horizon = _horizon(blocks, table, config)
    words, max_uses, max_in = _workspace_size(blocks, table, config, horizon)
    ws = _workspace(words, table, config)
    for b in range(nb_blocks):
        out[b] = simulate_block(b, blocks, table, config, horizon, skipped, ws, max_uses, max_in)
    return out, skipped


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _extrapolate(iter_ret: np.ndarray, it: int, iterations: int) -> int:
    """Retire cycle of the last iteration if iterations it-3P..it are periodic, else -1.

    Periodic: iter_ret[j] - iter_ret[j-P] is the same for the last three periods
    (P = 1..4). The remaining iterations then follow the same pattern.
    """
    if it >= iterations - 1:
        return -1
    for p in range(1, 5):
        if it - 3 * p < 4:
            break
        d = iter_ret[it] - iter_ret[it - p]
        ok = True
        for j in range(it - 3 * p + p, it + 1):
            if iter_ret[j] - iter_ret[j - p] != d:
                ok = False
                break
        if ok:
            rest = iterations - 1 - it
            q = rest // p
            r = rest % p
            if r == 0:
                return iter_ret[it] + q * d
            return iter_ret[it - p + r] + (q + 1) * d
    return -1
