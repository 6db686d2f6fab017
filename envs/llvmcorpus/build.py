"""Build one package's modules: unpack, configure, make through the wrapper, collect.

Inputs: a :class:`~envs.llvmcorpus.recipes.Recipe`, the unpacked Debian source tree and
a number of parallel jobs. Output: a package folder in the cache holding ``bc/<source
path>.bc`` (one module per C source file) and ``manifest.json`` (modules, facts, skips),
written last and atomically, so a folder with a manifest is complete.

The package's build runs in a scratch copy of the tree with ``CC`` set to a wrapper
(:mod:`envs.llvmcorpus.ccwrap`) that runs each compile unchanged and then compiles the
same C source with the same flags to bitcode (``BITCODE_FLAGS``). Configuring runs
through the wrapper too, in pass-through mode, so feature tests see clang-22.
"""

from __future__ import annotations

import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from envs.llvmcorpus import ccwrap
from envs.llvmcorpus.measure import MeasureError, measure_module
from envs.llvmcorpus.recipes import Recipe
from harness.errors import UserError

# clang at -Oz with every LLVM pass disabled: the module as clang's front end emits it,
# which is what `opt -Oz` starts from (identical to the `.llvmbc` section MLGO's
# extract_ir reads from objects built with `-Oz -Xclang -fembed-bitcode=all`).
# -Oz puts `minsize optsize` on every function, as MLGO's inlining-for-size corpora
# have; debug info is left out (-g is dropped): it changes no code and bloats modules.
BITCODE_FLAGS: tuple[str, ...] = ("-Oz", "-Xclang", "-disable-llvm-passes", "-emit-llvm")
CONFIGURE_TIMEOUT_S = 1800
MAKE_TIMEOUT_S = 3 * 3600

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass(frozen=True)
class Tools:
    """Absolute paths of the LLVM 22 tools and their version (e.g. ``22.1.8``)."""

    clang: str
    opt: str
    llc: str
    version: str


@dataclass
class ModuleRecord:
    """One module of a package, as stored in its manifest (paths relative to it)."""

    source: str
    bitcode: str
    args: list[str]
    functions: int
    instructions: int
    oz_functions: int
    oz_instructions: int
    oz_text_bytes: int
    structural_hash: str


@dataclass
class Skip:
    """A translation unit (or a whole package, source '') left out, and why."""

    source: str
    stage: str  # configure, build, bitcode, verify, outside, empty
    reason: str


def _sh(cmd: list[str] | tuple[str, ...]) -> str:
    return " ".join(shlex.quote(c) for c in cmd)


