"""The blocksim kernel: a cycle-level model of llvm-mca's out-of-order pipeline.

One call simulates a batch of basic blocks, each repeated ``iterations`` times, over
flat arrays (numba ``@njit``). Per cycle, in llvm-mca's stage order:

1. Retire: in program order, every instruction whose execution finished in an earlier
   cycle leaves the reorder buffer (no retire-width limit).
2. Issue: in llvm-mca's order (age minus number of users, then age), an instruction
   dispatched in an earlier cycle issues when
   - each register source is ready: producer's issue cycle + max(0, producer latency
     - ReadAdvance) (ReadAdvance only for explicit sources; 0 for addresses/implicit);
     a reader of a partial (8/16-bit) write also waits for the old value's producer
     plus the partial write's latency (llvm-mca's false dependency),
   - (stores) the previous store and the previous load have issued, possibly in
     the same cycle (llvm-mca's LSUnit with -noalias: loads never wait for stores),
   - every resource it uses has a free unit: units first, then groups by size; a
     use of c cycles holds the chosen unit for c cycles (round-robin among free units;
     the round-robin position only moves when the instruction issues, as llvm-mca's
     resource selection happens at issue, not when a check fails; except when the
     free units were all taken by the instruction's own other uses, which rotates).
   It finishes after ``latency`` cycles.
3. Dispatch: in order, up to ``dispatch_width`` micro-ops per cycle (an instruction
   with more micro-ops needs a whole empty group and carries the rest over to the
   next cycles), if the reorder buffer has room for its micro-ops. An instruction with
   zero latency and no resources issues in its dispatch cycle (llvm-mca's
   "must issue immediately").

Total cycles = the cycle of the last retirement + 1, as llvm-mca's "Total Cycles".

The scheduler is event driven, so the cost is per instruction, not per waiting
instruction per cycle (the first version rescanned every waiting instruction each
cycle). A waiting instance is in exactly one place: on a timer (operands ready at a
known cycle, or "next cycle") in a heap ordered by (cycle, scheduling order); parked
on the unissued producer it waits for, which wakes it when it issues; or in the queue
of the resource it found full, whose oldest member alone is re-checked when a unit
frees (the next one only after it issued). Checks that fail have no side effects
(but the rotation above), so checking an instance only when it can have become
issuable gives exactly the cycle-by-cycle result; tests/test_blocksim.py compares
with a plain cycle-by-cycle scan. Cycles in which nothing can happen (no timer due,
no retirement, dispatch not waiting for the next cycle's slots) are skipped.
"""

from __future__ import annotations

import numba as nb
import numpy as np

_INF = np.int64(1) << np.int64(60)


@nb.njit(cache=True, nogil=True)
def _push(ht: np.ndarray, hr: np.ndarray, hk: np.ndarray, size: int, t: int, r: int, k: int) -> int:
    """Push (t, r, k) on the binary min-heap ordered by (t, r); returns the new size."""
    i = size
    while i > 0:
        par = (i - 1) >> 1
        tp = ht[par]
        if tp < t or (tp == t and hr[par] <= r):
            break
        ht[i] = tp
        hr[i] = hr[par]
        hk[i] = hk[par]
        i = par
    ht[i] = t
    hr[i] = r
    hk[i] = k
    return size + 1


@nb.njit(cache=True, nogil=True)
def _pop(ht: np.ndarray, hr: np.ndarray, hk: np.ndarray, size: int) -> int:
    """Remove the heap's top (read it first); returns the new size."""
    size -= 1
    t = ht[size]
    r = hr[size]
    k = hk[size]
    i = 0
    while True:
        ch = 2 * i + 1
        if ch >= size:
            break
        if ch + 1 < size and (
            ht[ch + 1] < ht[ch] or (ht[ch + 1] == ht[ch] and hr[ch + 1] < hr[ch])
        ):
            ch += 1
        if ht[ch] < t or (ht[ch] == t and hr[ch] < r):
            ht[i] = ht[ch]
            hr[i] = hr[ch]
            hk[i] = hk[ch]
            i = ch
        else:
            break
    ht[i] = t
    hr[i] = r
    hk[i] = k
    return size


