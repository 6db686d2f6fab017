"""BlockSim: the public blocksim simulator (decode once, compile blocks, run the kernel).

Example::

    sim = BlockSim("znver3")
    table = sim.default_table()
    cycles = sim.predict(["4801d8"], table)   # float64 [1], cycles per 100 iterations

Known departures from llvm-mca 14 (measured figures: bench/blocksim_bench.py):

- one latency per key for every register it writes (llvm-mca has per-definition
  latencies; the table holds the largest, which is what ``-instruction-tables`` shows);
- one ReadAdvance per key, applied to explicit register sources only, measured per
  register class (GPR / scalar / 128-bit / 256-bit vector) on load-op chains;
- resource groups are recovered from llvm-mca's per-unit pressure, so a use split
  over two groups with equal per-unit pressure can be merged; unit choice inside a
  group is round-robin, not llvm-mca's exact selection order;
- scheduler buffers (``Zn3Int`` 96, ``HWPortAny`` 60, ...; an entry per buffer an
  instruction takes, from dispatch to issue) and load / store queues (znver3: 72 / 64
  entries, from dispatch to retirement) stall dispatch as in llvm-mca; which buffers a
  key takes is measured per key (``-scheduler-stats``) and is not a tunable parameter;
- physical register files, retire width and move elimination are not modelled
  (move-like zero latency instructions issue at dispatch, which gives the same timing
  in most cases);
- memory: loads never wait for stores (llvm-mca's default -noalias); a store issues
  no earlier than the previous store and the previous load (same cycle allowed);
- register dependencies are tracked per register family (rax/eax/ax/al/ah are one);
  8/16-bit writes depend on the old value where the CPU's model renames GPRs as
  64-bit registers (measured per CPU: znver2/3 yes, Intel models no);
- zero/dependency-breaking idioms (same-register xor/sub/pcmpeq/...; cmp on znver3)
  are table keys of their own (``XOR32rr#same``) and ignore their register inputs.
"""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np

from envs.blocksim._kernel_unsigned import simulate_batch  # generated from model.py
from envs.blocksim.isa import analyze
from envs.blocksim.tables import FALLBACK, Table, load_default_table
from envs.x86.disasm import Instruction, check_hex, disassemble, llvm_tool


@dataclass(frozen=True)
class CompiledBlock:
    """Dependency structure of one block (n instructions, r register reads).

    Attributes:
        keys: n table keys.
        fallback_load / fallback_store: bool [n], memory flags from the operands, used
            for keys missing from the table.
        rd_ptr: int64 [n+1], CSR offsets into the read arrays.
        rd_pos: int64 [r], position in the block of the producing instruction.
        rd_dist: int64 [r], 0 = same iteration, 1 = previous iteration.
        rd_adv: bool [r], ReadAdvance applies.
        mg_ptr, mg_pos, mg_dist: CSR like ``rd_*``: for a partial register write, the
            producer of the old value; readers of the write also wait for it.
        users: int64 [n], register reads that consume each instruction's writes
            (llvm-mca's scheduler prefers instructions with more users).
        texts: n AT&T texts (for llvm-mca comparisons).
    """

    keys: tuple[str, ...]
    fallback_load: np.ndarray
    fallback_store: np.ndarray
    rd_ptr: np.ndarray
    rd_pos: np.ndarray
    rd_dist: np.ndarray
    rd_adv: np.ndarray
    mg_ptr: np.ndarray
    mg_pos: np.ndarray
    mg_dist: np.ndarray
    users: np.ndarray
    texts: tuple[str, ...]


