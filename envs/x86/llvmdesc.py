"""Shipped descriptions of LLVM's x86 opcodes and registers, one file per LLVM version.

``envs/x86/data/llvm<V>.json.gz`` holds, for LLVM ``V`` (14 or 22):

- ``registers``: register number -> name (llvm-mc 14 prints numbers), and per register
  its sub- and super-registers (the unit of llvm-mca's register dependencies);
- ``opcodes``: per opcode: explicit definitions (``n_defs``), fixed operand count
  (``n_ops``), implicit uses and definitions, which writes clear their
  super-registers (per write: explicit definitions, then implicit ones; LLVM's
  ``clearsSuperRegisters``: 32-bit GPR writes, VEX/EVEX writes to vector registers),
  and the operand shape that selects a scheduling variant (``variant``: ``same``,
  ``lea``, ``cc``, ``imm0`` or empty; see :mod:`envs.blocksim.isa`);
- ``instances``: per decodable opcode, one instance (hex bytes), e.g. for
  single-instruction benchmarks.

The file is written by :func:`build_desc` from :mod:`envs.x86.oracle` (LLVM's own
MCInstrDesc, MCRegisterInfo and llvm-mca's InstrBuilder), as part of
``tunebench blocksim-tables``; at run time only this file and llvm-mc are needed.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import UserError

DATA_DIR = Path(__file__).with_name("data")
FORMAT = 1


@dataclass(frozen=True)
class OpcodeDesc:
    """One opcode as llvm-mca's InstrBuilder reads it.

    Attributes:
        name: LLVM opcode name.
        n_defs: explicit definitions (MCInst operands 0 .. n_defs-1).
        n_ops: fixed operands; register operands n_defs .. n_ops-1 are explicit uses
            (use index = operand index - n_defs), implicit uses follow
            (use index n_ops - n_defs + j).
        uses / defs: implicit registers (names as LLVM prints them, e.g. ``EFLAGS``).
        clears: per write (explicit definitions, then implicit ones), whether it
            clears the register's super-registers.
        variant: operand shape selecting a scheduling variant ("" if none).
    """

    name: str
    n_defs: int
    n_ops: int
    uses: tuple[str, ...]
    defs: tuple[str, ...]
    clears: tuple[bool, ...]
    variant: str


@dataclass(frozen=True)
class LLVMDesc:
    """All opcode and register descriptions of one LLVM version (see module docstring)."""

    version: int
    llvm: str
    reg_names: dict[int, str]
    subregs: dict[str, tuple[str, ...]]
    superregs: dict[str, tuple[str, ...]]
    opcodes: dict[str, OpcodeDesc]
    instances: dict[str, str]

    def opcode(self, name: str) -> OpcodeDesc | None:
        """The opcode's description, or None if LLVM has no such (decodable) opcode."""
        return self.opcodes.get(name)


def desc_path(version: int) -> Path:
    return DATA_DIR / f"llvm{version}.json.gz"


@functools.lru_cache(maxsize=4)
def load_desc(version: int = 14) -> LLVMDesc:
    """The shipped description of LLVM ``version``; UserError if not shipped."""
    path = desc_path(version)
    if not path.exists():
        raise UserError(
            f"no x86 description for LLVM {version} ({path}); run `tunebench blocksim-tables`"
        )
    with gzip.open(path, "rt") as f:
        d = json.load(f)
    if d.get("format") != FORMAT:
        raise UserError(f"{path}: format {d.get('format')!r} is not {FORMAT}")
    ops = {
        name: OpcodeDesc(
            name, o[0], o[1], tuple(o[2]), tuple(o[3]), tuple(bool(c) for c in o[4]), o[5]
        )
        for name, o in d["opcodes"].items()
    }
    return LLVMDesc(
        version=version,
        llvm=d["llvm"],
        reg_names={int(k): v for k, v in d["reg_names"].items()},
        subregs={k: tuple(v) for k, v in d["subregs"].items()},
        superregs={k: tuple(v) for k, v in d["superregs"].items()},
        opcodes=ops,
        instances=dict(d["instances"]),
    )


# ---- building (extraction time) -------------------------------------------------------

