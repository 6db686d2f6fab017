"""BlockSim: the public blocksim simulator (decode once, compile blocks, run the kernel).

Example::

    sim = BlockSim("znver3")
    table = sim.default_table()
    cycles = sim.predict(["4801d8"], table)   # float64 [1], cycles per 100 iterations

blocksim follows llvm-mca's rules (LLVM 14 for znver3/znver2/haswell/skylake, LLVM 22
for znver4/znver5; figures: bench/blocksim_bench.py):

- every register read and write as llvm-mca's InstrBuilder creates them from LLVM's
  instruction descriptions (implicit operands, second destinations, tied sources),
  with per-use ReadAdvance and per-write latency (:mod:`envs.blocksim.isa`);
- register dependencies through llvm-mca's register file: sub-register reads,
  partial writes on CPUs whose register files rename GPRs as 64-bit registers, zero
  and dependency-breaking idioms as each CPU's model defines them, eliminated moves
  (:mod:`envs.blocksim.regfile`);
- resources, scheduler buffers, load / store queues, dispatch width, reorder buffer;
- LLVM 22's llvm-mca (znver4, znver5) drops the RSP write of PUSH and POP (its
  "stack engine"); LLVM 14's keeps it;
- a LOCK / REP prefix belongs to the instruction after it (llvm-mca reads ``lock
  cmpxchgl ...`` on one line as one instruction);
- the instructions are those llvm-mca reads: the decoded text assembled again
  (``rcll $1, %eax`` is RCL32r1 whatever its bytes; see :mod:`envs.x86.disasm`).

Known departures from llvm-mca:

- groups that contain a multi-unit resource are treated as groups of its units
  (llvm-mca selects the member resource, then its unit);
- memory: loads never wait for stores (llvm-mca's default -noalias); a store issues
  no earlier than the previous store and the previous load (same cycle allowed);
- physical register file sizes and retire width are not modelled; move elimination
  has no per-cycle limit (llvm-mca's is 6 per cycle on the Zen models);
- the scheduler's priority counts each instruction's users in the whole block, not
  only those dispatched so far.

Beyond llvm-mca, off by default: ``extended=True`` models memory dependences through
provably identical addresses (:mod:`envs.blocksim.memdeps`) and SETcc into a register a
zero idiom cleared (:mod:`envs.blocksim.zeroset`); ``bhive_state=True`` adds the memory
dependences the measurement's initial state creates (every register equal, one physical
page: :mod:`envs.blocksim.bhive_state`) and lets stores issue out of order.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numba
import numpy as np

from envs.blocksim import zeroset
from envs.blocksim._kernel_unsigned import (  # generated from model.py
    simulate_batch,
    simulate_batch_serial,
)
from envs.blocksim.bhive_state import NO_DATA, bhive_memory_deps
from envs.blocksim.isa import InstInfo, analyze
from envs.blocksim.kernel_args import BlockArrays, KernelConfig, TableArrays
from envs.blocksim.memdeps import (
    KIND_FORWARD_FAIL,
    KIND_FORWARD_STACK,
    KIND_MEMORY,
    memory_deps,
)
from envs.blocksim.regfile import Dep, KeyDeps, resolve
from envs.blocksim.tables import FALLBACK, Table, load_default_table
from envs.x86.disasm import Instruction, check_hex, disassemble, explain_undecodable, llvm_tool
from envs.x86.llvmdesc import load_desc

# The process whose numba threads ran the kernel first. numba's GNU OpenMP layer
# cannot run in a process forked after it started its threads (it terminates the child:
# "fork() called from a process already using GNU OpenMP"), e.g. a suite's forked
# trials after a notebook or a test simulated in the parent; such a child runs the
# serial kernel. Its other layer, workqueue, is fork-safe but ~30% slower here.
_THREADED_PID: int | None = None


def _threads_usable() -> bool:
    """Whether this process may launch numba's threads."""
    if _THREADED_PID is None or _THREADED_PID == os.getpid():
        return True
    try:
        return numba.threading_layer() != "omp"
    except ValueError:  # no layer started
        return True