def compile_block(
    insts: Sequence[Instruction], partial_gpr_dep: bool, cmp_same_breaks: bool
) -> CompiledBlock:
    """Resolve each register read to its producer (same or previous iteration)."""
    infos = [analyze(i, cmp_same_breaks) for i in insts]
    final_writer: dict[int, int] = {}
    for pos, info in enumerate(infos):
        for fam, _ in info.writes:
            final_writer[fam] = pos
    last: dict[int, int] = {}
    rd_ptr = [0]
    rd_pos: list[int] = []
    rd_dist: list[int] = []
    rd_adv: list[bool] = []
    mg_ptr = [0]
    mg_pos: list[int] = []
    mg_dist: list[int] = []
    for pos, info in enumerate(infos):
        for fam, adv in info.reads:
            if fam in last:
                rd_pos.append(last[fam])
                rd_dist.append(0)
            elif fam in final_writer:
                rd_pos.append(final_writer[fam])
                rd_dist.append(1)
            else:
                continue
            rd_adv.append(adv)
        rd_ptr.append(len(rd_pos))
        if partial_gpr_dep:
            # A partial write merges with the register's old value: its readers also
            # wait for the old value's producer (the write itself does not).
            for fam, part in info.writes:
                if not part:
                    continue
                if fam in last:
                    mg_pos.append(last[fam])
                    mg_dist.append(0)
                elif final_writer.get(fam, pos) != pos:
                    mg_pos.append(final_writer[fam])
                    mg_dist.append(1)
        mg_ptr.append(len(mg_pos))
        for fam, _ in info.writes:
            last[fam] = pos
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
        rd_adv=np.array(rd_adv, bool),
        mg_ptr=np.array(mg_ptr, np.int64),
        mg_pos=np.array(mg_pos, np.int64),
        mg_dist=np.array(mg_dist, np.int64),
        users=users,
        texts=tuple(i.text for i in insts),
    )


def _is_plain_store(inst: Instruction) -> bool:
    return inst.opcode.startswith(("MOV", "VMOV")) and inst.opcode.endswith(("mr", "mi", "mi32"))


