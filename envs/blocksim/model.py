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
     use of c cycles holds the chosen unit for c cycles (round-robin among free units).
   It finishes after ``latency`` cycles.
3. Dispatch: in order, up to ``dispatch_width`` micro-ops per cycle (an instruction
   with more micro-ops needs a whole empty group and carries the rest over to the
   next cycles), if the reorder buffer has room for its micro-ops. An instruction with
   zero latency and no resources issues in its dispatch cycle (llvm-mca's
   "must issue immediately").

Total cycles = the cycle of the last retirement + 1, as llvm-mca's "Total Cycles".

Cycles in which nothing can happen are skipped (jump to the next ready time, unit
release or retirement), which keeps latency-bound blocks cheap.
"""

from __future__ import annotations

import numba as nb
import numpy as np

_INF = np.int64(1) << np.int64(60)


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
    extrapolated (see :func:`_extrapolate`).

    Per-instruction arrays are indexed by global instruction index; ``rd_*`` by read
    index (CSR through ``rd_ptr``); table arrays by table row; ``res_*`` (CSR through
    ``res_ptr``) by row, ``ru_*`` (CSR) by resource.
    """
    base = blk_ptr[b]
    n = blk_ptr[b + 1] - base
    if n <= 0:
        return np.nan
    m = n * iterations
    issue = np.full(m, -1, np.int64)
    done = np.zeros(m, np.int64)
    disp = np.zeros(m, np.int64)
    rdy = np.full(m, -1, np.int64)  # cached operand-ready cycle, -1 = unknown
    blocker = np.full(m, -1, np.int64)  # an unissued producer seen by the last check
    hold = np.zeros(m, np.int64)  # no point re-checking before this cycle (units busy)
    blockres = np.full(m, -1, np.int64)  # resource that had no free unit at the last check
    n_res = ru_ptr.shape[0] - 1
    rfull = np.full(n_res, -1, np.int64)  # cycle in which the resource was found full
    waiting = np.empty(m, np.int64)
    busy = np.zeros(n_units, np.int64)
    rr = np.empty(n_res, np.int64)  # next unit position to try, per resource
    for r in range(n_res):
        rr[r] = ru_ptr[r + 1] - ru_ptr[r] - 1
    chosen = np.empty(64, np.int64)
    iter_ret = np.zeros(iterations, np.int64)  # retire cycle of each iteration's last inst

    nw = 0  # waiting (dispatched, not issued), oldest first
    nd = 0  # next instance to dispatch
    ret = 0  # next instance to retire
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
            if ret % n == 0:
                it = ret // n - 1
                iter_ret[it] = c
                if extrapolate and it >= 8:
                    total = _extrapolate(iter_ret, it, iterations)
                    if total >= 0:
                        return float(total + 1)
        if ret >= m:
            break
        # 2. issue (oldest first)
        nkeep = 0
        for w in range(nw):
            k = waiting[w]
            # Fast paths: operands known to be ready later, or still waiting on the
            # producer that blocked the last check.
            br = blockres[k]
            if (
                hold[k] > c
                or rdy[k] > c
                or (br >= 0 and rfull[br] == c)
                or (blocker[k] >= 0 and issue[blocker[k]] < 0)
            ):
                waiting[nkeep] = k
                nkeep += 1
                continue
            if _try_issue(
                k,
                c,
                n,
                base,
                issue,
                done,
                disp,
                rdy,
                blocker,
                hold,
                blockres,
                rfull,
                busy,
                rr,
                chosen,
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
                lat,
                ra,
                res_ptr,
                res_id,
                res_cyc,
                ru_ptr,
                ru_idx,
                False,
            ):
                progressed = True
            else:
                waiting[nkeep] = k
                nkeep += 1
        nw = nkeep
        # 3. dispatch
        if carry > 0:
            avail = 0 if carry >= dispatch_width else dispatch_width - carry
            carry -= dispatch_width - avail
        else:
            avail = dispatch_width
        while nd < m:
            row = inst_row[base + nd % n]
            u = uops[row]
            req = u if u < dispatch_width else dispatch_width
            if req > avail:
                break
            q = u if u < rob_size else rob_size
            if rob_used > 0 and rob_used + q > rob_size:
                break
            disp[nd] = c
            rob_used += u
            if u > dispatch_width:
                carry = u - dispatch_width
                avail = 0
            else:
                avail -= u
            progressed = True
            k = nd
            nd += 1
            if lat[row] == 0 and res_ptr[row + 1] == res_ptr[row]:
                if _try_issue(
                    k,
                    c,
                    n,
                    base,
                    issue,
                    done,
                    disp,
                    rdy,
                    blocker,
                    hold,
                    blockres,
                    rfull,
                    busy,
                    rr,
                    chosen,
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
                    lat,
                    ra,
                    res_ptr,
                    res_id,
                    res_cyc,
                    ru_ptr,
                    ru_idx,
                    True,
                ):
                    continue
            # Keep `waiting` in llvm-mca's scheduling order: rank = age - users
            # (ties: older first). New instances sort near the end.
            rank = k - users[base + k % n]
            j = nw
            while j > 0:
                kp = waiting[j - 1]
                rp = kp - users[base + kp % n]
                if rp > rank:
                    waiting[j] = kp
                    j -= 1
                else:
                    break
            waiting[j] = k
            nw += 1
        # next cycle; skip idle cycles
        nxt = c + 1
        if not progressed:
            ev = _INF
            if ret < nd and issue[ret] >= 0:
                ev = min(ev, done[ret] + 1)
            for w in range(nw):
                t = rdy[waiting[w]]
                if t >= 0:
                    ev = min(ev, max(t, disp[waiting[w]] + 1))
            for uu in range(n_units):
                if busy[uu] > c:
                    ev = min(ev, busy[uu])
            # executions finishing
            for kk in range(ret, nd):
                if issue[kk] >= 0 and done[kk] > c:
                    ev = min(ev, done[kk])
            if ev < _INF and ev > nxt:
                nxt = ev
        c = nxt
    return float(last_retire + 1)