_CC_VARIANT = re.compile(r"^(?:CMOV\d+r[rm]|SETCC[rm])$")
_LEA = re.compile(r"^LEA(?:16|32|64|64_32)r$")
_IMM0_VARIANT = re.compile(r"^(?:ADC|SBB)(?:16|32|64)ri8$")


def _write_signature(rows: list[dict[str, Any]]) -> tuple:
    """What a scheduling variant can change, for comparing two instances of an opcode."""
    r = rows[0]
    if "error" in r:
        return ("error",)
    return (
        r["class"],
        bool(r["zero_idiom"]),
        bool(r["dep_breaking"]),
        tuple(x["indep"] for x in r["reads"]),
        bool(r["opt_move"]),
    )


def build_desc(
    version: int, cpus: Sequence[str], rows: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The description of LLVM ``version`` (see module docstring), as a JSON-able dict.

    Variant shapes: ``same`` where some CPU's llvm-mca treats the instance whose
    source registers are equal differently (zero idioms, dependency breaking, or a
    scheduling variant); ``lea``/``cc``/``imm0`` for the opcodes whose scheduling
    variants depend on the address shape, the condition code or a zero immediate
    in some CPU's model (checked against llvm-mca by the table extraction).
    """
    from envs.x86 import oracle

    rows = oracle.opcodes(version) if rows is None else rows
    _, _, regs = oracle.registers(cpus[0], version)
    inst = {r["opcode"]: r["hex"] for r in rows if r["hex"]}
    same = {r["opcode"]: r["hex_same"] for r in rows if r["hex"] and r["hex_same"]}
    names = sorted(inst)
    same_names = sorted(same)
    variant: dict[str, str] = {}
    clears: dict[str, list[bool]] = {}
    variant_opcodes: set[str] = set()
    for cpu in cpus:
        base = oracle.describe([inst[n] for n in names], cpu, version)
        for n, b in zip(names, base, strict=True):
            r = b[0] if b else {"error": "undecodable"}
            if "error" in r:
                continue
            clears.setdefault(n, [bool(w["clears"]) for w in r["writes"]])
            if r["variant"]:
                variant_opcodes.add(n)
        base_sig = {n: _write_signature(b) for n, b in zip(names, base, strict=True) if b}
        for n, b in zip(
            same_names, oracle.describe([same[n] for n in same_names], cpu, version), strict=True
        ):
            if (
                b
                and base_sig.get(n) not in (None, ("error",))
                and _write_signature(b) != base_sig[n]
            ):
                variant[n] = "same"
    for n in variant_opcodes:
        if _LEA.match(n):
            variant[n] = "lea"
        elif _CC_VARIANT.match(n):
            variant[n] = "cc"
        elif _IMM0_VARIANT.match(n):
            variant[n] = "imm0"
        else:
            variant.setdefault(n, "same")
    opcodes = {}
    for r in rows:
        if r["pseudo"]:
            continue
        n = r["opcode"]
        opcodes[n] = [
            r["n_defs"],
            r["n_ops"],
            r["uses"],
            r["defs"],
            clears.get(n, []),
            variant.get(n, ""),
        ]
    version_text = _llvm_version(version)
    return {
        "format": FORMAT,
        "llvm": version_text,
        "reg_names": {str(r["id"]): r["name"] for r in regs},
        "subregs": {r["name"]: r["subs"] for r in regs if r["subs"]},
        "superregs": {r["name"]: r["supers"] for r in regs if r["supers"]},
        "opcodes": opcodes,
        "instances": inst,
    }


def _llvm_version(version: int) -> str:
    import subprocess

    from envs.x86.disasm import llvm_tool

    out = subprocess.run(
        [llvm_tool("llvm-mc", version), "--version"], capture_output=True, text=True, check=False
    ).stdout
    m = re.search(r"LLVM version ([\w.]+)", out)
    return m.group(1) if m else str(version)


def save_desc(d: dict[str, Any], version: int) -> Path:
    """Write ``d`` to the shipped file of LLVM ``version`` atomically; its path."""
    path = desc_path(version)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(d, sort_keys=True, separators=(",", ":")).encode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(gzip.compress(data, mtime=0))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    load_desc.cache_clear()
    return path