def _mem_order(
    is_load: np.ndarray, is_store: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per instruction: (previous store pos, dist, previous load pos, dist), -1 if none."""
    n = len(is_load)
    ps_pos = np.full(n, -1, np.int64)
    ps_dist = np.zeros(n, np.int64)
    pl_pos = np.full(n, -1, np.int64)
    pl_dist = np.zeros(n, np.int64)
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
    """

    name = "blocksim"

    def __init__(
        self,
        cpu: str = "znver3",
        iterations: int = 100,
        jobs: int = 1,
        extrapolate: bool = False,
        steady_jump: bool = True,
    ) -> None:
        if iterations < 1:
            raise ValueError("iterations must be >= 1")
        self.cpu = cpu
        self.iterations = int(iterations)
        self.jobs = max(1, int(jobs))
        self.extrapolate = bool(extrapolate)
        self.steady_jump = bool(steady_jump)
        self._default = load_default_table(cpu)
        self._decoded: dict[str, tuple[Instruction, ...] | None] = {}
        self._compiled: dict[str, CompiledBlock | None] = {}
        self._batch_cache: dict[tuple[str, ...], tuple] = {}
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
        """Decoded instructions per block (cached per process); None if undecodable."""
        todo = [
            h for h in dict.fromkeys(check_hex(h) for h in blocks_hex) if h not in self._decoded
        ]
        if todo:
            for h, insts in zip(todo, disassemble(todo), strict=True):
                self._decoded[h] = insts
        return [self._decoded[check_hex(h)] for h in blocks_hex]

    def predict(self, blocks_hex: Sequence[str], table: Table) -> np.ndarray:
        """Simulate each block under ``table``.

        Args:
            blocks_hex: n blocks as hex machine code.
            table: a table with this simulator's CPU layout (resources), e.g. from
                :meth:`default_table` or :meth:`Table.with_flat`.
        Returns:
            float64 [n]: total cycles for ``iterations`` iterations; NaN for a block that
            does not decode.
        """
        if table.resources != self._default.resources:
            raise ValueError(
                f"table for {table.cpu!r} has a different resource layout than {self.cpu!r}"
            )
        hexes = tuple(check_hex(h) for h in blocks_hex)
        batch = self._batch(hexes, table)
        (
            blk_ptr,
            keys,
            inst_key,
            rd_ptr,
            rd_pos,
            rd_dist,
            rd_adv,
            is_store,
            is_load,
            ps_pos,
            ps_dist,
            pl_pos,
            pl_dist,
            mg_ptr,
            mg_pos,
            mg_dist,
            users,
            valid,
        ) = batch
        (lat, uops, ra, res_ptr, res_id, res_cyc, ru_ptr, ru_idx, n_units, buf_ptr, buf_id) = (
            self._table_arrays(table, keys)
        )
        buf_size = np.asarray(table.buffer_sizes, np.int64)
        out = np.full(len(hexes), np.nan)
        # Per block of this call, iterations the exact steady-state jump skipped.
        self.last_skipped_iterations = np.zeros(len(hexes), np.int64)
        if valid.any():
            prev = numba.get_num_threads()
            numba.set_num_threads(min(self.jobs, numba.config.NUMBA_NUM_THREADS))
            try:
                res, skipped = simulate_batch(
                    self.iterations,
                    int(table.dispatch_width),
                    int(table.rob_size),
                    blk_ptr,
                    inst_key,
                    rd_ptr,
                    rd_pos,
                    rd_dist,
                    rd_adv,
                    is_store,
                    is_load,
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
                    buf_ptr,
                    buf_id,
                    buf_size,
                    int(table.load_queue),
                    int(table.store_queue),
                    n_units,
                    self.extrapolate,
                    self.steady_jump,
                )
            finally:
                numba.set_num_threads(prev)
            out[valid] = res
            self.last_skipped_iterations[valid] = skipped
        return out

    def versions(self) -> dict[str, str]:
        """Versions of the pieces behind a prediction."""
        mca = subprocess.run(
            [llvm_tool("llvm-mca"), "--version"], capture_output=True, text=True, check=False
        ).stdout
        return {
            "blocksim": "2",  # 2: scheduler buffers and load/store queues
            "table_cpu": self._default.cpu,
            "table_llvm": str(self._default.meta.get("llvm_version", "unknown")),
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
                        insts, self._default.partial_gpr_dep, self._default.cmp_same_breaks
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
        got = (gids, store, *_mem_order(load, store), load)
        self._block_cache[h] = got
        return got

    def _batch(self, hexes: tuple[str, ...], table: Table) -> tuple:
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
            np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            tuple(names[i] for i in used),
            inst_key.astype(np.int64),
            csr([b.rd_ptr for b in blk]),
            cat([b.rd_pos for b in blk], np.int64),
            cat([b.rd_dist for b in blk], np.int64),
            cat([b.rd_adv for b in blk], np.bool_),
            cat([a[1] for a in arrays], np.bool_),
            cat([a[6] for a in arrays], np.bool_),
            cat([a[2] for a in arrays], np.int64),
            cat([a[3] for a in arrays], np.int64),
            cat([a[4] for a in arrays], np.int64),
            cat([a[5] for a in arrays], np.int64),
            csr([b.mg_ptr for b in blk]),
            cat([b.mg_pos for b in blk], np.int64),
            cat([b.mg_dist for b in blk], np.int64),
            cat([b.users for b in blk], np.int64),
            valid,
        )
        if len(self._batch_cache) > 8:
            self._batch_cache.pop(next(iter(self._batch_cache)))
        self._batch_cache[hexes] = batch
        return batch

    def _layout(self, table: Table) -> tuple:
        """Per table layout (opcodes, resources), cached: key -> row, resources in
        llvm-mca's allocation order (units before groups, small groups before large),
        the fallback resource, and the resource -> unit CSR."""
        c = self._layout_cache
        if c is not None and c[0] is table.opcodes and c[1] is table.resources:
            return c[2:]
        sizes = np.array([len(u) for u in table.resource_units], np.int64)
        out = (
            table.index(),
            np.argsort(sizes, kind="stable"),
            table.fallback_resource(),
            np.cumsum([0] + [len(u) for u in table.resource_units]).astype(np.int64),
            np.array([u for us in table.resource_units for u in us], np.int64),
        )
        self._layout_cache = (table.opcodes, table.resources, *out)
        return out

    def _table_arrays(self, table: Table, keys: tuple[str, ...]) -> tuple:
        """Table rows for the batch's keys (in batch key order), FALLBACK where absent."""
        idx, order, fallback_res, ru_ptr, ru_idx = self._layout(table)
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
        return (
            lat,
            uops,
            ra,
            res_ptr,
            order[c_idx].astype(np.int64),
            ordered[r_idx, c_idx].astype(np.int64),
            ru_ptr,
            ru_idx,
            len(table.units),
            buf_ptr,
            b_col.astype(np.int64),
        )
