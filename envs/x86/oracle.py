"""LLVM's own view of x86 instructions, from a small C++ helper (``mcoracle.cpp``).

The helper links against LLVM 14 or LLVM 22 (``llvm-config-<v>``, headers from the
``llvm-<v>-dev`` package, a C++ compiler) and prints JSON lines:

- :func:`registers`: every register (name, sub- and super-registers), the CPU's
  register files and llvm-mca's ``RenameAs`` per register; the CPU's scheduling model
  (issue width, reorder buffer, processor resources with their units and buffers, load
  and store queues);
- :func:`opcodes`: every opcode's MCInstrDesc (explicit definitions, operands,
  implicit uses and definitions, flags) and, where LLVM's encoder makes one that the
  disassembler decodes back to the same opcode, an instance (hex, AT&T text) and a
  second instance with equal registers in operands of the same class;
- :func:`describe`: per instruction of hex blocks, llvm-mca's ``InstrBuilder`` view:
  reads (register, use index, ReadAdvance, independent-from-def), writes (register,
  latency, clears super-registers), resources, buffers, micro-ops, flags;
- :func:`sched`: per opcode, whether the CPU's scheduling model describes it.

Only :mod:`envs.blocksim.tables` (table extraction) and tests use it; BlockSim itself
runs on shipped data and llvm-mc. The binary is built once per LLVM version into
``$XDG_CACHE_HOME/tunebench`` (default ``~/.cache/tunebench``), rebuilt when the
source changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from harness.errors import UserError

SOURCE = Path(__file__).with_name("mcoracle.cpp")


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tunebench"


def oracle_binary(version: int = 14) -> Path:
    """Path of the helper built against LLVM ``version``; builds it if needed.

    Raises:
        UserError: no ``llvm-config-<version>`` / headers / C++ compiler.
    """
    src = SOURCE.read_bytes()
    tag = hashlib.sha256(src + str(version).encode()).hexdigest()[:12]
    out = _cache_dir() / f"mcoracle-llvm{version}-{tag}"
    if out.exists():
        return out
    config = shutil.which(f"llvm-config-{version}") or f"/usr/lib/llvm-{version}/bin/llvm-config"
    cxx = shutil.which("c++") or shutil.which("g++")
    if not Path(config).exists() or cxx is None:
        raise UserError(
            f"building mcoracle needs llvm-config-{version} (Debian llvm-{version}-dev) and a "
            "C++ compiler (g++)"
        )

    def cfg(flag: str) -> list[str]:
        text = subprocess.run([config, flag], capture_output=True, text=True, check=True).stdout
        return [t for t in text.split() if not t.startswith("-std=")]

    libdir = cfg("--libdir")[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    cmd = [cxx, "-O1", "-std=c++17", *cfg("--cxxflags"), str(SOURCE), "-o", str(tmp),
           f"-L{libdir}", f"-Wl,-rpath,{libdir}", *cfg("--libs")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise UserError(f"building mcoracle for LLVM {version} failed: {proc.stderr[-600:]}")
    os.replace(tmp, out)
    return out


def _run(version: int, args: Sequence[str], stdin: str | None = None) -> Iterator[dict[str, Any]]:
    proc = subprocess.run(
        [str(oracle_binary(version)), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise UserError(f"mcoracle {' '.join(args)} failed: {proc.stderr.strip()[-300:]}")
    for line in proc.stdout.splitlines():
        yield json.loads(line)


def registers(cpu: str, version: int = 14) -> tuple[dict[str, Any], dict[str, Any], list[dict]]:
    """(register files line, scheduling model line, one dict per register) for ``cpu``."""
    files: dict[str, Any] = {}
    model: dict[str, Any] = {}
    regs: list[dict[str, Any]] = []
    for row in _run(version, ["regs", cpu]):
        if row["kind"] == "files":
            files = row
        elif row["kind"] == "model":
            model = row
        else:
            regs.append(row)
    return files, model, regs


def opcodes(version: int = 14) -> list[dict[str, Any]]:
    """One dict per LLVM opcode (see the module docstring)."""
    return list(_run(version, ["opcodes", "x86-64"]))


def sched(cpu: str, version: int = 14) -> list[dict[str, Any]]:
    """Per LLVM opcode, whether ``cpu``'s scheduling model describes it: ``valid`` (a
    scheduling class llvm-mca accepts; ``variant``: resolved per instance), ``uops``,
    ``pseudo``."""
    return list(_run(version, ["sched", cpu]))


def describe(blocks_hex: Sequence[str], cpu: str, version: int = 14) -> list[list[dict[str, Any]]]:
    """llvm-mca's view of each instruction of each block (a list of dicts per block).

    An instruction llvm-mca rejects for ``cpu`` has an ``error`` entry; a block whose
    bytes do not decode ends with ``{"error": "undecodable"}``.
    """
    out: list[list[dict[str, Any]]] = []
    for row in _run(version, ["describe", cpu], "\n".join(blocks_hex) + "\n"):
        if "block" in row:
            out.append([])
        else:
            out[-1].append(row)
    return out
