"""C compiler wrapper used as ``CC`` while a package builds: run the real compile, then
emit each C translation unit's pre-optimization bitcode and log it.

Standalone on purpose (stdlib only, run with ``python -S``): build systems call it
thousands of times, so it must start fast and must not import tunebench.

Environment (set by ``envs.llvmcorpus.build``):
    CORPUS_CC_REAL   the real compiler (clang-22); required.
    CORPUS_CC_LOG    JSON-lines log to append one record per C source to. Unset (as
                     during ``./configure``): plain pass-through, nothing logged.
    CORPUS_CC_BCDIR  folder for the bitcode files (named by a hash of source + flags).
    CORPUS_CC_FLAGS  the bitcode flags, space separated (e.g. ``-Oz -Xclang
                     -disable-llvm-passes -emit-llvm``).

While building, the package's own command runs unchanged (its objects and the programs
it runs while building need it), except that ``-Werror`` flags are dropped: clang-22
warns about things the package's authors never saw. Its exit status is the wrapper's.
While configuring (no log), the command runs exactly as given.

Each log record (one line of JSON): ``cwd``, ``source`` (absolute path), ``args`` (the
flags kept for the bitcode compile), ``bitcode`` (path, or null), ``error`` (first line
of the compiler's message, or null), ``stage`` (``build`` when the package's own compile
failed, ``bitcode`` when only the bitcode compile did), ``wall_s``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time

C_SUFFIXES = (".c",)
# Flags that name the output or only affect dependency files, warnings, debug info,
# optimization level or linking: dropped from the bitcode compile, which sets its own.
_DROP_WITH_ARG = {"-o", "-MF", "-MT", "-MQ", "-Xlinker", "-T", "-l", "-L", "-u", "-z"}
_DROP_EXACT = {
    "-c",
    "-S",
    "-E",
    "-M",
    "-MM",
    "-MD",
    "-MMD",
    "-MP",
    "-MG",
    "-pipe",
    "-shared",
    "-static",
    "-rdynamic",
    "-pie",
    "-no-pie",
    "-s",
    "-save-temps",
    "-v",
    "-w",
    "-pedantic",
    "-pedantic-errors",
    "-ansi",
}
_DROP_PREFIX = (
    "-O",
    "-g",
    "-W",
    "-l",
    "-L",
    "-flto",
    "-fprofile",
    "-fsanitize",
    "-fcoverage",
    "-ftest-coverage",
    "-fdebug",
    "-fdiagnostics",
    "-fcolor",
    "-save-temps",
    "-fno-sanitize",
    "-fmessage-length",
    "-ferror-limit",
)


def split_args(argv: list[str]) -> tuple[list[str], list[str], bool]:
    """Split a compiler command line (without argv[0]).

    Returns ``(sources, flags, compiles)``: the C source files it compiles, the flags to
    keep for a bitcode compile, and whether it compiles at all (False for ``-E``,
    ``-M``-only, ``--version`` and link-only commands).
    """
    sources: list[str] = []
    flags: list[str] = []
    compiles = True
    lang: str | None = None  # the language set by -x, which applies to later inputs
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-E", "-M", "-MM") or a.startswith("--version") or a in ("-v", "-###"):
            compiles = False
        if a == "-x" and i + 1 < len(argv):
            lang = argv[i + 1]
            i += 2
            continue
        if a.startswith("-x") and len(a) > 2:
            lang = a[2:]
            i += 1
            continue
        if a in _DROP_WITH_ARG:
            i += 2
            continue
        if a in ("-Xclang", "-mllvm", "-include", "-imacros", "-isystem", "-iquote", "-I"):
            flags += argv[i : i + 2]
            i += 2
            continue
        if a in ("-D", "-U", "-idirafter", "-isysroot", "--sysroot", "-target", "-arch"):
            flags += argv[i : i + 2]
            i += 2
            continue
        if a.startswith("-Wl,") or a.startswith("-Wa,") or a.startswith("-Wp,"):
            i += 1
            continue
        if a in _DROP_EXACT or a.startswith(_DROP_PREFIX) or a.startswith("-M"):
            i += 1
            continue
        if a.startswith("-") and a != "-":
            flags.append(a)
            i += 1
            continue
        # An input file. /dev/null and pipes are compiler feature probes, not TUs.
        is_c = (lang in (None, "c") and a.endswith(C_SUFFIXES)) or lang == "c"
        if is_c and os.path.isfile(a):
            sources.append(a)  # C++, assembly and objects are not C TUs: ignored
        i += 1
    return sources, flags, compiles and bool(sources)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if "error" in line.lower():
            return line.strip()[:300]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0][:300] if lines else "no message"


def _log(path: str, record: dict) -> None:
    # One write() of one line with O_APPEND: concurrent wrappers (make -j) do not
    # interleave records on a local file system.
    data = (json.dumps(record, sort_keys=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def bitcode_name(source: str, flags: list[str], bc_flags: list[str]) -> str:
    """File name of a TU's bitcode: a hash of its absolute path and every flag."""
    h = hashlib.sha256("\0".join([source, *flags, "|", *bc_flags]).encode())
    return h.hexdigest()[:24] + ".bc"


def emit_bitcode(
    real: str, cwd: str, source: str, flags: list[str], bc_flags: list[str], bcdir: str
) -> tuple[str | None, str | None]:
    """Compile one C source to bitcode; returns ``(bitcode path, None)`` or ``(None, error)``."""
    out = os.path.join(bcdir, bitcode_name(os.path.abspath(source), flags, bc_flags))
    if os.path.exists(out):  # the same TU with the same flags, built a second time
        return out, None
    tmp = f"{out}.{os.getpid()}.tmp"
    lang = [] if source.endswith(C_SUFFIXES) else ["-x", "c"]  # was given with -x c
    cmd = [real, *flags, *bc_flags, "-w", "-c", *lang, source, "-o", tmp]
    run = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        if os.path.exists(tmp):
            os.unlink(tmp)
        return None, _first_line(run.stderr or run.stdout)
    os.replace(tmp, out)
    return out, None


def main(argv: list[str]) -> int:
    """Run the package's compile, then log and emit bitcode for its C TUs."""
    real = os.environ.get("CORPUS_CC_REAL")
    if not real:
        sys.stderr.write("ccwrap: CORPUS_CC_REAL is not set\n")
        return 2
    log = os.environ.get("CORPUS_CC_LOG")
    if not log:
        # Configuring: exactly the command given (feature tests may rely on -Werror).
        os.execv(real, [real, *argv])
    args = [a for a in argv if not (a == "-Werror" or a.startswith("-Werror="))]
    sources, flags, compiles = split_args(args)
    if not compiles:
        os.execv(real, [real, *args])
    start = time.perf_counter()
    run = subprocess.run([real, *args], capture_output=True, text=True, check=False)
    sys.stdout.write(run.stdout)
    sys.stderr.write(run.stderr)
    cwd = os.getcwd()
    bc_flags = os.environ.get("CORPUS_CC_FLAGS", "").split()
    bcdir = os.environ["CORPUS_CC_BCDIR"]
    for source in sources:
        record = {"cwd": cwd, "source": os.path.abspath(source), "args": flags}
        if run.returncode != 0:
            bc, err, stage = None, _first_line(run.stderr or run.stdout), "build"
        else:
            bc, err = emit_bitcode(real, cwd, source, flags, bc_flags, bcdir)
            stage = "bitcode" if err else None
        record.update(bitcode=bc, error=err, stage=stage)
        record["wall_s"] = round(time.perf_counter() - start, 4)
        _log(log, record)
    return run.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