@nb.njit(cache=True, nogil=True)
def _compact(
    ht: np.ndarray, hr: np.ndarray, hk: np.ndarray, size: int, rq_ver: np.ndarray, n_res: int
) -> int:
    """Drop stale resource-queue proxies from the heap and rebuild it; the new size."""
    j = 0
    for i in range(size):
        k = hk[i]
        if k < 0 and (-1 - k) // n_res != rq_ver[(-1 - k) % n_res]:
            continue
        t = ht[i]
        r = hr[i]
        # Entries 0..j-1 already form a heap; inserting entry i only writes at <= j.
        j = _push(ht, hr, hk, j, t, r, k)
    return j


@nb.njit(cache=True, nogil=True)
def _rq_proxy(
    ht: np.ndarray,
    hr: np.ndarray,
    hk: np.ndarray,
    hs: int,
    t: int,
    rid: int,
    rq_head: np.ndarray,
    rq_ver: np.ndarray,
    okey: np.ndarray,
    n_res: int,
) -> int:
    """Push a fresh proxy for resource queue ``rid`` at cycle ``t`` (if non-empty)."""
    h = rq_head[rid]
    if h < 0:
        return hs
    rq_ver[rid] += 1
    return _push(ht, hr, hk, hs, t, okey[h], -1 - (rq_ver[rid] * n_res + rid))


