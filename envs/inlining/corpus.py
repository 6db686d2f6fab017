"""The module corpus: csmith programs (fixed seeds) plus our own C programs, as IR.

Each module is compiled once with ``clang-22 -Oz -Xclang -disable-llvm-optzns
-emit-llvm`` (the -Oz front end, no LLVM passes: the IR the -Oz pipeline starts
from, as MLGO's corpora hold) and cached, together with the -Oz heuristic's size,
under ``$TUNEBENCH_CACHE`` (default ``~/.cache/tunebench``) / ``inlining``. Cache
entries are named by a hash of everything that defines them (source, flags, tool
versions), so a change rebuilds only what it touches.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from envs.inlining.host import LLC_FLAGS, OPT_PIPELINE, compile_with_policy, default_decider
from envs.inlining.tools import llvm_tools
from harness.errors import UserError

PROGRAMS_DIR = Path(__file__).resolve().parent / "programs"
CSMITH_INCLUDE = Path("/usr/include/csmith")
# Fixed csmith options (recorded in the cache key); defaults otherwise.
CSMITH_FLAGS: tuple[str, ...] = ("--max-funcs", "8")
MIN_TEXT_BYTES = 64
CLANG_IR_FLAGS: tuple[str, ...] = (
    "-Oz",
    "-Xclang",
    "-disable-llvm-optzns",
    "-emit-llvm",
    "-c",
    "-w",
    "-fno-discard-value-names",
)


@dataclass(frozen=True)
class Module:
    """One corpus module.

    Attributes:
        name: ``csmith-<seed>``, ``prog-<file stem>`` or (Debian corpus)
            ``<package>/<source path>``.
        source: path of the C source (cached for csmith programs; relative to the
            package's tree for the Debian corpus).
        ir_path: path of the cached pre-optimisation bitcode.
        heuristic_text_bytes: .text bytes under the -Oz heuristic (the target).
        n_decisions: call sites the ML advisor is asked about under the heuristic.
        package: the Debian source package ("" for csmith and our programs).
    """

    name: str
    source: Path
    ir_path: Path
    heuristic_text_bytes: int
    n_decisions: int
    package: str = ""


def cache_root() -> Path:
    """``$TUNEBENCH_CACHE/inlining`` or ``~/.cache/tunebench/inlining``."""
    base = os.environ.get("TUNEBENCH_CACHE") or str(Path.home() / ".cache" / "tunebench")
    return Path(base) / "inlining"


@cache
def csmith_version() -> str:
    """``csmith --version``'s first line; UserError naming the packages if missing."""
    try:
        out = subprocess.run(["csmith", "--version"], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise UserError(
            "csmith not found: install the Debian packages csmith and libcsmith-dev "
            "(apt-get install -y csmith libcsmith-dev)"
        ) from None
    return out.stdout.strip().splitlines()[0] if out.stdout.strip() else "unknown"


def csmith_source(seed: int, root: Path | None = None) -> Path:
    """The csmith program of ``seed`` (generated once, then cached)."""
    root = root or cache_root()
    version = csmith_version()
    if not (CSMITH_INCLUDE / "csmith.h").is_file():
        raise UserError(
            f"{CSMITH_INCLUDE}/csmith.h not found: install the Debian package libcsmith-dev"
        )
    key = _hash(version, CSMITH_FLAGS, seed)
    path = root / "src" / f"csmith-{seed}-{key}.c"
    if not path.is_file():
        # csmith writes platform.info into its working directory: give it a scratch one.
        with tempfile.TemporaryDirectory(prefix="csmith-") as scratch:
            run = subprocess.run(
                ["csmith", "--seed", str(seed), *CSMITH_FLAGS],
                capture_output=True,
                text=True,
                check=False,
                cwd=scratch,
            )
        if run.returncode != 0:
            raise UserError(f"csmith --seed {seed} failed: {run.stderr.strip()[-200:]}")
        _write_atomic(path, run.stdout.encode())
    return path


def compile_to_ir(source: Path, root: Path | None = None) -> Path:
    """Pre-optimisation -Oz bitcode of a C file (cached by source text and flags)."""
    root = root or cache_root()
    tools = llvm_tools()
    text = source.read_bytes()
    key = _hash(tools.version, CLANG_IR_FLAGS, text)
    path = root / "ir" / f"{source.stem}-{key}.bc"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".bc.tmp")
        os.close(fd)
        cmd = [tools.clang, *CLANG_IR_FLAGS, f"-I{CSMITH_INCLUDE}", str(source), "-o", tmp]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            os.unlink(tmp)
            raise UserError(f"clang failed on {source}: {run.stderr.strip()[-300:]}")
        os.replace(tmp, path)
    return path


def build_corpus(
    csmith_seeds: range | list[int] = range(1, 41),
    own_programs: bool = True,
    jobs: int = 2,
    root: Path | None = None,
) -> list[Module]:
    """All modules, in name order (those with no inlining decision, or under
    ``MIN_TEXT_BYTES`` of code under the heuristic, are left out).

    The heuristic sizes are cached in ``sizes.json`` keyed by the IR file's name and
    a hash of the opt/llc flags.
    """
    root = root or cache_root()
    sources: list[tuple[str, Path]] = []
    for seed in csmith_seeds:
        sources.append((f"csmith-{seed}", csmith_source(int(seed), root)))
    if own_programs:
        for path in sorted(PROGRAMS_DIR.glob("*.c")):
            sources.append((f"prog-{path.stem}", path))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        irs = list(pool.map(lambda s: compile_to_ir(s[1], root), sources))
    sizes_path = root / "sizes.json"
    sizes: dict[str, list[int]] = json.loads(sizes_path.read_text()) if sizes_path.is_file() else {}
    # A size depends on the IR (named by its hash) and on how it is compiled.
    how = _hash(OPT_PIPELINE, LLC_FLAGS)
    missing = [ir for ir in irs if f"{ir.name}:{how}" not in sizes]
    if missing:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            results = list(pool.map(lambda ir: compile_with_policy(ir, default_decider), missing))
        for ir, res in zip(missing, results, strict=True):
            sizes[f"{ir.name}:{how}"] = [res.text_bytes, res.n_decisions]
        _write_atomic(sizes_path, json.dumps(sizes, indent=0, sort_keys=True).encode())
    modules = [
        Module(name, src, ir, *sizes[f"{ir.name}:{how}"])
        for (name, src), ir in zip(sources, irs, strict=True)
    ]
    # A module with no decision to make, or whose code folds away (csmith programs
    # with undefined behaviour can), is no test of an inlining policy.
    keep = (m for m in modules if m.n_decisions > 0 and m.heuristic_text_bytes >= MIN_TEXT_BYTES)
    return sorted(keep, key=lambda m: m.name)


@dataclass(frozen=True)
class CorpusSplit:
    """Module positions (into the corpus list) of each part."""

    train: tuple[int, ...]
    val: tuple[int, ...]
    test: tuple[int, ...]

    def part(self, name: str) -> tuple[int, ...]:
        if name not in ("train", "val", "test"):
            raise ValueError(f"unknown split {name!r}")
        return getattr(self, name)


def split_modules(modules: list[Module], n_test: int, n_val: int, seed: int = 0) -> CorpusSplit:
    """Deterministic split: modules ordered by a hash of (seed, name); the first
    ``n_test`` are test, the next ``n_val`` val, the rest train (each part in name
    order). A module's part depends only on the names, never on run order."""
    if n_test + n_val >= len(modules):
        raise UserError(f"corpus of {len(modules)} modules too small for {n_test}+{n_val} held out")
    order = sorted(range(len(modules)), key=lambda i: _hash(seed, modules[i].name))
    test, val = sorted(order[:n_test]), sorted(order[n_test : n_test + n_val])
    train = sorted(order[n_test + n_val :])
    return CorpusSplit(tuple(train), tuple(val), tuple(test))


def _hash(*parts: object) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else repr(p).encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