def _simulate_threaded(
    blocks: BlockArrays, arrays: TableArrays, config: KernelConfig, jobs: int
) -> tuple[np.ndarray, np.ndarray]:
    """simulate_batch on ``jobs`` numba threads (restoring the thread count after)."""
    global _THREADED_PID
    prev = numba.get_num_threads()
    numba.set_num_threads(min(jobs, numba.config.NUMBA_NUM_THREADS))
    try:
        out = simulate_batch(blocks, arrays, config)
    finally:
        numba.set_num_threads(prev)
    if _THREADED_PID is None:
        _THREADED_PID = os.getpid()
    return out


@dataclass(frozen=True)
class CompiledBlock:
    """Dependency structure of one block (n instructions, r dependencies).

    Attributes:
        keys: n table keys.
        fallback_load / fallback_store: bool [n], memory flags from the operands, used
            for keys missing from the table.
        rd_ptr: int64 [n+1], CSR offsets into the dependency arrays.
        rd_pos: int64 [r], position in the block of the producing instruction.
        rd_dist: int64 [r], 0 = same iteration, 1 = previous iteration.
        rd_lofs: int64 [r], offset of the producing write's latency from the
            producer's latency (<= 0), minus any fixed (untuned) ReadAdvance.
        rd_kind: int64 [r], see :mod:`envs.blocksim.regfile` (plain, ReadAdvance,
            partial write).
        elim: bool [n], an eliminated register move (issues at dispatch).
        users: int64 [n], dependencies on each instruction's writes (llvm-mca's
            scheduler prefers instructions with more users).
        texts: n AT&T texts (for llvm-mca comparisons).
        infos: n :class:`InstInfo` (registers read and written).
    """

    keys: tuple[str, ...]
    fallback_load: np.ndarray
    fallback_store: np.ndarray
    rd_ptr: np.ndarray
    rd_pos: np.ndarray
    rd_dist: np.ndarray
    rd_lofs: np.ndarray
    rd_kind: np.ndarray
    elim: np.ndarray
    users: np.ndarray
    texts: tuple[str, ...]
    infos: tuple[InstInfo, ...] = ()


_DECODED: dict[int, dict[str, tuple[Instruction, ...] | None]] = {}


def key_deps(table: Table) -> dict[str, KeyDeps]:
    """Per key of ``table``, its structural dependency data."""
    out = {}
    for i, k in enumerate(table.opcodes):
        out[k] = KeyDeps(
            write_offsets=table.write_offsets[i] if table.write_offsets else (),
            advance_uses=frozenset(table.advance_uses[i]) if table.advance_uses else frozenset(),
            fixed_advance=dict(table.fixed_advance[i]) if table.fixed_advance else None,
            independent_uses=(
                frozenset(table.independent_uses[i]) if table.independent_uses else frozenset()
            ),
            move=bool(table.move[i]) if table.move.size else False,
            latency=int(table.latency[i]),
        )
    return out


