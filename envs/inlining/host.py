"""Our host for LLVM 22's interactive ML inliner, and the native size measurement.

Protocol (read from LLVM's InteractiveModelRunner / TrainingLogger, reimplemented):
``opt -enable-ml-inliner=release -inliner-interactive-channel-base=B`` writes to
``B.out`` and reads from ``B.in`` (both named pipes we create). On ``B.out`` it sends
one JSON line ``{"features": [{"name", "type", "shape", "port"}, ...], "advice": ...}``,
then ``{"context": ""}``; then, for every call site the ML advisor is asked about,
a line ``{"observation": N}``, the raw little-endian bytes of each feature tensor in
header order, and a newline. It then blocks until it has read the advice tensor
(one int64: 1 = inline, 0 = don't) from ``B.in``. With
``-inliner-interactive-include-default`` the heuristic's own decision is appended as
the feature ``inlining_default``. Mandatory, recursive and impossible call sites are
never sent.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from envs.inlining.tools import llvm_tools

# The 38 call-site features of LLVM 22's MLGO inliner plus the heuristic's decision,
# in the order opt sends them (checked against each header; a mismatch is an error).
FEATURE_NAMES: tuple[str, ...] = (
    "sroa_savings",
    "sroa_losses",
    "load_elimination",
    "call_penalty",
    "call_argument_setup",
    "load_relative_intrinsic",
    "lowered_call_arg_setup",
    "indirect_call_penalty",
    "jump_table_penalty",
    "case_cluster_penalty",
    "switch_default_dest_penalty",
    "switch_penalty",
    "unsimplified_common_instructions",
    "num_loops",
    "dead_blocks",
    "simplified_instructions",
    "constant_args",
    "constant_offset_ptr_args",
    "callsite_cost",
    "cold_cc_penalty",
    "last_call_to_static_bonus",
    "is_multiple_blocks",
    "nested_inlines",
    "nested_inline_cost_estimate",
    "threshold",
    "callee_basic_block_count",
    "callsite_height",
    "node_count",
    "nr_ctant_params",
    "cost_estimate",
    "edge_count",
    "caller_users",
    "caller_conditionally_executed_blocks",
    "caller_basic_block_count",
    "callee_conditionally_executed_blocks",
    "callee_users",
    "is_callee_avail_external",
    "is_caller_avail_external",
    "inlining_default",
)
N_FEATURES = len(FEATURE_NAMES)
DEFAULT_INDEX = FEATURE_NAMES.index("inlining_default")

# The -Oz pipeline whose inliner asks our host; codegen at -O2, as clang -Oz does,
# position-independent like Debian's clang (so the objects link as PIE executables).
OPT_PIPELINE = "default<Oz>"
LLC_FLAGS: tuple[str, ...] = ("-O2", "-relocation-model=pic")

# A decider maps one call site's features, float64 [N_FEATURES] in FEATURE_NAMES
# order (raw integer counts as floats), to True (inline) or False.
Decider = Callable[[np.ndarray], bool]

# opt busy-loops if its inbound pipe hits EOF, i.e. if our process dies in the middle
# of a compilation: setpriv makes the kernel kill opt when its parent thread dies.
_DIE_WITH_PARENT: tuple[str, ...] = (
    ("setpriv", "--pdeathsig", "KILL") if shutil.which("setpriv") else ()
)

_DTYPES = {"int64_t": np.dtype("<i8"), "int32_t": np.dtype("<i4"), "float": np.dtype("<f4")}


class CompileError(RuntimeError):
    """opt or llc failed on a module (the message has the tool's stderr tail)."""


@dataclass(frozen=True)
class CompileResult:
    """One compilation of one module under one policy.

    Attributes:
        text_bytes: size of the object's ``.text*`` sections, bytes.
        n_decisions: call sites the policy was asked about.
        n_inlined: of those, how many it inlined.
        n_default_agree: of those, how many matched the heuristic's decision.
        wall_s: seconds for opt + llc.
        opt_s: seconds from starting opt to its exit (includes ``decide_s``).
        decide_s: seconds spent inside the policy (``decide``), summed over call sites.
        llc_s: seconds of llc (code generation) and reading the object's size.
    """

    text_bytes: int
    n_decisions: int
    n_inlined: int
    n_default_agree: int
    wall_s: float
    opt_s: float = 0.0
    decide_s: float = 0.0
    llc_s: float = 0.0


def default_decider(features: np.ndarray) -> bool:
    """The -Oz heuristic's own decision (echoed back from ``inlining_default``)."""
    return bool(features[DEFAULT_INDEX] != 0)


def compile_with_policy(
    ir_path: str | Path,
    decide: Decider,
    keep_object: str | Path | None = None,
    timeout_s: float = 120.0,
) -> CompileResult:
    """Optimise ``ir_path`` at -Oz asking ``decide`` at every call site; measure .text.

    Args:
        ir_path: an LLVM 22 bitcode or text IR module (pre-optimisation -Oz IR).
        decide: the policy, called once per call site in the order opt visits them.
        keep_object: if given, the object file is copied there (to link and run it).
        timeout_s: opt is killed once it has kept us waiting this many seconds for
            one message (CompileError); time spent inside ``decide`` does not count.
    """
    tools = llvm_tools()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tb-inline-") as tmp:
        base = os.path.join(tmp, "chan")
        out_bc, obj = os.path.join(tmp, "out.bc"), os.path.join(tmp, "out.o")
        os.mkfifo(base + ".in")
        os.mkfifo(base + ".out")
        # Opening both FIFOs read-write never blocks, so there is no open-order
        # deadlock with opt, and opt's opens succeed at once because we hold both ends.
        to_opt = os.open(base + ".in", os.O_RDWR)
        from_opt = os.open(base + ".out", os.O_RDWR)
        err_path = os.path.join(tmp, "opt.err")
        try:
            with open(err_path, "wb") as err:
                proc = subprocess.Popen(
                    [
                        *_DIE_WITH_PARENT,
                        tools.opt,
                        f"-passes={OPT_PIPELINE}",
                        "-enable-ml-inliner=release",
                        f"-inliner-interactive-channel-base={base}",
                        "-inliner-interactive-include-default",
                        str(ir_path),
                        "-o",
                        out_bc,
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                )
            try:
                n, n_in, n_agree, decide_s = _serve(proc, from_opt, to_opt, decide, timeout_s)
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
        finally:
            os.close(to_opt)
            os.close(from_opt)
        if proc.returncode != 0:
            raise CompileError(f"opt failed on {ir_path}: {_tail(err_path)}")
        t_opt = time.perf_counter()
        run = subprocess.run(
            [tools.llc, *LLC_FLAGS, "-filetype=obj", out_bc, "-o", obj],
            capture_output=True,
            text=True,
            check=False,
        )
        if run.returncode != 0:
            raise CompileError(f"llc failed on {ir_path}: {run.stderr.strip()[-400:]}")
        size = text_section_bytes(obj)
        if keep_object is not None:
            shutil.copyfile(obj, keep_object)
    t_end = time.perf_counter()
    return CompileResult(size, n, n_in, n_agree, t_end - t0, t_opt - t0, decide_s, t_end - t_opt)


def _serve(
    proc: subprocess.Popen[bytes], from_opt: int, to_opt: int, decide: Decider, timeout_s: float
) -> tuple[int, int, int, float]:
    """Answer opt's observations until it exits; (decisions, inlined, agreeing, seconds
    spent in ``decide``)."""
    reader = _Reader(from_opt, proc, timeout_s)
    header = reader.line()
    if header is None:  # the module had no inliner run (e.g. no functions)
        return 0, 0, 0, 0.0
    specs = json.loads(header)["features"]
    names = tuple(s["name"] for s in specs)
    if names != FEATURE_NAMES:
        raise CompileError(f"unexpected feature list from opt: {names}")
    layout = [(_DTYPES[s["type"]], int(np.prod(s["shape"]))) for s in specs]
    obs_bytes = sum(dt.itemsize * k for dt, k in layout)
    n = n_in = n_agree = 0
    decide_s = 0.0
    while True:
        line = reader.line()
        if line is None:
            return n, n_in, n_agree, decide_s
        if line.startswith(b'{"context"') or not line.strip():
            continue
        if not line.startswith(b'{"observation"'):
            raise CompileError(f"unexpected line from opt: {line[:80]!r}")
        raw = reader.exact(obs_bytes + 1)  # the tensors, then endObservation's newline
        if raw is None:
            raise CompileError("opt exited in the middle of an observation")
        features = _decode(raw[:obs_bytes], layout)
        t = time.perf_counter()
        inline = bool(decide(features))
        decide_s += time.perf_counter() - t
        os.write(to_opt, struct.pack("<q", int(inline)))
        n += 1
        n_in += int(inline)
        n_agree += int(inline == (features[DEFAULT_INDEX] != 0))


def _decode(raw: bytes, layout: list[tuple[np.dtype, int]]) -> np.ndarray:
    out = np.empty(N_FEATURES, dtype=np.float64)
    pos = 0
    for i, (dt, k) in enumerate(layout):
        # Every inliner feature is a scalar ([1]); keep the first element of others.
        out[i] = np.frombuffer(raw, dtype=dt, count=k, offset=pos)[0]
        pos += dt.itemsize * k
    return out


class _Reader:
    """Buffered reads from opt's FIFO that end (None) once opt has exited.

    We hold the FIFO open read-write, so EOF never comes: the end is seen as the
    process's exit (a pidfd) with no bytes left in the pipe.
    """

    def __init__(self, fd: int, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
        self.fd, self.proc, self.timeout_s = fd, proc, timeout_s
        self.buf = bytearray()
        self.pidfd = os.pidfd_open(proc.pid)
        self.exited = False

    def _fill(self) -> bool:
        deadline = time.perf_counter() + self.timeout_s
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise CompileError("opt timed out")
            ready, _, _ = select.select([self.fd, self.pidfd], [], [], min(left, 1.0))
            if self.fd in ready:
                self.buf += os.read(self.fd, 1 << 16)
                return True
            if self.pidfd in ready:
                os.close(self.pidfd)
                self.pidfd = -1
                self.exited = True
                return False

    def line(self) -> bytes | None:
        while b"\n" not in self.buf:
            if self.exited or not self._fill():
                return None
        cut = self.buf.index(b"\n") + 1
        out = bytes(self.buf[:cut])
        del self.buf[:cut]
        return out

    def exact(self, n: int) -> bytes | None:
        while len(self.buf) < n:
            if self.exited or not self._fill():
                return None
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def __del__(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)


def heuristic_text_bytes(ir_path: str | Path, keep_object: str | Path | None = None) -> int:
    """.text bytes of plain ``opt -passes=default<Oz>`` + llc (no ML advisor at all)."""
    tools = llvm_tools()
    with tempfile.TemporaryDirectory(prefix="tb-inline-") as tmp:
        out_bc, obj = os.path.join(tmp, "out.bc"), os.path.join(tmp, "out.o")
        for cmd in (
            [tools.opt, f"-passes={OPT_PIPELINE}", str(ir_path), "-o", out_bc],
            [tools.llc, *LLC_FLAGS, "-filetype=obj", out_bc, "-o", obj],
        ):
            run = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if run.returncode != 0:
                raise CompileError(f"{Path(cmd[0]).name} failed: {run.stderr.strip()[-400:]}")
        if keep_object is not None:
            shutil.copyfile(obj, keep_object)
        return text_section_bytes(obj)


def text_section_bytes(obj_path: str | Path) -> int:
    """Sum of the sizes of the ``.text`` and ``.text.*`` sections of an ELF64 LE object."""
    data = Path(obj_path).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise CompileError(f"{obj_path}: not a little-endian ELF64 object")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def header(i: int) -> tuple[int, int, int]:
        name, _type, _flags, _addr, offset, size = struct.unpack_from(
            "<IIQQQQ", data, shoff + i * shentsize
        )
        return name, offset, size

    strtab_off = header(shstrndx)[1]
    total = 0
    for i in range(shnum):
        name_off, _, size = header(i)
        end = data.index(b"\0", strtab_off + name_off)
        name = data[strtab_off + name_off : end].decode()
        if name == ".text" or name.startswith(".text."):
            total += size
    return total


def _tail(path: str, n: int = 400) -> str:
    try:
        return Path(path).read_text(errors="replace").strip()[-n:]
    except OSError:
        return ""