@nb.njit(cache=True, nogil=True)
def simulate_block(
    b: int,
    iterations: int,
    dispatch_width: int,
    rob_size: int,
    blk_ptr: np.ndarray,
    inst_row: np.ndarray,
    rd_ptr: np.ndarray,
    rd_pos: np.ndarray,
    rd_dist: np.ndarray,
    rd_adv: np.ndarray,
    is_store: np.ndarray,
    ps_pos: np.ndarray,
    ps_dist: np.ndarray,
    pl_pos: np.ndarray,
    pl_dist: np.ndarray,
    mg_ptr: np.ndarray,
    mg_pos: np.ndarray,
    mg_dist: np.ndarray,
    users: np.ndarray,
    lat: np.ndarray,
    uops: np.ndarray,
    ra: np.ndarray,
    res_ptr: np.ndarray,
    res_id: np.ndarray,
    res_cyc: np.ndarray,
    ru_ptr: np.ndarray,
    ru_idx: np.ndarray,
    n_units: int,
    extrapolate: bool,
) -> float:
    """Total cycles of block ``b`` (instructions blk_ptr[b]:blk_ptr[b+1]).

    With ``extrapolate``, the run stops once the retirement cycles of whole iterations
    repeat with a period of 1-4 iterations for three periods, and the rest is
    extrapolated (see :func:`_extrapolate`): approximate, off by default.

    Per-instruction arrays are indexed by global instruction index; ``rd_*`` by read
    index (CSR through ``rd_ptr``); table arrays by table row; ``res_*`` (CSR through
    ``res_ptr``) by row, ``ru_*`` (CSR) by resource.
    """
    base = blk_ptr[b]
    n = blk_ptr[b + 1] - base
    if n <= 0:
        return np.nan
    m = n * iterations
    issue = np.full(m, -1, np.int64)  # issue cycle, -1 = not issued
    done = np.zeros(m, np.int64)  # cycle the execution finishes
    rdy = np.full(m, -1, np.int64)  # operand-ready cycle once all producers issued
    # Instances waiting for an unissued producer p: linked list dep_head[p] -> dep_next.
    dep_head = np.full(m, -1, np.int64)
    dep_next = np.empty(m, np.int64)
    # Timer heap of (cycle, order key, instance). Order key = llvm-mca's scheduling
    # order (age - users, then age) made non-negative: (k - users + umax) * m + k.
    # At most m instances plus one valid proxy per resource queue (below) are live in
    # the heap; stale proxies (at most `stale_max` since the last compaction) come on
    # top, and are dropped by compaction before they could overflow it.
    n_res = ru_ptr.shape[0] - 1
    stale_max = m + 16
    cap = m + n_res + stale_max + 8
    ht = np.empty(cap, np.int64)
    hr = np.empty(cap, np.int64)
    hk = np.empty(cap, np.int64)
    hs = 0
    nstale = 0  # proxies made stale since the last compaction (an upper bound)
    umax = 0
    for p in range(n):
        if users[base + p] > umax:
            umax = users[base + p]
    iter_ret = np.zeros(iterations, np.int64)  # for the approximate `extrapolate`
    # Instances that found resource rid full wait in rid's queue (doubly linked, in
    # scheduling order) instead of on a timer: when a unit frees, only the queue's
    # head is checked, and the next one only if the head issued, not every waiting
    # instance. One "proxy" heap entry per non-empty queue, (cycle, head key,
    # -1 - (version * n_res + rid)); a proxy whose version is stale is dropped.
    rq_head = np.full(n_res, -1, np.int64)
    rq_tail = np.full(n_res, -1, np.int64)
    rq_ver = np.zeros(n_res, np.int64)
    rq_next = np.empty(m, np.int64)
    rq_prev = np.empty(m, np.int64)
    okey = np.empty(m, np.int64)  # scheduling-order key, set at dispatch
    busy = np.zeros(n_units, np.int64)
    rr = np.empty(n_res, np.int64)
    for r in range(n_res):
        rr[r] = ru_ptr[r + 1] - ru_ptr[r] - 1
    chosen = np.empty(64, np.int64)
    # Round-robin positions changed by a check, restored if the check fails.
    svr = np.empty(64, np.int64)
    svv = np.empty(64, np.int64)

    nd = 0
    ret = 0
    rob_used = 0
    carry = 0
    c = 0
    last_retire = 0
    while ret < m:
        progressed = False
        # 1. retire
        while ret < nd and issue[ret] >= 0 and done[ret] < c:
            rob_used -= uops[inst_row[base + ret % n]]
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
        # 2. issue: candidates due this cycle, in scheduling order (a producer issued
        # now may wake a later-ordered consumer in this same cycle, as in a scan)
        while hs > 0 and ht[0] <= c:
            if nstale >= stale_max:
                hs = _compact(ht, hr, hk, hs, rq_ver, n_res)
                nstale = 0
            kr = hr[0]
            k = hk[0]
            hs = _pop(ht, hr, hk, hs)
            from_rq = -1
            if k < 0:  # a resource queue's proxy: check its head
                code = -1 - k
                rid = code % n_res
                if code // n_res != rq_ver[rid] or rq_head[rid] < 0:
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
            it = k // n
            pos = k - it * n
            i = base + pos
            row = inst_row[i]
            t = rdy[k]
            if t < 0:
                t = 0
                wait_on = -1
                for r in range(rd_ptr[i], rd_ptr[i + 1]):
                    pit = it - rd_dist[r]
                    if pit < 0:
                        continue
                    p = pit * n + rd_pos[r]
                    if issue[p] < 0:
                        wait_on = p
                        break
                    lp = lat[inst_row[base + rd_pos[r]]]
                    if rd_adv[r]:
                        lp -= ra[row]
                    if lp < 0:
                        lp = 0
                    if issue[p] + lp > t:
                        t = issue[p] + lp
                    ip = base + rd_pos[r]
                    for g in range(mg_ptr[ip], mg_ptr[ip + 1]):
                        git = pit - mg_dist[g]
                        if git < 0:
                            continue
                        q = git * n + mg_pos[g]
                        if issue[q] < 0:
                            wait_on = q
                            break
                        tq = issue[q] + lat[inst_row[base + mg_pos[g]]] + lat[inst_row[ip]]
                        if tq > t:
                            t = tq
                    if wait_on >= 0:
                        break
                if wait_on >= 0:  # park on the producer; it wakes k when it issues
                    dep_next[k] = dep_head[wait_on]
                    dep_head[wait_on] = k
                    continue
                rdy[k] = t
            if t > c:
                hs = _push(ht, hr, hk, hs, t, kr, k)
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
                    continue
            # resources: a free unit for each use, all or nothing
            nch = 0
            nsv = 0
            wake = -1
            wres = -1
            for j in range(res_ptr[row], res_ptr[row + 1]):
                rid = res_id[j]
                lo = ru_ptr[rid]
                cnt = ru_ptr[rid + 1] - lo
                found = -1
                for s in range(cnt):
                    pp = (rr[rid] - s) % cnt
                    uu = ru_idx[lo + pp]
                    if busy[uu] > c:
                        continue
                    dup = False
                    for q in range(nch):
                        if chosen[q] == uu:
                            dup = True
                            break
                    if not dup:
                        found = uu
                        if nsv < 64:
                            svr[nsv] = rid
                            svv[nsv] = rr[rid]
                            nsv += 1
                        rr[rid] = (pp - 1) % cnt
                        break
                if found < 0:
                    tmin = busy[ru_idx[lo]]
                    for s in range(1, cnt):
                        if busy[ru_idx[lo + s]] < tmin:
                            tmin = busy[ru_idx[lo + s]]
                    # Busy times only grow, so no unit of rid frees before tmin (if
                    # the free units were all taken by this instruction's own
                    # earlier uses, retry next cycle).
                    wake = tmin if tmin > c else c + 1
                    wres = rid if tmin > c else -1
                    break
                if nch < 64:
                    chosen[nch] = found
                    nch += 1
            if wake >= 0:
                if wres >= 0:
                    # A unit-full failure leaves no trace. A failure because this
                    # instruction's own uses took the free units keeps the moved
                    # round-robin positions, so the next try picks other units
                    # (restoring them could retry the same conflict forever).
                    for q in range(nsv - 1, -1, -1):
                        rr[svr[q]] = svv[q]
                if wres < 0:
                    hs = _push(ht, hr, hk, hs, wake, kr, k)
                else:
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
                        if nh >= 0:
                            nstale += 1  # the old head's proxy
                        rq_ver[wres] += 1
                        hs = _push(ht, hr, hk, hs, wake, kr, -1 - (rq_ver[wres] * n_res + wres))
                if from_rq >= 0 and from_rq != wres:
                    hs = _rq_proxy(ht, hr, hk, hs, c, from_rq, rq_head, rq_ver, okey, n_res)
                continue
            q = 0
            for j in range(res_ptr[row], res_ptr[row + 1]):
                if q < nch:
                    busy[chosen[q]] = c + res_cyc[j]
                    q += 1
            issue[k] = c
            done[k] = c + lat[row]
            progressed = True
            if from_rq >= 0:  # the queue's next instance may take another unit now
                hs = _rq_proxy(ht, hr, hk, hs, c, from_rq, rq_head, rq_ver, okey, n_res)
            # Wake the instances parked on k: those after k in scheduling order are
            # checked later in this cycle, the others (already passed) next cycle.
            d = dep_head[k]
            while d >= 0:
                dn = dep_next[d]
                dr = okey[d]
                hs = _push(ht, hr, hk, hs, c if dr > kr else c + 1, dr, d)
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
            row = inst_row[base + nd % n]
            u = uops[row]
            req = u if u < dispatch_width else dispatch_width
            if req > avail:
                wblk = True  # slots free up next cycle: that cycle is not idle
                break
            q = u if u < rob_size else rob_size
            if rob_used > 0 and rob_used + q > rob_size:
                break
            rob_used += u
            if u > dispatch_width:
                carry = u - dispatch_width
                avail = 0
            else:
                avail -= u
            progressed = True
            k = nd
            nd += 1
            okey[k] = (k - users[base + k % n] + umax) * m + k
            if lat[row] == 0 and res_ptr[row + 1] == res_ptr[row]:
                # "must issue immediately": operands (and store order) only
                it = k // n
                i = base + k - it * n
                ok = True
                t = 0
                for r in range(rd_ptr[i], rd_ptr[i + 1]):
                    pit = it - rd_dist[r]
                    if pit < 0:
                        continue
                    p = pit * n + rd_pos[r]
                    if issue[p] < 0:
                        ok = False
                        break
                    lp = lat[inst_row[base + rd_pos[r]]]
                    if rd_adv[r]:
                        lp -= ra[row]
                    if lp < 0:
                        lp = 0
                    if issue[p] + lp > t:
                        t = issue[p] + lp
                    ip = base + rd_pos[r]
                    for g in range(mg_ptr[ip], mg_ptr[ip + 1]):
                        git = pit - mg_dist[g]
                        if git < 0:
                            continue
                        qq = git * n + mg_pos[g]
                        if issue[qq] < 0:
                            ok = False
                            break
                        tq = issue[qq] + lat[inst_row[base + mg_pos[g]]] + lat[inst_row[ip]]
                        if tq > t:
                            t = tq
                    if not ok:
                        break
                if ok:
                    rdy[k] = t
                    if t > c:
                        ok = False
                if ok and is_store[i]:
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
                    continue
            hs = _push(ht, hr, hk, hs, c + 1, okey[k], k)
        # Next cycle: skip cycles in which nothing can happen. Dispatch blocked by
        # width (or a multi-uop carry) changes next cycle; blocked by the ROB, it
        # waits for a retirement.
        if progressed or carry > 0 or wblk:
            c += 1
        else:
            ev = _INF
            if hs > 0:
                ev = ht[0]
            if ret < nd and issue[ret] >= 0 and done[ret] + 1 < ev:
                ev = done[ret] + 1
            c = ev if ev > c + 1 and ev < _INF else c + 1
    return float(last_retire + 1)


