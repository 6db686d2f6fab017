"""Compile the C timing helper (timer.c) with the system C compiler, once, cached.

The binary lives in ``$TUNEBENCH_CACHE`` (default ``~/.cache/tunebench``) under a name
keyed by the SHA-256 of the source and the compiler flags, so an edited source is rebuilt
and concurrent first uses never see a half-written file (compile to a temporary name in
the same folder, then rename).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness.errors import UserError

SOURCE = Path(__file__).with_name("timer.c")
CFLAGS: tuple[str, ...] = ("-O2", "-std=gnu11", "-fno-stack-protector", "-fPIE", "-pie")


def cache_dir() -> Path:
    """Folder for built artefacts: ``$TUNEBENCH_CACHE`` or ``~/.cache/tunebench``."""
    env = os.environ.get("TUNEBENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "tunebench"


def check_cpu() -> None:
    """Refuse (UserError) on a CPU that is not x86-64 or has no usable ``rdtsc``."""
    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64"):
        raise UserError(
            f"tunebench measure needs an x86-64 CPU; this machine is {machine or 'unknown'}"
        )
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError as exc:
        raise UserError(
            f"tunebench measure needs Linux /proc/cpuinfo to check for rdtsc: {exc}"
        ) from exc
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = line.split(":", 1)[1].split()
            if "tsc" not in flags:
                raise UserError(
                    "tunebench measure needs the rdtsc instruction; this CPU lacks the 'tsc' flag"
                )
            return
    raise UserError("tunebench measure: /proc/cpuinfo lists no CPU flags; cannot check for rdtsc")


def compiler() -> str:
    """Path of the system C compiler (``$CC`` or ``cc``); UserError if there is none."""
    name = os.environ.get("CC", "cc")
    path = shutil.which(name)
    if path is None:
        raise UserError(f"tunebench measure needs a C compiler; {name!r} was not found on PATH")
    return path


def compiler_version() -> str:
    """First line of ``cc --version``."""
    out = subprocess.run([compiler(), "--version"], capture_output=True, text=True, check=False)
    return (
        (out.stdout or out.stderr).splitlines()[0].strip()
        if (out.stdout or out.stderr)
        else "unknown"
    )


def source_hash() -> str:
    """SHA-256 (hex, 16 chars) of timer.c plus the compiler flags: the cache key."""
    h = hashlib.sha256(SOURCE.read_bytes())
    h.update(" ".join(CFLAGS).encode())
    return h.hexdigest()[:16]


def helper_path() -> Path:
    """Return the compiled helper, compiling it first if the cache has no current build."""
    check_cpu()
    target = cache_dir() / f"timer-{source_hash()}"
    if target.is_file() and os.access(target, os.X_OK):
        return target
    cc = compiler()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".timer-", dir=target.parent)
    os.close(fd)
    try:
        proc = subprocess.run(
            [cc, *CFLAGS, "-o", tmp, str(SOURCE)], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            first = (proc.stderr.strip().splitlines() or ["no message"])[0]
            raise UserError(f"compiling the timing helper with {cc} failed: {first}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
