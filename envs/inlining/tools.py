"""Locating the LLVM 22 tools (opt, llc, clang) the inlining environment drives."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from harness.errors import UserError

LLVM_MAJOR = 22
# Debian installs versioned names on PATH and the plain names under /usr/lib/llvm-22/bin.
_LLVM_BIN = Path(f"/usr/lib/llvm-{LLVM_MAJOR}/bin")


@dataclass(frozen=True)
class LlvmTools:
    """Absolute paths of the tools; ``version`` is opt's, e.g. ``22.1.8``."""

    opt: str
    llc: str
    clang: str
    version: str


def _find(name: str, package: str) -> str:
    for candidate in (f"{name}-{LLVM_MAJOR}", str(_LLVM_BIN / name)):
        path = shutil.which(candidate)
        if path:
            return path
    raise UserError(
        f"{name}-{LLVM_MAJOR} not found: install the Debian package {package} "
        f"(apt-get install -y {package})"
    )


@cache
def llvm_tools() -> LlvmTools:
    """The LLVM 22 tools; UserError naming the apt package if one is missing.

    LLVM 22 is required: its interactive ML inliner needs no TensorFlow, and older
    Debian builds (19) put the heuristic's decision in the wrong feature slot.
    """
    opt = _find("opt", f"llvm-{LLVM_MAJOR}")
    llc = _find("llc", f"llvm-{LLVM_MAJOR}")
    clang = _find("clang", f"clang-{LLVM_MAJOR}")
    out = subprocess.run([opt, "--version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"LLVM version (\d+\.\d+\.\d+)", out)
    if not match or not match.group(1).startswith(f"{LLVM_MAJOR}."):
        raise UserError(f"{opt} is not LLVM {LLVM_MAJOR} (got {out.strip()[:80]!r})")
    return LlvmTools(opt=opt, llc=llc, clang=clang, version=match.group(1))


def llvm_available() -> str | None:
    """None when the tools are usable, else the reason (for tests that must skip)."""
    try:
        llvm_tools()
    except UserError as exc:
        return str(exc)
    return None
