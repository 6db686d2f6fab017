"""A long-lived LLVM 22 worker (``native/pass_server.cpp``) and its Python client.

Starting ``opt-22`` costs tens of milliseconds (loading libLLVM, ~100 MB) before any
pass runs; most corpus modules optimise in less. The server loads libLLVM once and
then applies pass sequences to bitcode files (or to modules it keeps in memory, for
step-by-step episodes), answering instruction counts, Autophase features and ``.text``
bytes. It is compiled from source on first use with ``clang++-22`` against the
installed ``llvm-22-dev`` (~20 s), cached under ``$TUNEBENCH_CACHE/passes/bin``
(default ``~/.cache/tunebench``) by a hash of the source, the link flags and the LLVM
version.

A sequence's elements run one after another, each as its own pipeline in its own
process (forked from a zygote the server starts before reading any module), the
module passing through bitcode between them: exactly the chain ``opt-22 -passes=E1 |
opt-22 -passes=E2 | ...`` that validation re-runs, so counts equal the stock tools'
(and ``.text`` bytes equal ``llc-22 -O2 -relocation-model=pic`` on that output). Why
a process per element: some LLVM 22 passes (gvn-sink, newgvn, iroutliner) decide by
heap addresses, so in one long-lived process the same element on the same input
could give another module depending on what ran before (on 45 (module, sequence)
pairs of issue 21's runs the in-process server's count differed from opt-22's; with
a process per element 44 agree, and the 45th differs because opt-22 itself gives two
counts across runs). The server also turns address-space randomisation off for
itself, so every element's process starts from the same addresses and the same
request gets the same answer in every run (``same suite and seed, same numbers``).
The price: ~3-5 ms per element for the fork and its page faults. The bitcode after
each prefix is cached (LRU, 256 MB per server): a request that shares its first k
elements with an earlier one on the same file runs only the rest, which is what
search agents editing the ends of sequences ask for.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import select
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from envs.llvmcorpus.store import find_tools
from harness.errors import UserError

SOURCE = Path(__file__).resolve().parent / "native" / "pass_server.cpp"
# Every symbol bound at start-up: the per-element processes forked from the server's
# zygote then inherit the bindings instead of each resolving libLLVM's symbols again.
LINK_FLAGS = ("-Wl,-z,now",)
# A request running longer than this is a failed compilation (the server restarts).
TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Result:
    """The answer to one request.

    Attributes:
        ok: the passes ran (and the module verified, when asked).
        instructions: IR instructions over defined functions (-1 when not ok).
        functions: defined functions (-1 when not ok).
        text_bytes: ``.text`` bytes at llc -O2 (-1 when not asked or failed).
        features: the 56 Autophase counts, float64 [56] (None when not asked).
        trace: instruction count after each element (when asked).
        error: one line (empty when ok); failed_element: index of the element that
            failed (-1: loading, verifying, a crash or a timeout).
        wall_s: seconds the request took.
        digest: a hash of the resulting module's bitcode (when asked; '' otherwise).
    """

    ok: bool
    instructions: int = -1
    functions: int = -1
    text_bytes: int = -1
    features: np.ndarray | None = None
    trace: tuple[int, ...] = ()
    error: str = ""
    failed_element: int = -1
    wall_s: float = 0.0
    digest: str = ""


def cache_dir() -> Path:
    """``$TUNEBENCH_CACHE/passes`` (default ``~/.cache/tunebench/passes``)."""
    base = os.environ.get("TUNEBENCH_CACHE") or str(Path.home() / ".cache" / "tunebench")
    return Path(base) / "passes"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise UserError(
            f"{name} not found: the pass-ordering task builds its LLVM worker with "
            "clang++-22 and llvm-22-dev (apt-get install -y clang-22 llvm-22-dev)"
        )
    return path


@cache
def server_binary() -> Path:
    """The compiled server (built once per source and LLVM version; UserError if it
    cannot be built)."""
    version = find_tools().version
    key = hashlib.sha256(
        SOURCE.read_bytes() + version.encode() + " ".join(LINK_FLAGS).encode()
    ).hexdigest()[:12]
    binary = cache_dir() / "bin" / f"pass_server-{key}"
    if binary.is_file():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    with open(binary.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; others wait for it
        if binary.is_file():
            return binary
        config = _tool("llvm-config-22")
        cxx = _tool("clang++-22")
        cxxflags = subprocess.run(
            [config, "--cxxflags"], capture_output=True, text=True, check=True
        ).stdout.split()
        ldflags = subprocess.run(
            [config, "--ldflags"], capture_output=True, text=True, check=True
        ).stdout.split()
        fd, tmp = tempfile.mkstemp(dir=binary.parent, prefix=".pass_server-")
        os.close(fd)
        cmd = [cxx, "-O2", *cxxflags, str(SOURCE), *ldflags, "-lLLVM-22", *LINK_FLAGS, "-o", tmp]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            os.unlink(tmp)
            raise UserError(f"building the pass server failed: {run.stderr.strip()[-300:]}")
        os.replace(tmp, binary)
    return binary


def _flags(
    verify: bool,
    features: bool,
    text: bool,
    trace: bool,
    out: Path | None = None,
    digest: bool = False,
) -> str:
    names = [n for n, on in (("verify", verify), ("features", features)) if on]
    names += [n for n, on in (("text", text), ("trace", trace), ("hash", digest)) if on]
    if out is not None:
        names.append(f"out={out}")
    return ",".join(names) or "-"


class PassServer:
    """One server process (restarted after a crash or a timeout). Not thread-safe: use
    one per thread (:class:`ServerPool`)."""

    def __init__(self, timeout_s: float = TIMEOUT_S) -> None:
        self.timeout_s = float(timeout_s)
        self._proc: subprocess.Popen[str] | None = None
        self.requests = 0
        self.restarts = 0

    def _start(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [str(server_binary())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                bufsize=1,
            )
        return self._proc

    def close(self) -> None:
        """End the process (a later request starts a new one)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdin, proc.stdout):  # ours to close, dead process or not
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def __del__(self) -> None:  # noqa: D105 - best effort
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def _ask(self, fields: Sequence[str]) -> tuple[str, float]:
        """One request line -> (answer line, wall seconds); a crash or timeout gives an
        ``ERR`` line and a fresh process for the next request."""
        for f in fields:
            if "\t" in f or "\n" in f:
                raise ValueError(f"request field holds a tab or newline: {f!r}")
        t0 = time.perf_counter()
        proc = self._start()
        self.requests += 1
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write("\t".join(fields) + "\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], self.timeout_s)
            line = proc.stdout.readline() if ready else None
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            why = "timeout" if line is None else "crash"
            self.close()
            self.restarts += 1
            return f"ERR\t-1\tpass server {why}", time.perf_counter() - t0
        return line.rstrip("\n"), time.perf_counter() - t0

    @staticmethod
    def _result(line: str, wall_s: float) -> Result:
        parts = line.split("\t")
        if parts[0] != "OK" or len(parts) < 6:
            element = int(parts[1]) if len(parts) > 1 and parts[1].lstrip("-").isdigit() else -1
            return Result(
                False,
                error=parts[-1] if len(parts) > 2 else line,
                failed_element=element,
                wall_s=wall_s,
            )
        features = None if parts[4] == "-" else np.array(parts[4].split(","), dtype=np.float64)
        trace = () if parts[5] == "-" else tuple(int(x) for x in parts[5].split(","))
        return Result(
            True,
            instructions=int(parts[1]),
            functions=int(parts[2]),
            text_bytes=int(parts[3]),
            features=features,
            trace=trace,
            wall_s=wall_s,
            digest=parts[6] if len(parts) > 6 else "",
        )

    def run(
        self,
        bitcode: Path | str,
        elements: Sequence[str],
        *,
        verify: bool = True,
        features: bool = False,
        text: bool = False,
        trace: bool = False,
        out: Path | None = None,
        digest: bool = False,
    ) -> Result:
        """Apply ``elements`` (pipeline texts, in order) to the module in ``bitcode``."""
        flags = _flags(verify, features, text, trace, out, digest)
        return self._result(*self._ask(["RUN", str(bitcode), flags, *elements]))

    def load(self, sid: str, bitcode: Path | str, *, features: bool = True) -> Result:
        """Keep the module of ``bitcode`` in memory as session ``sid``; its counts."""
        return self._result(
            *self._ask(["LOAD", sid, str(bitcode), _flags(False, features, False, False)])
        )

    def step(
        self,
        sid: str,
        elements: Sequence[str],
        *,
        verify: bool = False,
        features: bool = True,
        text: bool = False,
    ) -> Result:
        """Apply ``elements`` to session ``sid`` (kept changed); the new counts."""
        flags = _flags(verify, features, text, False)
        return self._result(*self._ask(["STEP", sid, flags, *elements]))

    def free(self, sid: str) -> None:
        """Drop session ``sid`` (no error if the process restarted meanwhile)."""
        if self._proc is not None and self._proc.poll() is None:
            self._ask(["FREE", sid])

    def stats(self) -> tuple[int, int, int]:
        """(prefix-cache hits, misses, element processes started) of the current
        process (counted from its start)."""
        line, _ = self._ask(["STATS"])
        parts = line.split("\t")
        if parts[0] != "OK" or len(parts) != 4:
            raise RuntimeError(f"pass server STATS: {line}")
        return int(parts[1]), int(parts[2]), int(parts[3])


class ServerPool:
    """One :class:`PassServer` per thread that asks (threads of a task's pool)."""

    def __init__(self, timeout_s: float = TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._local = threading.local()
        self._all: list[PassServer] = []
        self._lock = threading.Lock()

    def get(self) -> PassServer:
        server = getattr(self._local, "server", None)
        if server is None:
            server = PassServer(self.timeout_s)
            self._local.server = server
            with self._lock:
                self._all.append(server)
        return server

    def close(self) -> None:
        with self._lock:
            for s in self._all:
                s.close()

    @property
    def restarts(self) -> int:
        return sum(s.restarts for s in self._all)