@nb.njit(cache=True, parallel=True)
def simulate_batch(
    iterations: int,
    dispatch_width: int,
    rob_size: int,
    blk_ptr: np.ndarray,
    inst_row: np.ndarray,
    rd_ptr: np.ndarray,
    rd_pos: np.ndarray,
    rd_dist: np.ndarray,
    rd_adv: np.ndarray,
    is_store: np.ndarray,
    ps_pos: np.ndarray,
    ps_dist: np.ndarray,
    pl_pos: np.ndarray,
    pl_dist: np.ndarray,
    mg_ptr: np.ndarray,
    mg_pos: np.ndarray,
    mg_dist: np.ndarray,
    users: np.ndarray,
    lat: np.ndarray,
    uops: np.ndarray,
    ra: np.ndarray,
    res_ptr: np.ndarray,
    res_id: np.ndarray,
    res_cyc: np.ndarray,
    ru_ptr: np.ndarray,
    ru_idx: np.ndarray,
    n_units: int,
    extrapolate: bool,
) -> np.ndarray:
    """float64 [n_blocks]: total cycles of every block (numba threads over blocks)."""
    nb_blocks = blk_ptr.shape[0] - 1
    out = np.empty(nb_blocks)
    for b in nb.prange(nb_blocks):
        out[b] = simulate_block(
            b,
            iterations,
            dispatch_width,
            rob_size,
            blk_ptr,
            inst_row,
            rd_ptr,
            rd_pos,
            rd_dist,
            rd_adv,
            is_store,
            ps_pos,
            ps_dist,
            pl_pos,
            pl_dist,
            mg_ptr,
            mg_pos,
            mg_dist,
            users,
            lat,
            uops,
            ra,
            res_ptr,
            res_id,
            res_cyc,
            ru_ptr,
            ru_idx,
            n_units,
            extrapolate,
        )
    return out


@nb.njit(cache=True, nogil=True)
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
