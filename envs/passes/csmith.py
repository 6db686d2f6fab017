"""csmith programs for output-preservation checks: generate, compile to bitcode, build
an executable from an optimised module and compare its printed checksum.

A program is ``csmith --seed S --max-funcs 8`` (cached), compiled exactly as the corpus
compiles C (``clang-22 -Oz -Xclang -disable-llvm-passes -emit-llvm``); its reference
output is that of the same source built with ``clang-22 -O0``. Programs whose
reference run does not finish within ``RUN_TIMEOUT_S`` are no test and are skipped.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

from envs.llvmcorpus.measure import LLC_FLAGS
from envs.llvmcorpus.store import find_tools
from envs.passes.server import cache_dir
from harness.errors import UserError

CSMITH_INCLUDE = Path("/usr/include/csmith")
CSMITH_FLAGS: tuple[str, ...] = ("--max-funcs", "8")
# The corpus's bitcode flags (envs/llvmcorpus/README.md), plus csmith's headers.
BITCODE_FLAGS: tuple[str, ...] = (
    "-Oz",
    "-Xclang",
    "-disable-llvm-passes",
    "-emit-llvm",
    "-c",
    "-w",
)
RUN_TIMEOUT_S = 10.0


def _key(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def csmith_source(seed: int) -> Path:
    """The C program csmith writes for ``seed`` (generated once, then cached)."""
    if not (CSMITH_INCLUDE / "csmith.h").is_file():
        raise UserError("csmith.h not found: apt-get install -y csmith libcsmith-dev")
    path = cache_dir() / "csmith" / f"csmith-{seed}-{_key(CSMITH_FLAGS)}.c"
    if not path.is_file():
        with tempfile.TemporaryDirectory(prefix="csmith-") as scratch:  # it writes files
            try:
                run = subprocess.run(
                    ["csmith", "--seed", str(seed), *CSMITH_FLAGS],
                    capture_output=True,
                    cwd=scratch,
                    check=False,
                )
            except FileNotFoundError:
                raise UserError("csmith not found: apt-get install -y csmith") from None
        if run.returncode != 0:
            raise UserError(f"csmith --seed {seed} failed")
        _atomic_write(path, run.stdout)
    return path


def bitcode_of(source: Path) -> Path:
    """Pre-optimisation bitcode of a C file, as the corpus makes it (cached)."""
    tools = find_tools()
    key = _key(tools.version, BITCODE_FLAGS, source.read_bytes())
    path = cache_dir() / "csmith" / f"{source.stem}-{key}.bc"
    if not path.is_file():
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".bc.tmp")
        os.close(fd)
        cmd = [tools.clang, *BITCODE_FLAGS, f"-I{CSMITH_INCLUDE}", str(source), "-o", tmp]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            os.unlink(tmp)
            raise UserError(f"clang-22 failed on {source}: {run.stderr.strip()[-200:]}")
        os.replace(tmp, path)
    return path


def _run_exe(exe: Path) -> str | None:
    try:
        run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None
    return run.stdout if run.returncode == 0 else None


def reference_output(source: Path) -> str | None:
    """What the program prints built at -O0 (cached); None if it does not finish."""
    path = cache_dir() / "csmith" / f"{source.stem}-{_key(source.read_bytes())}.out"
    if path.is_file():
        text = path.read_text()
        return None if text == "<timeout>" else text
    with tempfile.TemporaryDirectory(prefix="csmith-ref-") as tmp:
        exe = Path(tmp) / "ref"
        cmd = [find_tools().clang, "-O0", "-w", f"-I{CSMITH_INCLUDE}", str(source), "-o", str(exe)]
        subprocess.run(cmd, check=True, capture_output=True)
        out = _run_exe(exe)
    _atomic_write(path, (out if out is not None else "<timeout>").encode())
    return out


def output_of_bitcode(bitcode: Path) -> str | None:
    """What a (possibly optimised) program module prints, built through ``llc-22`` with
    the task's codegen flags and linked by ``clang-22``; None if it does not finish or
    does not build."""
    tools = find_tools()
    with tempfile.TemporaryDirectory(prefix="csmith-run-") as tmp:
        obj, exe = Path(tmp) / "p.o", Path(tmp) / "p"
        llc = subprocess.run(
            [tools.llc, *LLC_FLAGS, "-filetype=obj", str(bitcode), "-o", str(obj)],
            capture_output=True,
            check=False,
        )
        if llc.returncode != 0:
            return None
        link = subprocess.run(
            [tools.clang, str(obj), "-o", str(exe)], capture_output=True, check=False
        )
        if link.returncode != 0:
            return None
        return _run_exe(exe)
