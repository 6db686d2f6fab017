"""blocksim parameter tables: the Table class, its files, and extraction from llvm-mca 14.

A table holds, per *key* (an LLVM opcode, or ``OPCODE#variant`` where LLVM's models
resolve an opcode differently by its operands, see :class:`envs.blocksim.isa.InstInfo`):

- ``latency`` (cycles): write latency of every register the instruction defines;
- ``micro_ops``: micro-ops dispatched and held in the reorder buffer;
- ``resource_cycles`` [n_resources]: cycles each execution resource is held. A resource
  is a unit (a port, e.g. ``Zn3ALU1``) or a group of units (``Zn3ALU0123``, or a
  multi-unit resource such as ``Zn3LSU`` with 3 units): a use takes one free unit of the
  group for that many cycles, as llvm-mca's ResourceManager does;
- ``read_advance`` (cycles): how much earlier the instruction's explicit register
  sources may be read (LLVM's ReadAfterLd family: the load of a load-op runs first);
- ``may_load`` / ``may_store``: structural, not tunable;
- ``buffer_use``: which of the CPU's scheduler buffers the key takes an entry of
  (structural, measured with ``llvm-mca -scheduler-stats``, one region per key).

Global structure (not tunable): scheduler buffer sizes, load / store queue sizes
(measured with a probe block, see :func:`measure_load_store_queues`).

Global parameters: ``dispatch_width`` (micro-ops per cycle) and ``rob_size``
(micro-ops in flight).

Flat parameter names (:meth:`Table.param_names`): ``dispatch_width``, ``rob_size``,
``lat:KEY``, ``uops:KEY``, ``ra:KEY``, ``port.RESOURCE:KEY`` (e.g.
``port.Zn3ALU0123:ADD32rr``).

Extraction (:func:`extract_tables`) runs ``llvm-mca -instruction-tables -json`` on one
representative instruction text per key, drawn from BHive blocks, and recovers each
instruction's resource uses from llvm-mca's per-unit pressure: a group's cycles are
spread evenly over its units, so groups are found as sets of units with equal
pressure (largest first). ReadAdvance per register class is measured with dependent
load-op chains; whether 8/16-bit GPR writes depend on the old value is measured too.

Fallback for a key missing from a table (see :data:`FALLBACK`): latency 1, 1 micro-op,
no ReadAdvance, 1 cycle on the table's most used resource; memory flags from the
operands. :class:`envs.blocksim.simulator.BlockSim` counts and reports such keys.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
import re
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from envs.blocksim.isa import InstInfo, analyze
from envs.blocksim.mcaref import error_lines, mca_total_cycles, region_asm, run_mca, run_mca_json
from envs.x86.disasm import Instruction, disassemble, llvm_tool
from harness.errors import UserError

TABLE_DIR = Path(__file__).parent / "tables"
DEFAULT_CPUS = ("znver3", "znver2", "haswell", "skylake")
FORMAT_VERSION = 1
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
)
_FIELD_LOW = np.array([1, 1, 0, 1, 0, 0], np.float64)
_FIELD_HIGH = np.array([_MAX_LAT, 100_000, _MAX_LAT, _MAX_UOPS, _MAX_LAT, _MAX_LAT], np.float64)


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
        partial_gpr_dep: 8/16-bit GPR writes wait for the register's previous value.
        cmp_same_breaks: ``cmp %r, %r`` ignores its register inputs (znver3 model).
        meta: provenance (LLVM version, counts, ReadAdvance per class, ...).
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
    partial_gpr_dep: bool = False
    cmp_same_breaks: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    buffers: tuple[str, ...] = ()
    buffer_sizes: tuple[int, ...] = ()
    buffer_use: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))
    load_queue: int = 0
    store_queue: int = 0

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
            globals_: include ``dispatch_width`` and ``rob_size`` first.
        """
        idx = self.index()
        names = ["dispatch_width", "rob_size"] if globals_ else []
        keys = self.opcodes if opcodes is None else [k for k in opcodes if k in idx]
        for k in keys:
            row = idx[k]
            for f in fields:
                if f == "port":
                    for r, rname in enumerate(self.resources):
                        if ports == "all" or self.resource_cycles[row, r] > 0:
                            names.append(f"port.{rname}:{k}")
                elif f in ("lat", "uops", "ra"):
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
            if name in ("dispatch_width", "rob_size"):
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
        if name in ("dispatch_width", "rob_size"):
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
        """JSON-able dict (the on-disk format, version :data:`FORMAT_VERSION`)."""
        ops = {}
        for i, k in enumerate(self.opcodes):
            ops[k] = {
                "lat": int(self.latency[i]),
                "uops": int(self.micro_ops[i]),
                "ra": int(self.read_advance[i]),
                "load": bool(self.may_load[i]),
                "store": bool(self.may_store[i]),
                "res": {
                    self.resources[r]: int(c)
                    for r, c in enumerate(self.resource_cycles[i])
                    if c > 0
                },
            }
            if self.buffers:
                ops[k]["buf"] = [b for j, b in enumerate(self.buffers) if self.buffer_use[i, j]]
        return {
            "format": FORMAT_VERSION,
            "cpu": self.cpu,
            "dispatch_width": self.dispatch_width,
            "rob_size": self.rob_size,
            "units": list(self.units),
            "resources": [
                {"name": n, "units": list(u)}
                for n, u in zip(self.resources, self.resource_units, strict=True)
            ],
            "partial_gpr_dep": self.partial_gpr_dep,
            "cmp_same_breaks": self.cmp_same_breaks,
            "buffers": [
                {"name": b, "size": int(z)}
                for b, z in zip(self.buffers, self.buffer_sizes, strict=True)
            ],
            "load_queue": self.load_queue,
            "store_queue": self.store_queue,
            "opcodes": ops,
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Table:
        """Inverse of :meth:`to_json`."""
        if d.get("format") != FORMAT_VERSION:
            raise UserError(f"blocksim table format {d.get('format')!r} is not {FORMAT_VERSION}")
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
        buffers = tuple(b["name"] for b in d.get("buffers", ()))
        bpos = {b: j for j, b in enumerate(buffers)}
        buse = np.zeros((n, len(buffers)), bool)
        for i, k in enumerate(keys):
            o = d["opcodes"][k]
            lat[i], uops[i], ra[i] = o["lat"], o["uops"], o["ra"]
            ld[i], st[i] = o["load"], o["store"]
            for rname, c in o["res"].items():
                rc[i, rpos[rname]] = c
            for b in o.get("buf", ()):
                buse[i, bpos[b]] = True
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
            partial_gpr_dep=bool(d.get("partial_gpr_dep", False)),
            cmp_same_breaks=bool(d.get("cmp_same_breaks", False)),
            meta=dict(d.get("meta", {})),
            buffers=buffers,
            buffer_sizes=tuple(int(b["size"]) for b in d.get("buffers", ())),
            buffer_use=buse,
            load_queue=int(d.get("load_queue", 0)),
            store_queue=int(d.get("store_queue", 0)),
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


# ====================================================================================
# Extraction from llvm-mca
# ====================================================================================


@dataclass
class Representative:
    """One instruction text standing for a table key, and how often the key occurs."""

    text: str
    info: InstInfo
    opcode: str
    count: int = 0


def read_bhive_hex(path: str | Path, limit: int | None = None) -> list[str]:
    """Hex strings from a BHive ``blocks.csv.gz`` (column ``hex``), first ``limit``."""
    out: list[str] = []
    with gzip.open(path, "rt") as f:
        for row in csv.DictReader(f):
            h = (row.get("hex") or "").strip()
            if h:
                out.append(h)
            if limit is not None and len(out) >= limit:
                break
    return out


def collect_representatives(
    blocks: Sequence[tuple[Instruction, ...] | None], cmp_same_breaks: bool = True
) -> dict[str, Representative]:
    """key -> first instruction text seen for it (and its count) over decoded blocks."""
    reps: dict[str, Representative] = {}
    for block in blocks:
        if block is None:
            continue
        for inst in block:
            info = analyze(inst, cmp_same_breaks)
            rep = reps.get(info.key)
            if rep is None:
                rep = reps[info.key] = Representative(inst.text, info, inst.opcode)
            rep.count += 1
    return reps


def _clean_unit_name(name: str) -> str:
    # llvm-mca's JSON writes a multi-unit resource's units as "Name.\x00", "Name.\x01".
    m = re.fullmatch(r"(.*)\.([\x00-\x1f])", name)
    return f"{m.group(1)}.{ord(m.group(2))}" if m else name


def instruction_tables(
    texts: Sequence[str], cpu: str
) -> tuple[list[str], list[dict[str, Any] | None]]:
    """Run ``llvm-mca -instruction-tables -json`` on ``texts``.

    Returns:
        (unit names, per text: {"lat", "uops", "load", "store", "rthroughput",
        "pressure": {unit index: cycles}} or None if llvm-mca rejects the text).
    """
    rows: list[dict[str, Any] | None] = [None] * len(texts)
    todo = list(range(len(texts)))
    units: list[str] = []
    while todo:
        data, stderr = run_mca_json(
            "\n".join(texts[i] for i in todo) + "\n", cpu, ["-instruction-tables"]
        )
        if data is None:
            bad = error_lines(stderr)
            if not bad:
                raise UserError(f"llvm-mca -mcpu={cpu} failed: {stderr.strip()[:300]}")
            todo = [i for n, i in enumerate(todo, start=1) if n not in bad]
            continue
        units = [_clean_unit_name(u) for u in data["TargetInfo"]["Resources"]]
        region = data["CodeRegions"][0]
        info = region["InstructionInfoView"]["InstructionList"]
        pressure: list[dict[int, float]] = [{} for _ in todo]
        for p in region["ResourcePressureView"]["ResourcePressureInfo"]:
            if p["InstructionIndex"] < len(todo):  # the last index holds the totals
                pressure[p["InstructionIndex"]][p["ResourceIndex"]] = float(p["ResourceUsage"])
        for j, i in enumerate(todo):
            rec = info[j]
            rows[i] = {
                "lat": int(rec["Latency"]),
                "uops": int(rec["NumMicroOpcodes"]),
                "load": bool(rec["mayLoad"]),
                "store": bool(rec["mayStore"]),
                "rthroughput": float(rec["RThroughput"]),
                "pressure": pressure[j],
            }
        break
    return units, rows


def infer_resources(
    units: Sequence[str], pressures: Sequence[dict[int, float]]
) -> tuple[list[str], list[tuple[int, ...]]]:
    """Resources (units, then groups) behind per-unit pressure vectors.

    Multi-unit resources (``Name.0``, ``Name.1``, ...) are groups of their units. Other
    groups are sets of 2+ single units that carry equal, non-zero pressure in an
    instruction whose single-unit pressure is all of that one value (a "pure" use),
    with an integral total.
    """
    multi: dict[str, list[int]] = {}
    single: list[int] = []
    for u, name in enumerate(units):
        m = re.fullmatch(r"(.*)\.(\d+)", name)
        if m:
            multi.setdefault(m.group(1), []).append(u)
        else:
            single.append(u)
    single_set = set(single)
    groups: dict[frozenset[int], int] = {}
    for p in pressures:
        vals = {u: v for u, v in p.items() if u in single_set and v > 1e-9}
        if len(vals) < 2:
            continue
        distinct = {round(v, 3) for v in vals.values()}
        if len(distinct) != 1:
            continue
        v = next(iter(distinct))
        total = v * len(vals)
        if abs(total - round(total)) < 0.02 and round(total) >= 1:
            s = frozenset(vals)
            groups[s] = groups.get(s, 0) + 1
    names = [units[u] for u in single]
    members: list[tuple[int, ...]] = [(u,) for u in single]
    for base, us in sorted(multi.items()):
        names.append(base)
        members.append(tuple(us))
    for g in sorted(groups, key=lambda s: (len(s), sorted(s))):
        names.append("+".join(units[u] for u in sorted(g)))
        members.append(tuple(sorted(g)))
    return names, members


def decompose(
    pressure: dict[int, float], n_units: int, members: Sequence[tuple[int, ...]]
) -> np.ndarray:
    """int64 [n_res]: cycles per resource reproducing ``pressure`` (greedy, largest
    groups first; a group's c cycles show as c/size on each of its units)."""
    rem = np.zeros(n_units)
    for u, v in pressure.items():
        rem[u] = v
    out = np.zeros(len(members), np.int64)
    order = sorted(range(len(members)), key=lambda r: -len(members[r]))
    for r in order:
        us = list(members[r])
        if len(us) == 1:
            continue
        c = math.floor(rem[us].min() * len(us) + 1e-3)
        if c > 0:
            out[r] = c
            rem[us] -= c / len(us)
    for r, us in enumerate(members):
        if len(us) == 1:
            c = int(round(rem[us[0]]))
            if c > 0:
                out[r] = c
    return out


_RA_PROBES = {
    "gpr": "imull (%rdi), %eax",
    "vec_scalar": "mulss (%rdi), %xmm0",
    "vec_x": "mulps (%rdi), %xmm0",
    "vec_y": "vmulps (%rdi), %ymm0, %ymm0",
}


def measure_read_advance(cpu: str) -> dict[str, int]:
    """ReadAdvance per register class, from dependent load-op chains in llvm-mca:
    cycles per iteration of ``op (mem), reg`` = latency - ReadAdvance."""
    texts = list(_RA_PROBES.values())
    _, rows = instruction_tables(texts, cpu)
    totals = mca_total_cycles([[t] for t in texts], cpu, iterations=100)
    out: dict[str, int] = {}
    for (cls, _), row, total in zip(_RA_PROBES.items(), rows, totals, strict=True):
        if row is None or not np.isfinite(total):
            out[cls] = 0
            continue
        per_iter = round((total - 3) / 100)
        out[cls] = max(0, row["lat"] - per_iter)
    return out


def measure_partial_gpr_dep(cpu: str) -> bool:
    """True if an 8-bit write waits for the register's previous value in llvm-mca."""
    tot = mca_total_cycles([["imull %eax, %eax", "movb $1, %al"]], cpu, iterations=100)
    one = mca_total_cycles([["imull %eax, %eax"]], cpu, iterations=100)
    return bool(tot[0] > one[0] + 50)


def mca_globals(cpu: str) -> tuple[int, int]:
    """(dispatch width, ROB size) llvm-mca uses for ``cpu``."""
    proc = run_mca("addl %eax, %ebx\n", cpu, ["-retire-stats"])
    if proc.returncode != 0:
        raise UserError(f"llvm-mca -mcpu={cpu} failed: {proc.stderr.strip()[:200]}")
    dw = re.search(r"Dispatch Width:\s+(\d+)", proc.stdout)
    rob = re.search(r"Total ROB Entries:\s+(\d+)", proc.stdout)
    if not dw or not rob:
        raise UserError(f"cannot read dispatch width / ROB size from llvm-mca -mcpu={cpu}")
    return int(dw.group(1)), int(rob.group(1))


_QUEUE_ROW = re.compile(r"^(\S+)\s+\d+\s+(\d+)\s+(\d+)\s*$")


def measure_buffers(
    cpu: str, texts: Sequence[str]
) -> tuple[tuple[str, ...], tuple[int, ...], np.ndarray]:
    """llvm-mca's scheduler buffers and which of them each instruction takes.

    One code region per instruction, run once (``-iterations=1 -scheduler-stats``):
    a buffer whose "maximum number of used buffer entries" is 1 in a region is one the
    instruction takes (llvm-mca reserves one entry per buffer per instruction).

    Returns:
        (buffer names, their sizes in entries, bool [len(texts), n_buf]).
    """
    asm = region_asm([[t] for t in texts], [f"r{i}" for i in range(len(texts))])
    args = ["-iterations=1", "-scheduler-stats", "--instruction-info=0", "--resource-pressure=0"]
    proc = run_mca(asm, cpu, args)
    if proc.returncode != 0:
        raise UserError(f"llvm-mca -scheduler-stats -mcpu={cpu} failed: {proc.stderr[:200]}")
    regions = re.split(r"^\[\d+\] Code Region - ", proc.stdout, flags=re.M)[1:]
    if len(regions) != len(texts):
        raise UserError(f"llvm-mca gave {len(regions)} regions for {len(texts)} instructions")
    names: list[str] = []
    sizes: dict[str, int] = {}
    used: list[set[str]] = []
    for chunk in regions:
        got: set[str] = set()
        for line in chunk.split("Scheduler's queue usage:", 1)[-1].splitlines():
            m = _QUEUE_ROW.match(line)
            if m:
                if m.group(1) not in sizes:
                    names.append(m.group(1))
                    sizes[m.group(1)] = int(m.group(3))
                if int(m.group(2)) > 0:
                    got.add(m.group(1))
        used.append(got)
    use = np.array([[b in u for b in names] for u in used], bool).reshape(len(texts), len(names))
    return tuple(names), tuple(sizes[b] for b in names), use


def measure_load_store_queues(cpu: str) -> tuple[int, int]:
    """(load queue, store queue) entries of llvm-mca's LSUnit for ``cpu``; 0 = unbounded.

    Probe: three dependent multiplies (they hold up retirement) and four independent
    loads (stores), 500 iterations. If llvm-mca reports load (store) queue stalls, the
    queue size is the number of loads (stores) among the "Max Used ROB Entries" oldest
    instructions, counted from an iteration's start.
    """
    out = []
    for op, stall in (("movq {o}(%rsi), %rcx", "LQ"), ("movq %rcx, {o}(%rsi)", "SQ")):
        block = ["imulq %rax, %rax"] * 3 + [op.format(o=8 * j) for j in range(4)]
        proc = run_mca(
            "\n".join(block) + "\n",
            cpu,
            ["-iterations=500", "-dispatch-stats", "-retire-stats", "--instruction-info=0",
             "--resource-pressure=0"],
        )  # fmt: skip
        stalls = re.search(rf"^{stall}\s+-[^:]*:\s+(\d+)", proc.stdout, flags=re.M)
        rob = re.search(r"Max Used ROB Entries:\s+(\d+)", proc.stdout)
        if proc.returncode != 0 or not stalls or not rob:
            raise UserError(f"cannot read {stall} stalls from llvm-mca -mcpu={cpu}")
        if int(stalls.group(1)) == 0:
            out.append(0)
            continue
        window = int(rob.group(1))
        out.append(sum(1 for j in range(window) if j % len(block) >= 3))
    return out[0], out[1]


def ra_class(rep: Representative) -> str | None:
    """Register class whose ReadAdvance applies to ``rep``'s sources, or None."""
    if not any(adv for _, adv in rep.info.reads):
        return None
    text = rep.text
    if "%ymm" in text or "%zmm" in text:
        return "vec_y"
    if "%xmm" in text:
        return "vec_scalar" if re.search(r"S[SD](?:r?m|Zrm)", rep.opcode) else "vec_x"
    if "%mm" in text:
        return "vec_scalar"
    return "gpr"


def build_table(cpu: str, reps: dict[str, Representative]) -> Table:
    """Extract ``cpu``'s default table for the keys in ``reps`` from llvm-mca 14."""
    keys = sorted(reps)
    texts = [reps[k].text for k in keys]
    units, rows = instruction_tables(texts, cpu)
    ok = [i for i, r in enumerate(rows) if r is not None]
    res_names, members = infer_resources(units, [rows[i]["pressure"] for i in ok])  # type: ignore[index]
    ra_by_class = measure_read_advance(cpu)
    dw, rob = mca_globals(cpu)
    n = len(ok)
    lat = np.zeros(n, np.int64)
    uops = np.zeros(n, np.int64)
    ra = np.zeros(n, np.int64)
    rc = np.zeros((n, len(res_names)), np.int64)
    ld = np.zeros(n, bool)
    st = np.zeros(n, bool)
    out_keys = []
    for j, i in enumerate(ok):
        row = rows[i]
        assert row is not None
        k = keys[i]
        out_keys.append(k)
        lat[j], uops[j] = row["lat"], row["uops"]
        ld[j], st[j] = row["load"], row["store"]
        rc[j] = decompose(row["pressure"], len(units), members)
        cls = ra_class(reps[k]) if row["load"] else None
        ra[j] = ra_by_class.get(cls, 0) if cls else 0
    missing = [keys[i] for i, r in enumerate(rows) if r is None]
    buffers, buffer_sizes, buffer_use = measure_buffers(cpu, [reps[k].text for k in out_keys])
    lq, sq = measure_load_store_queues(cpu)
    version = subprocess.run(
        [llvm_tool("llvm-mca"), "--version"], capture_output=True, text=True, check=False
    ).stdout
    vm = re.search(r"LLVM version ([\w.]+)", version)
    return Table(
        cpu=cpu,
        dispatch_width=dw,
        rob_size=rob,
        units=tuple(units),
        resources=tuple(res_names),
        resource_units=tuple(members),
        opcodes=tuple(out_keys),
        latency=lat,
        micro_ops=uops,
        read_advance=ra,
        resource_cycles=rc,
        may_load=ld,
        may_store=st,
        partial_gpr_dep=measure_partial_gpr_dep(cpu),
        cmp_same_breaks=cpu == "znver3",
        buffers=buffers,
        buffer_sizes=buffer_sizes,
        buffer_use=buffer_use,
        load_queue=lq,
        store_queue=sq,
        meta={
            "source": "llvm-mca -instruction-tables -json on BHive representatives",
            "llvm_version": vm.group(1) if vm else "unknown",
            "read_advance_by_class": ra_by_class,
            "keys_rejected_by_llvm_mca": missing,
            "key_counts": {k: reps[k].count for k in out_keys},
            "representatives": {k: reps[k].text for k in out_keys},
        },
    )


def extract_tables(
    cpus: Sequence[str],
    blocks_csv: str | Path,
    limit: int | None = None,
    out_dir: str | Path = TABLE_DIR,
    log: io.TextIOBase | None = None,
) -> dict[str, Path]:
    """Decode BHive blocks once, then build and save one table per CPU.

    Returns:
        cpu -> path of the written ``<cpu>.json.gz``.
    """
    hexes = read_bhive_hex(blocks_csv, limit)
    decoded = disassemble(hexes)
    paths: dict[str, Path] = {}
    for cpu in cpus:
        reps = collect_representatives(decoded, cmp_same_breaks=cpu == "znver3")
        table = build_table(cpu, reps)
        path = Path(out_dir) / f"{cpu}.json.gz"
        table.save(path)
        paths[cpu] = path
        if log is not None:
            n_rej = len(table.meta["keys_rejected_by_llvm_mca"])
            log.write(
                f"{cpu}: {len(table.opcodes)} keys, {len(table.resources)} resources, "
                f"{n_rej} keys rejected by llvm-mca, ReadAdvance "
                f"{table.meta['read_advance_by_class']} -> {path}\n"
            )
    return paths


def key_counts(blocks: Iterable[tuple[Instruction, ...] | None]) -> Counter[str]:
    """Occurrences of each table key over decoded blocks."""
    c: Counter[str] = Counter()
    for b in blocks:
        if b is not None:
            c.update(analyze(i).key for i in b)
    return c
