"""blocksim parameter tables: the Table class and its files.

A table holds, per *key* (an LLVM opcode, or ``OPCODE#variant`` where LLVM's models
resolve an opcode differently by its operands, see :mod:`envs.blocksim.isa`):

- ``latency`` (cycles): the instruction's latency (llvm-mca's MaxLatency: it retires
  that long after issue); each register write has it plus a structural offset
  (``write_offsets``, <= 0: MULX's low half, XADD's flags are ready sooner);
- ``micro_ops``: micro-ops dispatched and held in the reorder buffer;
- ``resource_cycles`` [n_resources]: cycles each execution resource is held. A resource
  is a unit (a port, e.g. ``Zn3ALU1``) or a group of units (``Zn3ALU0123``, or a
  multi-unit resource such as ``Zn3LSU`` with 3 units): a use takes one free unit of the
  group for that many cycles, as llvm-mca's ResourceManager does. Resources are the
  scheduling model's own (names and groups as LLVM defines them), in llvm-mca's
  allocation order (units, then groups by size);
- ``read_advance`` (cycles): how much earlier the reads listed in ``advance_uses`` (by
  use index, see :mod:`envs.blocksim.isa`) may be read (LLVM's ReadAfterLd family:
  the load of a load-op runs first); ``fixed_advance``: structural per-use advances
  that are not tuned (negative ones: a read that waits longer);
- ``may_load`` / ``may_store``: structural, not tunable;
- ``buffer_use``: which of the CPU's scheduler buffers the key takes an entry of;
- ``independent_uses``: reads a zero / dependency-breaking idiom ignores (e.g.
  ``XOR32rr#same`` on znver3);
- ``move``: llvm-mca may eliminate the instruction as a register move (when the
  CPU's register file allows it for the destination);
- ``reserved``: groups the key reserves whole for some cycles (DIV on Intel models).

Per CPU structure (not tunable): scheduler buffer sizes, load / store queue sizes,
llvm-mca's register renaming (``rename_as``: a write to a register renamed as a wider
one is a partial write of that one unless it clears the upper part; ``move_elim``:
registers whose register file eliminates moves), the LLVM version of the model.

Global parameters: ``dispatch_width`` (micro-ops per cycle) and ``rob_size``
(micro-ops in flight).

Flat parameter names (:meth:`Table.param_names`): ``dispatch_width``, ``rob_size``,
``lat:KEY``, ``uops:KEY``, ``ra:KEY``, ``port.RESOURCE:KEY`` (e.g.
``port.Zn3ALU0123:ADD32rr``).

Tables are extracted from LLVM's scheduling models by :mod:`envs.blocksim.extract`.

Fallback for a key missing from a table (see :data:`FALLBACK`): latency 1, 1 micro-op,
no ReadAdvance, 1 cycle on the table's most used resource; memory flags from the
operands. :class:`envs.blocksim.simulator.BlockSim` counts and reports such keys.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import UserError

TABLE_DIR = Path(__file__).parent / "tables"
DEFAULT_CPUS = ("znver3", "znver2", "haswell", "skylake", "znver4", "znver5")
# LLVM version whose scheduling model a CPU's table comes from (LLVM 14 has no znver4).
CPU_LLVM = {"znver3": 14, "znver2": 14, "haswell": 14, "skylake": 14, "znver4": 22, "znver5": 22}
FORMAT_VERSION = 2
FALLBACK = {"lat": 1, "uops": 1, "ra": 0, "port_cycles": 1}
_MAX_LAT = 1000
_MAX_UOPS = 1000


# Flat-parameter targets (see Table._locate) and their clipping bounds.
_FIELDS = (
    "dispatch_width",
    "rob_size",
    "latency",
    "micro_ops",
    "read_advance",
    "resource_cycles",
    "store_forward",
    "store_forward_fail",
    "store_forward_stack",
    "front_end_width",
)
_GLOBALS = (
    "dispatch_width",
    "rob_size",
    "store_forward",
    "store_forward_fail",
    "store_forward_stack",
    "front_end_width",
)
_FIELD_LOW = np.array([1, 1, 0, 1, 0, 0, 0, 0, 0, 1], np.float64)
_FIELD_HIGH = np.array([_MAX_LAT, 100_000, _MAX_LAT, _MAX_UOPS] + [_MAX_LAT] * 6, np.float64)
# Default store-to-load forwarding latency of the opt-in memory model (cycles from
# the store's data to the dependent load's result), fitted on the training split of
# the shipped znver3 measurements (bench/blocksim_memdeps.py).
STORE_FORWARD_DEFAULT = 5
# Default wait of a load that overlaps an earlier store only in part (forwarding fails;
# the BHive-state memory model, envs/blocksim/bhive_state.py): cycles from the store's
# data to the load's result, chosen on the training split (bench/blocksim_memdeps.py).
STORE_FORWARD_FAIL_DEFAULT = 16
# ... and of a stack-relative store -> load pair the core renames through its memory
# file (AMD Zen 2 on; envs/blocksim/bhive_state.py).
STORE_FORWARD_STACK_DEFAULT = 1
# Instructions the front end passes per cycle in the opt-in front-end bound (x86
# instructions, not LLVM micro-ops: Zen 3 dispatches 6 macro-ops, and most instructions
# are one; envs/blocksim/simulator.py, ``front_end``).
FRONT_END_WIDTH_DEFAULT = 6


@dataclass(frozen=True)
class FlatIndex:
    """Locations of a fixed list of flat parameter names in one table layout.

    Attributes:
        names: the d names.
        opcodes / resources: the layout it was made for.
        fields: int64 [d], index into ``_FIELDS``; rows / cols: int64 [d], table row and
            resource column (-1 where not applicable).
    """

    names: tuple[str, ...]
    opcodes: tuple[str, ...]
    resources: tuple[str, ...]
    fields: np.ndarray
    rows: np.ndarray
    cols: np.ndarray


@dataclass(frozen=True)
class Table:
    """A CPU's full blocksim parameter table (see module docstring for semantics).

    Attributes:
        cpu: llvm-mca CPU name the defaults came from.
        dispatch_width: micro-ops dispatched per cycle.
        rob_size: reorder-buffer entries (micro-ops).
        units: n_units execution unit names (``Zn3LSU.0`` .. for multi-unit resources).
        resources: n_res resource names (units first, then groups).
        resource_units: per resource, the indices into ``units`` it can use.
        opcodes: n_op keys.
        latency: int64 [n_op], cycles.
        micro_ops: int64 [n_op].
        read_advance: int64 [n_op], cycles.
        resource_cycles: int64 [n_op, n_res], cycles each resource is held.
        may_load: bool [n_op]; may_store: bool [n_op].
        buffers / buffer_sizes: llvm-mca's scheduler buffers (``Zn3Int``: 96 entries,
            ``HWPortAny``: 60, ...); empty in tables made before they were modelled.
        buffer_use: bool [n_op, n_buf], the buffers each key takes one entry of, from
            dispatch until it issues.
        load_queue / store_queue: entries of llvm-mca's load / store queue (one per
            load / store, from dispatch until it retires); 0 = unbounded.
        llvm_version: major version of the LLVM whose model this is (14 or 22); blocks
            are decoded with that version's llvm-mc.
        write_offsets: per key, per write slot, cycles added to ``latency`` (<= 0).
        advance_uses: per key, the use indices ``read_advance`` applies to.
        fixed_advance: per key, (use index, cycles) advances that are not tuned.
        independent_uses: per key, use indices whose reads the key ignores (idioms).
        move: bool [n_op], llvm-mca's optimizable register move.
        rename_as: register -> the register llvm-mca renames it as (register files).
        move_elim: registers whose register file eliminates moves into them.
        store_forward: store-to-load forwarding latency (cycles) of the opt-in memory
            model (:mod:`envs.blocksim.memdeps`); a parameter only when it is on.
        store_forward_fail, store_forward_stack: the BHive-state model's waits (cycles)
            for a load overlapping a store in part and for a stack slot renamed through
            the memory file (:mod:`envs.blocksim.bhive_state`); parameters when it is on.
        front_end_width: instructions per cycle of the opt-in front-end bound; a
            parameter when it is on.
        extensions: opt-in models beyond llvm-mca this table is for (``"memory"``,
            ``"setcc_zero"``, ``"bhive_state"``, ``"front_end"``).
        reserved: per key, (resource, cycles) of groups it reserves whole (llvm-mca
            reserves a group whose every unit the instruction needs: no other
            instruction may use the group meanwhile; structural).
        meta: provenance (LLVM version, representatives, coverage, ...).
    """

    cpu: str
    dispatch_width: int
    rob_size: int
    units: tuple[str, ...]
    resources: tuple[str, ...]
    resource_units: tuple[tuple[int, ...], ...]
    opcodes: tuple[str, ...]
    latency: np.ndarray
    micro_ops: np.ndarray
    read_advance: np.ndarray
    resource_cycles: np.ndarray
    may_load: np.ndarray
    may_store: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    buffers: tuple[str, ...] = ()
    buffer_sizes: tuple[int, ...] = ()
    buffer_use: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))
    load_queue: int = 0
    store_queue: int = 0
    llvm_version: int = 14
    write_offsets: tuple[tuple[int, ...], ...] = ()
    advance_uses: tuple[tuple[int, ...], ...] = ()
    fixed_advance: tuple[tuple[tuple[int, int], ...], ...] = ()
    independent_uses: tuple[tuple[int, ...], ...] = ()
    move: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    rename_as: dict[str, str] = field(default_factory=dict)
    move_elim: frozenset[str] = frozenset()
    store_forward: int = STORE_FORWARD_DEFAULT
    store_forward_fail: int = STORE_FORWARD_FAIL_DEFAULT
    store_forward_stack: int = STORE_FORWARD_STACK_DEFAULT
    front_end_width: int = FRONT_END_WIDTH_DEFAULT
    extensions: tuple[str, ...] = ()
    reserved: tuple[tuple[tuple[int, int], ...], ...] = ()

    # ---- lookup ---------------------------------------------------------------
    def index(self) -> dict[str, int]:
        """key -> row (shared: do not modify)."""
        return self._key_rows

    @cached_property
    def _key_rows(self) -> dict[str, int]:
        return {k: i for i, k in enumerate(self.opcodes)}

    def fallback_resource(self) -> int:
        """Resource index used by :data:`FALLBACK`: the one most opcodes use."""
        counts = (self.resource_cycles > 0).sum(axis=0)
        return int(np.argmax(counts)) if counts.size else 0

    def copy(self) -> Table:
        """Deep copy (arrays copied)."""
        return replace(
            self,
            latency=self.latency.copy(),
            micro_ops=self.micro_ops.copy(),
            read_advance=self.read_advance.copy(),
            resource_cycles=self.resource_cycles.copy(),
            may_load=self.may_load.copy(),
            may_store=self.may_store.copy(),
            meta=dict(self.meta),
            buffer_use=self.buffer_use.copy(),
            move=self.move.copy(),
        )

    # ---- flat parameter vectors -------------------------------------------------
    def param_names(
        self,
        opcodes: Iterable[str] | None = None,
        ports: str = "used",
        fields: Sequence[str] = ("lat", "uops", "ra", "port"),
        globals_: bool = True,
    ) -> list[str]:
        """Names of a flat parameter vector.

        Args:
            opcodes: keys to include (default: all); keys not in the table are skipped.
            ports: ``"used"``: only resources the key uses in this table (cycles > 0);
                ``"all"``: every resource.
            fields: per-key fields among ``lat``, ``uops``, ``ra``, ``port``.
            globals_: include ``dispatch_width`` and ``rob_size`` first (and
                ``store_forward`` when the memory model is on).

        ``ra:KEY`` is listed only for keys with reads it applies to.
        """
        idx = self.index()
        names = ["dispatch_width", "rob_size"] if globals_ else []
        if globals_ and "memory" in self.extensions:
            names.append("store_forward")
        if globals_ and "bhive_state" in self.extensions:
            names.extend(["store_forward_fail", "store_forward_stack"])
        if globals_ and "front_end" in self.extensions:
            names.append("front_end_width")
        keys = self.opcodes if opcodes is None else [k for k in opcodes if k in idx]
        for k in keys:
            row = idx[k]
            for f in fields:
                if f == "port":
                    for r, rname in enumerate(self.resources):
                        if ports == "all" or self.resource_cycles[row, r] > 0:
                            names.append(f"port.{rname}:{k}")
                elif f == "ra":
                    if not self.advance_uses or self.advance_uses[row]:
                        names.append(f"ra:{k}")
                elif f in ("lat", "uops"):
                    names.append(f"{f}:{k}")
                else:
                    raise ValueError(f"unknown table field {f!r}")
        return names

    def to_flat(self, names: Sequence[str]) -> np.ndarray:
        """float64 [len(names)]: the current values of the named parameters."""
        idx = self.index()
        res = {r: i for i, r in enumerate(self.resources)}
        out = np.empty(len(names))
        for j, name in enumerate(names):
            arr, row, col = self._locate(name, idx, res)
            out[j] = float(
                getattr(self, arr)
                if row is None
                else (getattr(self, arr)[row] if col is None else getattr(self, arr)[row, col])
            )
        return out

    def flat_index(self, names: Sequence[str]) -> FlatIndex:
        """Where each named parameter lives; reuse it for many :meth:`with_flat` calls
        with the same names (tables of the same CPU layout)."""
        idx = self.index()
        res = {r: i for i, r in enumerate(self.resources)}
        fields = np.empty(len(names), np.int64)
        rows = np.full(len(names), -1, np.int64)
        cols = np.full(len(names), -1, np.int64)
        for j, name in enumerate(names):
            arr, row, col = self._locate(name, idx, res)
            fields[j] = _FIELDS.index(arr)
            rows[j] = -1 if row is None else row
            cols[j] = -1 if col is None else col
        return FlatIndex(tuple(names), self.opcodes, self.resources, fields, rows, cols)

    def with_flat(
        self, names: Sequence[str] | FlatIndex, values: Sequence[float] | np.ndarray
    ) -> Table:
        """A copy with the named parameters set; values are rounded to integers and
        clipped (latency, ReadAdvance, port cycles >= 0; micro-ops >= 1; dispatch
        width, ROB size >= 1). ``names`` may be a :meth:`flat_index` of them."""
        fi = names if isinstance(names, FlatIndex) else self.flat_index(names)
        if (fi.opcodes, fi.resources) != (self.opcodes, self.resources):
            raise ValueError("flat index made for a table with another layout")
        v = np.asarray(values, np.float64).reshape(-1)
        if len(v) != len(fi.names):
            raise ValueError(f"{len(fi.names)} names but {len(v)} values")
        bad = ~np.isfinite(v)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise ValueError(f"parameter {fi.names[j]} = {values[j]} is not finite")
        iv = np.rint(v)  # round half to even, as Python's round()
        lo = _FIELD_LOW[fi.fields]
        hi = _FIELD_HIGH[fi.fields]
        iv = np.minimum(np.maximum(iv, lo), hi).astype(np.int64)
        new = self.copy()
        glob: dict[str, int] = {}
        for f, name in enumerate(_FIELDS):
            sel = fi.fields == f
            if not sel.any():
                continue
            if name in _GLOBALS:
                glob[name] = int(iv[sel][-1])
            elif name == "resource_cycles":
                new.resource_cycles[fi.rows[sel], fi.cols[sel]] = iv[sel]
            else:
                getattr(new, name)[fi.rows[sel]] = iv[sel]
        return replace(new, **glob) if glob else new

    @staticmethod
    def _locate(
        name: str, idx: dict[str, int], res: dict[str, int]
    ) -> tuple[str, int | None, int | None]:
        if name in _GLOBALS:
            return name, None, None
        head, sep, key = name.partition(":")
        if not sep or key not in idx:
            raise KeyError(f"unknown table parameter {name!r}")
        row = idx[key]
        if head == "lat":
            return "latency", row, None
        if head == "uops":
            return "micro_ops", row, None
        if head == "ra":
            return "read_advance", row, None
        if head.startswith("port.") and head[5:] in res:
            return "resource_cycles", row, res[head[5:]]
        raise KeyError(f"unknown table parameter {name!r}")

    # ---- files --------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """JSON-able dict (the on-disk format, version :data:`FORMAT_VERSION`); fields at
        their usual value are left out of each key's entry to keep the files small."""
        ops = {}
        for i, k in enumerate(self.opcodes):
            o: dict[str, Any] = {
                "lat": int(self.latency[i]),
                "uops": int(self.micro_ops[i]),
                "res": {
                    self.resources[r]: int(c)
                    for r, c in enumerate(self.resource_cycles[i])
                    if c > 0
                },
            }
            if self.read_advance[i]:
                o["ra"] = int(self.read_advance[i])
            if self.may_load[i]:
                o["load"] = True
            if self.may_store[i]:
                o["store"] = True
            if self.buffers:
                o["buf"] = [b for j, b in enumerate(self.buffers) if self.buffer_use[i, j]]
            if self.write_offsets and any(self.write_offsets[i]):
                o["wofs"] = list(self.write_offsets[i])
            if self.advance_uses and self.advance_uses[i]:
                o["adv"] = list(self.advance_uses[i])
            if self.fixed_advance and self.fixed_advance[i]:
                o["fadv"] = [list(p) for p in self.fixed_advance[i]]
            if self.independent_uses and self.independent_uses[i]:
                o["indep"] = list(self.independent_uses[i])
            if self.move.size and self.move[i]:
                o["move"] = True
            if self.reserved and self.reserved[i]:
                o["rsv"] = [[self.resources[r], int(c)] for r, c in self.reserved[i]]
            ops[k] = o
        return {
            "format": FORMAT_VERSION,
            "cpu": self.cpu,
            "llvm_version": self.llvm_version,
            "dispatch_width": self.dispatch_width,
            "rob_size": self.rob_size,
            "units": list(self.units),
            "resources": [
                {"name": n, "units": list(u)}
                for n, u in zip(self.resources, self.resource_units, strict=True)
            ],
            "buffers": [
                {"name": b, "size": int(z)}
                for b, z in zip(self.buffers, self.buffer_sizes, strict=True)
            ],
            "load_queue": self.load_queue,
            "store_queue": self.store_queue,
            "rename_as": dict(sorted(self.rename_as.items())),
            "move_elim": sorted(self.move_elim),
            "store_forward": self.store_forward,
            "store_forward_fail": self.store_forward_fail,
            "store_forward_stack": self.store_forward_stack,
            "front_end_width": self.front_end_width,
            "extensions": list(self.extensions),
            "opcodes": ops,
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Table:
        """Inverse of :meth:`to_json`."""
        if d.get("format") != FORMAT_VERSION:
            raise UserError(
                f"blocksim table format {d.get('format')!r} is not {FORMAT_VERSION}: "
                "regenerate it with `tunebench blocksim-tables`"
            )
        resources = tuple(r["name"] for r in d["resources"])
        rpos = {r: i for i, r in enumerate(resources)}
        keys = tuple(sorted(d["opcodes"]))
        n, m = len(keys), len(resources)
        lat = np.zeros(n, np.int64)
        uops = np.zeros(n, np.int64)
        ra = np.zeros(n, np.int64)
        rc = np.zeros((n, m), np.int64)
        ld = np.zeros(n, bool)
        st = np.zeros(n, bool)
        mv = np.zeros(n, bool)
        buffers = tuple(b["name"] for b in d.get("buffers", ()))
        bpos = {b: j for j, b in enumerate(buffers)}
        buse = np.zeros((n, len(buffers)), bool)
        wofs, adv, fadv, indep, rsv = [], [], [], [], []
        for i, k in enumerate(keys):
            o = d["opcodes"][k]
            lat[i], uops[i], ra[i] = o["lat"], o["uops"], o.get("ra", 0)
            ld[i], st[i], mv[i] = o.get("load", False), o.get("store", False), o.get("move", False)
            for rname, c in o["res"].items():
                rc[i, rpos[rname]] = c
            for b in o.get("buf", ()):
                buse[i, bpos[b]] = True
            wofs.append(tuple(o.get("wofs", ())))
            adv.append(tuple(o.get("adv", ())))
            fadv.append(tuple((int(u), int(c)) for u, c in o.get("fadv", ())))
            indep.append(tuple(o.get("indep", ())))
            rsv.append(tuple((rpos[n], int(c)) for n, c in o.get("rsv", ())))
        return cls(
            cpu=d["cpu"],
            dispatch_width=int(d["dispatch_width"]),
            rob_size=int(d["rob_size"]),
            units=tuple(d["units"]),
            resources=resources,
            resource_units=tuple(tuple(r["units"]) for r in d["resources"]),
            opcodes=keys,
            latency=lat,
            micro_ops=uops,
            read_advance=ra,
            resource_cycles=rc,
            may_load=ld,
            may_store=st,
            meta=dict(d.get("meta", {})),
            buffers=buffers,
            buffer_sizes=tuple(int(b["size"]) for b in d.get("buffers", ())),
            buffer_use=buse,
            load_queue=int(d.get("load_queue", 0)),
            store_queue=int(d.get("store_queue", 0)),
            llvm_version=int(d.get("llvm_version", 14)),
            write_offsets=tuple(wofs),
            advance_uses=tuple(adv),
            fixed_advance=tuple(fadv),
            independent_uses=tuple(indep),
            move=mv,
            rename_as=dict(d.get("rename_as", {})),
            move_elim=frozenset(d.get("move_elim", ())),
            store_forward=int(d.get("store_forward", STORE_FORWARD_DEFAULT)),
            store_forward_fail=int(d.get("store_forward_fail", STORE_FORWARD_FAIL_DEFAULT)),
            store_forward_stack=int(d.get("store_forward_stack", STORE_FORWARD_STACK_DEFAULT)),
            front_end_width=int(d.get("front_end_width", FRONT_END_WIDTH_DEFAULT)),
            extensions=tuple(d.get("extensions", ())),
            reserved=tuple(rsv),
        )

    def save(self, path: str | Path) -> None:
        """Write gzip-compressed JSON atomically (temp file, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(gzip.compress(data, mtime=0))
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; tables are shipped data
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> Table:
        """Read a table written by :meth:`save`."""
        with gzip.open(path, "rt") as f:
            return cls.from_json(json.load(f))


def table_path(cpu: str) -> Path:
    """Path of the shipped default table of ``cpu``."""
    return TABLE_DIR / f"{cpu}.json.gz"


def load_default_table(cpu: str) -> Table:
    """The shipped default table of ``cpu``; UserError if none is shipped."""
    path = table_path(cpu)
    if not path.exists():
        have = sorted(p.name.split(".")[0] for p in TABLE_DIR.glob("*.json.gz"))
        raise UserError(
            f"no blocksim table for cpu {cpu!r} (have {have}); "
            f"run `python -m envs.blocksim.cli blocksim-tables --cpus {cpu}`"
        )
    return Table.load(path)


def read_bhive_hex(path: str | Path, limit: int | None = None) -> list[str]:
    """Hex strings from a CSV (plain or gzip) with a ``hex`` column, first ``limit``."""
    out: list[str] = []
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as f:  # type: ignore[operator]
        for row in csv.DictReader(f):
            h = (row.get("hex") or "").strip()
            if h:
                out.append(h)
            if limit is not None and len(out) >= limit:
                break
    return out