def write_wrapper(path: Path, python: str = sys.executable) -> Path:
    """Write the ``CC`` shell script that runs ccwrap with ``python -S``; returns it.

    Build systems want one executable path as the compiler, not a command line.
    """
    script = f'#!/bin/sh\nexec {shlex.quote(python)} -S {shlex.quote(ccwrap.__file__)} "$@"\n'
    path.write_text(script)
    path.chmod(0o755)
    return path


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):  # configure and make say what failed at the end
        if "error" in ln.lower():
            return ln[:300]
    return lines[-1][:300] if lines else "no output"


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float, log: Path) -> str | None:
    """Run a build step, appending its output to ``log``; None if ok, else a reason."""
    with open(log, "a") as out:
        out.write(f"\n$ {_sh(cmd)}   (in {cwd})\n")
        out.flush()
        try:
            run = subprocess.run(
                cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return f"{cmd[0]} ran over {timeout:.0f} s"
        except OSError as exc:
            return f"{cmd[0]}: {exc}"
    if run.returncode == 0:
        return None
    tail = log.read_text(errors="replace")[-20000:]
    return f"{Path(cmd[0]).name} exited {run.returncode}: {_first_line(tail)}"


def _files_makefile(recipe: Recipe, build_dir: Path) -> Path:
    """A Makefile compiling each listed source to an object with the recipe's flags."""
    sources = sorted({p for pat in recipe.files for p in glob.glob(pat, root_dir=build_dir)})
    if not sources:
        raise UserError(f"{recipe.package}: no sources match {recipe.files}")
    flags = _sh(recipe.cflags)
    lines = ["all: " + " ".join(f"{s}.o" for s in sources), ""]
    for s in sources:
        lines += [f"{s}.o: {s}", f"\t$(CC) {flags} -c {shlex.quote(s)} -o {shlex.quote(s)}.o", ""]
    path = build_dir / "corpus.mk"
    path.write_text("\n".join(lines))
    return path


def run_build(
    recipe: Recipe,
    tree: Path,
    work: Path,
    tools: Tools,
    jobs: int,
    progress: Progress | None = None,
) -> tuple[Path, Path, list[Skip]]:
    """Copy ``tree`` into ``work``, configure and build it through the wrapper.

    Returns ``(copied tree, wrapper log, package-level skips)``; the skips list is
    non-empty (one entry) when configuring failed and nothing was built. The build
    itself runs with ``make -k``: a TU that fails is logged and the rest go on.
    """
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    src = work / "tree"
    shutil.copytree(tree, src, symlinks=True)
    _same_mtime(src)
    build_dir = src / recipe.subdir
    wrapper = write_wrapper(work / "cc")
    cc_log, out_log = work / "cc.jsonl", work / "build.log"
    bcdir = work / "bc"
    bcdir.mkdir()
    env = dict(os.environ)
    env.update(
        CORPUS_CC_REAL=tools.clang,
        CORPUS_CC_BCDIR=str(bcdir),
        CORPUS_CC_FLAGS=" ".join(BITCODE_FLAGS),
        CC=str(wrapper),
        LC_ALL="C",
        # gnulib's configure (coreutils) refuses to run as root without this.
        FORCE_UNSAFE_CONFIGURE="1",
    )
    env.pop("CORPUS_CC_LOG", None)  # configure: pass-through
    for var in ("CFLAGS", "CPPFLAGS", "LDFLAGS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(var, None)
    if recipe.kind == "autotools":
        # configure's default is "-g -O2"; the bitcode compile drops -g anyway, and the
        # package's own compile is faster without debug information.
        env["CFLAGS"] = "-O2"
    steps: list[list[str]] = [list(c) for c in recipe.pre]
    make_dir = build_dir
    if recipe.kind == "autotools":
        steps.append(["./configure", *recipe.configure])
    elif recipe.kind == "cmake":
        make_dir = build_dir / "_build"
        steps.append(
            [
                "cmake",
                "-S",
                ".",
                "-B",
                "_build",
                "-G",
                "Unix Makefiles",
                f"-DCMAKE_C_COMPILER={wrapper}",
                "-DCMAKE_BUILD_TYPE=Release",
                *recipe.configure,
            ]
        )
    elif recipe.kind == "files":
        _files_makefile(recipe, build_dir)
    elif recipe.kind != "make":
        raise UserError(f"{recipe.package}: unknown recipe kind {recipe.kind!r}")
    if progress:
        progress("configure", 0, 0)
    for cmd in steps:
        reason = _run(cmd, build_dir, env, CONFIGURE_TIMEOUT_S, out_log)
        if reason:
            return src, cc_log, [Skip("", "configure", reason)]
    env["CORPUS_CC_LOG"] = str(cc_log)
    make = ["make", "-k", f"-j{jobs}", f"CC={wrapper}", *recipe.make]
    if recipe.kind == "files":
        make[1:1] = ["-f", "corpus.mk"]
    total = sum(1 for _ in src.rglob("*.c"))
    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(_run, make, make_dir, env, MAKE_TIMEOUT_S, out_log)
        while not job.done():
            time.sleep(1.0)
            if progress:
                progress("build", _count_lines(cc_log), total)
        job.result()  # make -k exits non-zero when some TU failed: the log says which
    return src, cc_log, []


def _same_mtime(root: Path) -> None:
    """Give every file under ``root`` the same modification time.

    Debian's patches touch ``configure.ac``/``Makefile.am``, which makes automake's
    rules want to regenerate ``configure`` with tools this machine lacks. With equal
    times nothing looks out of date; the tarball's generated files are used, with
    Debian's changes to the code itself applied.
    """
    now = time.time()
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.utime(path, (now, now))


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def _is_pic(args: list[str]) -> bool:
    return any(a in ("-fPIC", "-fpic", "-DPIC") for a in args)


def collect(cc_log: Path, src: Path) -> tuple[dict[str, dict], list[Skip]]:
    """Read the wrapper log: one chosen record per source (relative path) and the skips.

    A source compiled several times with different flags (libtool's PIC and non-PIC
    objects, a library file built again into a program) gives one module: the PIC
    variant if there is one (what a distribution ships in shared libraries), then the
    one with the smallest flag list in sort order, so the choice does not depend on
    the order ``make -j`` ran things in.
    """
    by_source: dict[str, list[dict]] = {}
    skips: list[Skip] = []
    failed: dict[str, Skip] = {}
    root = Path(os.path.abspath(src))
    if cc_log.exists():
        for line in cc_log.read_text().splitlines():
            rec = json.loads(line)
            # abspath, not realpath: a symlinked source keeps the name the build used.
            path = Path(os.path.abspath(rec["source"]))
            try:
                rel = str(path.relative_to(root))
            except ValueError:
                skips.append(Skip(str(path), "outside", "source outside the package tree"))
                continue
            if rec["bitcode"]:
                by_source.setdefault(rel, []).append(rec)
            else:
                failed.setdefault(rel, Skip(rel, rec["stage"], rec["error"]))
    chosen = {}
    for rel, recs in by_source.items():
        rec = dict(min(recs, key=lambda r: (not _is_pic(r["args"]), sorted(r["args"]))))
        # The scratch tree's path is machine-specific and gone after the build.
        rec["args"] = [a.replace(str(root), "$TREE") for a in rec["args"]]
        chosen[rel] = rec
    skips += [s for rel, s in sorted(failed.items()) if rel not in chosen]
    return chosen, skips


def _store_name(rel: str) -> str:
    return "bc/" + rel.replace(os.sep, "/") + ".bc"


def measure_all(
    chosen: dict[str, dict], out: Path, tools: Tools, jobs: int, progress: Progress | None = None
) -> tuple[list[ModuleRecord], list[Skip]]:
    """Copy each chosen bitcode into ``out/bc`` and measure it (``jobs`` at a time)."""
    items = sorted(chosen.items())
    modules: list[ModuleRecord] = []
    skips: list[Skip] = []

    def one(item: tuple[str, dict]) -> ModuleRecord | Skip:
        rel, rec = item
        dest = out / _store_name(rel)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(rec["bitcode"], dest)
        try:
            facts = measure_module(dest, tools.opt, tools.llc)
        except MeasureError as exc:
            dest.unlink()
            return Skip(rel, "verify", str(exc))
        if facts.functions == 0:
            dest.unlink()  # only declarations or data: nothing to optimize
            return Skip(rel, "empty", "no function definitions")
        return ModuleRecord(
            source=rel, bitcode=_store_name(rel), args=list(rec["args"]), **asdict(facts)
        )

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        for i, result in enumerate(pool.map(one, items), 1):
            (modules if isinstance(result, ModuleRecord) else skips).append(result)
            if progress:
                progress("measure", i, len(items))
    return modules, skips