@nb.njit(cache=True, nogil=True)
def _try_issue(
    k,
    c,
    n,
    base,
    issue,
    done,
    disp,
    rdy,
    blocker,
    hold,
    blockres,
    rfull,
    busy,
    rr,
    chosen,
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
    lat,
    ra,
    res_ptr,
    res_id,
    res_cyc,
    ru_ptr,
    ru_idx,
    at_dispatch,
):  # pragma: no cover - numba
    """Issue instance ``k`` at cycle ``c`` if operands, memory order and units allow."""
    if not at_dispatch and disp[k] >= c:
        return False
    i = base + k % n
    it = k // n
    row = inst_row[i]
    t = rdy[k]
    if t < 0:
        t = 0
        for r in range(rd_ptr[i], rd_ptr[i + 1]):
            pit = it - rd_dist[r]
            if pit < 0:
                continue
            p = pit * n + rd_pos[r]
            if issue[p] < 0:
                blocker[k] = p
                return False
            lp = lat[inst_row[base + rd_pos[r]]]
            if rd_adv[r]:
                lp -= ra[row]
            if lp < 0:
                lp = 0
            if issue[p] + lp > t:
                t = issue[p] + lp
            # p may be a partial write: its value also needs the old value.
            ip = base + rd_pos[r]
            for g in range(mg_ptr[ip], mg_ptr[ip + 1]):
                git = pit - mg_dist[g]
                if git < 0:
                    continue
                q = git * n + mg_pos[g]
                if issue[q] < 0:
                    blocker[k] = q
                    return False
                # llvm-mca: the partial write completes its latency after the old
                # value is ready.
                tq = issue[q] + lat[inst_row[base + mg_pos[g]]] + lat[inst_row[ip]]
                if tq > t:
                    t = tq
        rdy[k] = t
    if t > c:
        return False
    if is_store[i]:
        if ps_pos[i] >= 0:
            pit = it - ps_dist[i]
            if pit >= 0:
                p = pit * n + ps_pos[i]
                if issue[p] < 0:
                    blocker[k] = p
                    return False
        if pl_pos[i] >= 0:
            pit = it - pl_dist[i]
            if pit >= 0:
                p = pit * n + pl_pos[i]
                if issue[p] < 0:
                    blocker[k] = p
                    return False
    # resources: choose a free unit for each use, all or nothing
    nch = 0
    for j in range(res_ptr[row], res_ptr[row + 1]):
        rid = res_id[j]
        lo = ru_ptr[rid]
        cnt = ru_ptr[rid + 1] - lo
        found = -1
        # llvm-mca's DefaultResourceStrategy: highest-numbered free unit first,
        # then round-robin downwards.
        for s in range(cnt):
            pos = (rr[rid] - s) % cnt
            uu = ru_idx[lo + pos]
            if busy[uu] > c:
                continue
            dup = False
            for q in range(nch):
                if chosen[q] == uu:
                    dup = True
                    break
            if not dup:
                found = uu
                rr[rid] = (pos - 1) % cnt
                break
        if found < 0:
            # Busy times only grow, so no unit of this resource frees before this.
            tmin = busy[ru_idx[lo]]
            for s in range(1, cnt):
                if busy[ru_idx[lo + s]] < tmin:
                    tmin = busy[ru_idx[lo + s]]
            hold[k] = tmin
            blockres[k] = rid
            rfull[rid] = c
            return False
        if nch < chosen.shape[0]:
            chosen[nch] = found
            nch += 1
    q = 0
    for j in range(res_ptr[row], res_ptr[row + 1]):
        if q < nch:
            uu = chosen[q]
            busy[uu] = c + res_cyc[j]
            q += 1
    issue[k] = c
    done[k] = c + lat[row]
    return True


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