def compile_block(
    insts: Sequence[Instruction],
    table: Table,
    deps: dict[str, KeyDeps] | None = None,
    memory: bool = False,
    stack_engine: bool = False,
    bhive_state: bool = False,
) -> CompiledBlock:
    """Resolve each register read to its producer (same or previous iteration), with
    ``table``'s structural data (write latencies, ReadAdvance uses, idioms, moves);
    with ``memory`` (the extended model), also each load's provably identical earlier
    store (:mod:`envs.blocksim.memdeps`) and SETcc after a zero idiom
    (:mod:`envs.blocksim.zeroset`); with ``stack_engine``, PUSH / POP write no RSP (as in
    LLVM 22's llvm-mca) whatever the table's LLVM version; with ``bhive_state`` (and
    ``memory``), loads depend on the stores they overlap under the measurement's initial
    state (:mod:`envs.blocksim.bhive_state`), the provable pairs kept for loads it cannot
    place."""
    desc = load_desc(table.llvm_version)
    deps = key_deps(table) if deps is None else deps
    infos = [analyze(i, desc, stack_engine) for i in insts]
    no_partial: set[int] = set()
    if memory:  # SETcc into a register a zero idiom cleared (envs/blocksim/zeroset.py)
        zi = [zeroset.is_zero_idiom(table, i.key) for i in infos]
        for pos in zeroset.zero_extended_setcc(infos, zi, desc):
            infos[pos] = replace(infos[pos], key=infos[pos].key + zeroset.SUFFIX)
            no_partial.add(pos)
    fallback = KeyDeps(latency=FALLBACK["lat"])
    kd = [deps.get(info.key, fallback) for info in infos]
    found, elim = resolve(infos, kd, desc, table.rename_as, table.move_elim, no_partial)
    if memory:
        idx = table.index()
        loads = [
            bool(table.may_load[idx[i.key]])
            if i.key in idx
            else i.has_mem and not _is_plain_store(x)
            for i, x in zip(infos, insts, strict=True)
        ]
        stores = [
            bool(table.may_store[idx[i.key]]) if i.key in idx else i.has_mem and i.mem_first
            for i in infos
        ]
        # a prefetch or hinted NOP reads no data a store could forward (LLVM marks
        # PREFETCHT0 as a load and a store: it would wait for itself)
        data = [not x.opcode.startswith(NO_DATA) for x in insts]
        loads = [a and b for a, b in zip(loads, data, strict=True)]
        stores = [a and b for a, b in zip(stores, data, strict=True)]
        placed: set[int] = set()
        if bhive_state:
            for md in bhive_memory_deps(insts, infos, loads, stores):
                kind = (
                    KIND_FORWARD_FAIL
                    if not md.exact
                    else (KIND_FORWARD_STACK if md.stack else KIND_MEMORY)
                )
                found[md.load].append(Dep(md.store, md.dist, 0, kind))
                placed.add(md.load)
        for load, store, dist in memory_deps(insts, infos, loads, stores, desc):
            if load not in placed:
                found[load].append(Dep(store, dist, 0, KIND_MEMORY))
    rd_ptr = [0]
    rd_pos: list[int] = []
    rd_dist: list[int] = []
    rd_lofs: list[int] = []
    rd_kind: list[int] = []
    for ds in found:
        for d in ds:
            rd_pos.append(d.pos)
            rd_dist.append(d.dist)
            rd_lofs.append(d.lat_offset)
            rd_kind.append(d.kind)
        rd_ptr.append(len(rd_pos))
    users = np.zeros(len(infos), np.int64)
    for p in rd_pos:
        users[p] += 1
    return CompiledBlock(
        keys=tuple(i.key for i in infos),
        fallback_load=np.array(
            [i.has_mem and not _is_plain_store(x) for i, x in zip(infos, insts, strict=True)], bool
        ),
        fallback_store=np.array([i.has_mem and i.mem_first for i in infos], bool),
        rd_ptr=np.array(rd_ptr, np.int64),
        rd_pos=np.array(rd_pos, np.int64),
        rd_dist=np.array(rd_dist, np.int64),
        rd_lofs=np.array(rd_lofs, np.int64),
        rd_kind=np.array(rd_kind, np.int64),
        elim=np.array(elim, bool),
        users=users,
        texts=tuple(i.text for i in insts),
        infos=tuple(infos),
    )


def _is_plain_store(inst: Instruction) -> bool:
    return inst.opcode.startswith(("MOV", "VMOV")) and inst.opcode.endswith(("mr", "mi", "mi32"))


def _mem_order(
    is_load: np.ndarray, is_store: np.ndarray, in_order: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per instruction: (previous store pos, dist, previous load pos, dist), -1 if none;
    all -1 when stores need not issue in order (the BHive-state model: they commit in
    order, which costs no time here, and llvm-mca's in-order issue, with the loads that
    now wait for stores, would chain iterations real cores overlap)."""
    n = len(is_load)
    ps_pos = np.full(n, -1, np.int64)
    ps_dist = np.zeros(n, np.int64)
    pl_pos = np.full(n, -1, np.int64)
    pl_dist = np.zeros(n, np.int64)
    if not in_order:
        return ps_pos, ps_dist, pl_pos, pl_dist
    stores = np.flatnonzero(is_store)
    loads = np.flatnonzero(is_load)
    for i in np.flatnonzero(is_store):
        before = stores[stores < i]
        if before.size:
            ps_pos[i] = before[-1]
        elif stores.size:
            ps_pos[i], ps_dist[i] = stores[-1], 1
        before = loads[loads < i]
        if before.size:
            pl_pos[i] = before[-1]
        elif loads.size:
            pl_pos[i], pl_dist[i] = loads[-1], 1
    return ps_pos, ps_dist, pl_pos, pl_dist


class BlockSim:
    """Fast llvm-mca-style basic-block throughput simulator with a tunable table.

    Args:
        cpu: CPU whose shipped default table and structural flags are used.
        iterations: times each block is repeated; predictions are total cycles for
            that many iterations (100: cycles per 100 iterations, llvm-mca's
            ``-iterations=100`` Total Cycles).
        jobs: numba threads for :meth:`predict`.
        extrapolate: stop a block's run once whole iterations retire periodically and
            extrapolate the rest: ~3.5x faster but approximate (rates can change after
            the reorder buffer fills; on 2,000 BHive blocks, within 5% of llvm-mca fell
            from 97% to 78% on znver3); off by default. The default full run is exact
            and event driven (see :mod:`envs.blocksim.model`).
        steady_jump: skip whole periods once the pipeline state repeats exactly (same
            result as simulating every cycle; off only to check that).
        extended: the opt-in model beyond llvm-mca (off by default: the default
            reproduces llvm-mca): loads wait for the data of an earlier store to a
            provably identical address (:mod:`envs.blocksim.memdeps`), and a SETcc
            into a register a zero idiom cleared has its own ``#zx`` key and no merge
            (:mod:`envs.blocksim.zeroset`); its default table has those rows and lists
            ``store_forward`` among its parameters.
        stack_engine: opt-in, for the LLVM 14 tables (LLVM 22's already do it): PUSH and
            POP write no RSP, so a run of them is not a dependency chain. LLVM 14's
            models chain them through RSP (POP's load latency each), which real cores
            avoid with a stack engine: blocks with PUSH / POP (11% of the BHive sample)
            carry 40% of the default znver3 table's error on bhive_znver3 and 59% of
            the skylake table's on bhive_intel-6-167 (bench/blocksim_stack_engine.py).
        bhive_state: opt-in, implies ``extended``: loads depend on the earlier stores
            whose bytes they read under the measurement's initial state (every register
            0x2324000, one physical page; :mod:`envs.blocksim.bhive_state`), with
            ``store_forward`` when the store covers the load, ``store_forward_fail``
            when it overlaps it in part and ``store_forward_stack`` for a stack slot
            (all tunable); stores issue out of order. It models how the ground truth
            is measured, not a CPU: predictions for other harnesses should leave it off.
            Measured: better on the Zen 3 data, worse on the Intel data (whose core
            renames memory; configs/blocksim_bhive.toml).
        front_end: opt-in: a block takes at least ``n / front_end_width`` cycles per
            iteration for its ``n`` instructions (a tunable global, 6 by default): real
            cores pass x86 instructions (AMD's macro-ops), not LLVM's micro-ops, through
            dispatch, so a block of many two-micro-op instructions is not as fast as the
            table's micro-op dispatch width says, nor a block of one-op ones faster.
        differenced: opt-in: a prediction is T(2N) - T(N), T(k) the total cycles of k
            iterations and N = ``iterations``, the way the ground truth is measured
            (the block unrolled 100x and 200x, t200 - t100: ``envs.groundtruth.measure``),
            instead of llvm-mca's T(N), which also counts filling and draining the
            pipeline once (about 3 cycles: 12% of a one-instruction block's 25 cycles
            per 100 iterations, nothing on a long block). No parameter; two runs per
            block. Measured (bench/blocksim_differenced.py): on bhive_znver3's held-out
            programs, the same tables score 0.3145 -> 0.2513 (default + stack engine +
            BHive-state model) and 0.1715 -> 0.1454 (a DiffTune 10^6 table).
    """

    name = "blocksim"

    def __init__(
        self,
        cpu: str = "znver3",
        iterations: int = 100,
        jobs: int = 1,
        extrapolate: bool = False,
        steady_jump: bool = True,
        extended: bool = False,
        stack_engine: bool = False,
        bhive_state: bool = False,
        front_end: bool = False,
        differenced: bool = False,
    ) -> None:
        if iterations < 1:
            raise ValueError("iterations must be >= 1")
        self.cpu = cpu
        self.iterations = int(iterations)
        self.jobs = max(1, int(jobs))
        self.extrapolate = bool(extrapolate)
        self.steady_jump = bool(steady_jump)
        self.bhive_state = bool(bhive_state)
        self.front_end = bool(front_end)
        self.differenced = bool(differenced)
        self.extended = bool(extended) or self.bhive_state
        self.stack_engine = bool(stack_engine)
        self._default = load_default_table(cpu)
        if self.extended:
            ext = ("memory", "setcc_zero") + (("bhive_state",) if self.bhive_state else ())
            self._default = replace(zeroset.with_zx_rows(self._default), extensions=ext)
        if self.front_end:
            ext = (*self._default.extensions, "front_end")
            self._default = replace(self._default, extensions=ext)
        self._deps = key_deps(self._default)
        # Decoding depends on the LLVM version alone: every BlockSim of the process
        # shares it (another CPU's table, another model: the same instructions).
        self._decoded = _DECODED.setdefault(self._default.llvm_version, {})
        self._compiled: dict[str, CompiledBlock | None] = {}
        self._batch_cache: dict[tuple[str, ...], tuple] = {}
        # The last calls' block lists as given -> as checked (lowercase, stripped).
        self._canon_cache: dict[tuple[str, ...], tuple[str, ...]] = {}
        # Per block, its batch-independent arrays (see _block_arrays); keys get global
        # ids in order of first appearance.
        self._block_cache: dict[str, tuple[np.ndarray, ...]] = {}
        self._key_id: dict[str, int] = {}
        self.missing_keys: Counter[str] = Counter()  # see fallback_report
        self._layout_cache: tuple | None = None
        self.last_skipped_iterations = np.zeros(0, np.int64)

    # ---- public API ---------------------------------------------------------------
    def default_table(self) -> Table:
        """A copy of the CPU's shipped default table."""
        return self._default.copy()

    def decode(self, blocks_hex: Sequence[str]) -> list[tuple[Instruction, ...] | None]:
        """Decoded instructions per block (cached per process and LLVM version, for every
        BlockSim); None if undecodable."""
        todo = [
            h for h in dict.fromkeys(check_hex(h) for h in blocks_hex) if h not in self._decoded
        ]
        if todo:
            decoded = disassemble(
                todo,
                self._default.llvm_version,
                fold_prefixes=True,
                ud2_blocks=True,
                reassemble=True,
            )
            for h, insts in zip(todo, decoded, strict=True):
                self._decoded[h] = insts
        return [self._decoded[check_hex(h)] for h in blocks_hex]

    def explain(self, block_hex: str) -> str:
        """Why a block does not decode (e.g. an instruction valid only in 32-bit mode),
        or "" if it decodes."""
        if self.decode([block_hex])[0] is not None:
            return ""
        return explain_undecodable(check_hex(block_hex), self._default.llvm_version)

    def predict(self, blocks_hex: Sequence[str], table: Table) -> np.ndarray:
        """Simulate each block under ``table``.

        Args:
            blocks_hex: n blocks as hex machine code.
            table: a table with this simulator's CPU layout (resources), e.g. from
                :meth:`default_table` or :meth:`Table.with_flat`.
        Returns:
            float64 [n]: total cycles for ``iterations`` iterations (with
            ``differenced``, the cycles the second ``iterations`` add: T(2N) - T(N));
            NaN for a block that does not decode.
        """
        if table.resources != self._default.resources:
            raise ValueError(
                f"table for {table.cpu!r} has a different resource layout than {self.cpu!r}"
            )
        if "memory" in table.extensions and not self.extended:
            raise ValueError("table is for the extended model: use BlockSim(extended=True)")
        if "bhive_state" in table.extensions and not self.bhive_state:
            raise ValueError("table is for the BHive-state model: use BlockSim(bhive_state=True)")
        if ("front_end" in table.extensions) != self.front_end:
            raise ValueError(
                "table and simulator differ in the front-end bound: "
                f"BlockSim(front_end={'front_end' in table.extensions})"
            )
        raw = tuple(blocks_hex)
        hexes = self._canon_cache.get(raw)
        if hexes is None:  # (checking 2,000 hex strings took 3% of a warm call)
            hexes = tuple(check_hex(h) for h in raw)
            if len(self._canon_cache) > 8:
                self._canon_cache.pop(next(iter(self._canon_cache)))
            self._canon_cache[raw] = hexes
        blocks, keys, valid = self._batch(hexes, table)
        arrays = self._table_arrays(table, keys)
        config = KernelConfig(
            iterations=2 * self.iterations if self.differenced else self.iterations,
            dispatch_width=int(table.dispatch_width),
            rob_size=int(table.rob_size),
            lq_size=int(table.load_queue),
            sq_size=int(table.store_queue),
            store_forward=int(table.store_forward),
            store_forward_fail=int(table.store_forward_fail),
            store_forward_stack=int(table.store_forward_stack),
            n_units=len(table.units),
            extrapolate=self.extrapolate,
            jump=self.steady_jump,
        )
        out = np.full(len(hexes), np.nan)
        # Per block of this call, iterations the exact steady-state jump skipped.
        self.last_skipped_iterations = np.zeros(len(hexes), np.int64)
        if valid.any():
            res, skipped = self._simulate(blocks, arrays, config)
            if self.differenced:  # T(2N) - T(N), as the ground truth is measured
                once, skipped_once = self._simulate(
                    blocks, arrays, config._replace(iterations=self.iterations)
                )
                res = res - once
                skipped = skipped + skipped_once  # (of the two runs' 3N iterations)
            if self.front_end:
                n_inst = np.diff(blocks.blk_ptr).astype(np.float64)
                res = np.maximum(res, self.iterations * n_inst / max(1, table.front_end_width))
            out[valid] = res
            self.last_skipped_iterations[valid] = skipped
        return out

    def _simulate(
        self, blocks: BlockArrays, arrays: TableArrays, config: KernelConfig
    ) -> tuple[np.ndarray, np.ndarray]:
        """The kernel on this simulator's threads: (total cycles, skipped iterations)."""
        if self.jobs > 1 and _threads_usable():
            return _simulate_threaded(blocks, arrays, config, self.jobs)
        return simulate_batch_serial(blocks, arrays, config)

    def versions(self) -> dict[str, str]:
        """Versions of the pieces behind a prediction."""
        mca = subprocess.run(
            [llvm_tool("llvm-mca", self._default.llvm_version), "--version"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        return {
            # 2: scheduler buffers and load/store queues; 3: every opcode, llvm-mca's
            # register file and operand rules, resources from the models; 4: LLVM 22's
            # stack engine (znver4/znver5: PUSH/POP write no RSP); 5: the BHive-state
            # memory model, prefetches out of the memory models (their results changed)
            "blocksim": "5",
            "table_cpu": self._default.cpu,
            "table_llvm": str(self._default.meta.get("llvm_version", "unknown")),
            **({"stack_engine": "on"} if self.stack_engine else {}),
            **({"bhive_state": "on"} if self.bhive_state else {}),
            **({"front_end": "on"} if self.front_end else {}),
            **({"differenced": "on"} if self.differenced else {}),
            "llvm_mc": next((ln.strip() for ln in mca.splitlines() if "version" in ln), "?"),
            "numba": importlib.metadata.version("numba"),
            "numpy": np.__version__,
            "python": platform.python_version(),
        }

    def fallback_report(self) -> dict[str, int]:
        """Keys simulated with the FALLBACK row so far -> their occurrences in the distinct
        blocks simulated (each block counted once, however often it is simulated)."""
        return dict(self.missing_keys.most_common())

    # ---- internals ---------------------------------------------------------------
    def compiled(self, blocks_hex: Sequence[str]) -> list[CompiledBlock | None]:
        """Compiled dependency structure per block (cached per process)."""
        decoded = self.decode(blocks_hex)
        out: list[CompiledBlock | None] = []
        for h, insts in zip(blocks_hex, decoded, strict=True):
            h = check_hex(h)
            if h not in self._compiled:
                self._compiled[h] = (
                    None
                    if insts is None
                    else compile_block(
                        insts,
                        self._default,
                        self._deps,
                        self.extended,
                        self.stack_engine,
                        self.bhive_state,
                    )
                )
            out.append(self._compiled[h])
        return out

    def _block_arrays(self, h: str, blk: CompiledBlock) -> tuple[np.ndarray, ...]:
        """(global key ids, is_store, prev-store pos/dist, prev-load pos/dist) of a block,
        computed once per block; keys missing from the default table are counted here."""
        got = self._block_cache.get(h)
        if got is not None:
            return got
        dflt = self._default.index()
        gids = np.array([self._key_id.setdefault(k, len(self._key_id)) for k in blk.keys], np.int64)
        load = np.array(
            [
                self._default.may_load[dflt[k]] if k in dflt else fb
                for k, fb in zip(blk.keys, blk.fallback_load, strict=True)
            ],
            bool,
        )
        store = np.array(
            [
                self._default.may_store[dflt[k]] if k in dflt else fb
                for k, fb in zip(blk.keys, blk.fallback_store, strict=True)
            ],
            bool,
        )
        for k in blk.keys:
            if k not in dflt:
                self.missing_keys[k] += 1
        order = _mem_order(load, store, in_order=not self.bhive_state)
        got = (gids, store, *order, load)
        self._block_cache[h] = got
        return got

    def _batch(
        self, hexes: tuple[str, ...], table: Table
    ) -> tuple[BlockArrays, tuple[str, ...], np.ndarray]:
        """(the kernel's block arrays, the batch's keys in row order, valid blocks)."""
        cached = self._batch_cache.get(hexes)
        if cached is not None:
            return cached
        blocks = self.compiled(hexes)
        valid = np.array([b is not None for b in blocks], bool)
        good = [(h, b) for h, b in zip(hexes, blocks, strict=True) if b is not None]
        arrays = [self._block_arrays(h, b) for h, b in good]
        blk = [b for _, b in good]

        def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

        def csr(ptrs: list[np.ndarray]) -> np.ndarray:
            # per-block CSR offsets (each starting at 0) -> one batch-wide CSR
            sizes = np.array([int(p[-1]) for p in ptrs], np.int64)
            shift = np.concatenate([[0], np.cumsum(sizes)[:-1]]) if ptrs else sizes
            parts = [p[:-1] + o for p, o in zip(ptrs, shift, strict=True)]
            return np.append(cat(parts, np.int64), int(sizes.sum())).astype(np.int64)

        gids = cat([a[0] for a in arrays], np.int64)
        used, inst_key = np.unique(gids, return_inverse=True)
        names = list(self._key_id)
        lengths = [len(b.keys) for b in blk]
        batch = (
            BlockArrays(
                blk_ptr=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                inst_row=inst_key.astype(np.int64),
                rd_ptr=csr([b.rd_ptr for b in blk]),
                rd_pos=cat([b.rd_pos for b in blk], np.int64),
                rd_dist=cat([b.rd_dist for b in blk], np.int64),
                rd_lofs=cat([b.rd_lofs for b in blk], np.int64),
                rd_kind=cat([b.rd_kind for b in blk], np.int64),
                elim=cat([b.elim for b in blk], np.bool_),
                is_store=cat([a[1] for a in arrays], np.bool_),
                is_load=cat([a[6] for a in arrays], np.bool_),
                ps_pos=cat([a[2] for a in arrays], np.int64),
                ps_dist=cat([a[3] for a in arrays], np.int64),
                pl_pos=cat([a[4] for a in arrays], np.int64),
                pl_dist=cat([a[5] for a in arrays], np.int64),
                users=cat([b.users for b in blk], np.int64),
            ),
            tuple(names[i] for i in used),
            valid,
        )
        if len(self._batch_cache) > 8:
            self._batch_cache.pop(next(iter(self._batch_cache)))
        self._batch_cache[hexes] = batch
        return batch

    def _layout(self, table: Table) -> tuple:
        """Per table layout (opcodes, resources), cached: key -> row, resources in
        llvm-mca's allocation order (the table's order: units, then groups by size),
        the fallback resource, and the resource -> unit CSR."""
        c = self._layout_cache
        if c is not None and c[0] is table.opcodes and c[1] is table.resources:
            return c[2:]
        members = [sorted(us) for us in table.resource_units]  # llvm-mca's mask order
        if max(len(us) for us in members) > 62:
            raise ValueError("a resource with more than 62 units")
        per_unit: list[list[tuple[int, int]]] = [[] for _ in table.units]
        for r, us in enumerate(members):
            for p, u in enumerate(us):
                per_unit[u].append((r, p))
        out = (
            table.index(),
            np.arange(len(table.resources), dtype=np.int64),
            table.fallback_resource(),
            np.cumsum([0] + [len(u) for u in members]).astype(np.int64),
            np.array([u for us in members for u in us], np.int64),
            np.cumsum([0] + [len(x) for x in per_unit]).astype(np.int64),
            np.array([r for x in per_unit for r, _ in x], np.int64),
            np.array([p for x in per_unit for _, p in x], np.int64),
        )
        self._layout_cache = (table.opcodes, table.resources, *out)
        return out

    def _table_arrays(self, table: Table, keys: tuple[str, ...]) -> TableArrays:
        """Table rows for the batch's keys (in batch key order), FALLBACK where absent."""
        idx, order, fallback_res, ru_ptr, ru_idx, ur_ptr, ur_res, ur_pos = self._layout(table)
        n_res = len(table.resources)
        rows = np.array([idx.get(k, -1) for k in keys], np.int64)
        have = rows >= 0
        lat = np.full(len(keys), FALLBACK["lat"], np.int64)
        uops = np.full(len(keys), FALLBACK["uops"], np.int64)
        ra = np.full(len(keys), FALLBACK["ra"], np.int64)
        cyc = np.zeros((len(keys), n_res), np.int64)
        lat[have] = table.latency[rows[have]]
        uops[have] = table.micro_ops[rows[have]]
        ra[have] = table.read_advance[rows[have]]
        cyc[have] = table.resource_cycles[rows[have]]
        cyc[~have, fallback_res] = FALLBACK["port_cycles"]
        # Per key, its used resources in allocation order: CSR (res_ptr, res_id, res_cyc).
        ordered = cyc[:, order]
        r_idx, c_idx = np.nonzero(ordered > 0)
        res_ptr = np.zeros(len(keys) + 1, np.int64)
        np.cumsum(np.bincount(r_idx, minlength=len(keys)), out=res_ptr[1:])
        # Per key, the scheduler buffers it takes (CSR); a fallback key takes those most
        # keys on the fallback resource take.
        n_buf = len(table.buffers)
        use = np.zeros((len(keys), n_buf), bool)
        if n_buf:
            use[have] = table.buffer_use[rows[have]]
            on_fb = table.resource_cycles[:, fallback_res] > 0
            if on_fb.any():
                use[~have] = table.buffer_use[on_fb].mean(axis=0) > 0.5
        b_idx, b_col = np.nonzero(use)
        buf_ptr = np.zeros(len(keys) + 1, np.int64)
        np.cumsum(np.bincount(b_idx, minlength=len(keys)), out=buf_ptr[1:])
        # Per key, the groups it reserves whole (CSR).
        held = [table.reserved[r] if r >= 0 and table.reserved else () for r in rows]
        rs_ptr = np.cumsum([0] + [len(h) for h in held]).astype(np.int64)
        return TableArrays(
            lat=lat,
            uops=uops,
            ra=ra,
            res_ptr=res_ptr,
            res_id=order[c_idx].astype(np.int64),
            res_cyc=ordered[r_idx, c_idx].astype(np.int64),
            ru_ptr=ru_ptr,
            ru_idx=ru_idx,
            ur_ptr=ur_ptr,
            ur_res=ur_res,
            ur_pos=ur_pos,
            buf_ptr=buf_ptr,
            buf_id=b_col.astype(np.int64),
            buf_size=np.asarray(table.buffer_sizes, np.int64),
            rs_ptr=rs_ptr,
            rs_id=np.array([r for h in held for r, _ in h], np.int64),
            rs_cyc=np.array([c for h in held for _, c in h], np.int64),
        )


_SHARED: dict[tuple[str, bool, bool, bool, bool], BlockSim] = {}


def shared_blocksim(
    cpu: str,
    stack_engine: bool = False,
    bhive_state: bool = False,
    front_end: bool = False,
    differenced: bool = False,
) -> BlockSim:
    """One :class:`BlockSim` per (CPU, opt-in models) in this process, shared by the
    predictors that run it under different tables (``predict`` takes the table): a
    predictor built of several of them (an anchor and its sensitivity views) decodes
    and compiles each block once, not once per table."""
    key = (cpu, bool(stack_engine), bool(bhive_state), bool(front_end), bool(differenced))
    sim = _SHARED.get(key)
    if sim is None:
        sim = _SHARED[key] = BlockSim(
            cpu,
            stack_engine=key[1],
            bhive_state=key[2],
            front_end=key[3],
            differenced=key[4],
        )
    return sim


def clear_shared() -> None:
    """Forget the shared simulators and decoded blocks (a benchmark's cold start)."""
    _SHARED.clear()
    _DECODED.clear()
