"""Where built packages live in the cache, and building one package into it.

Layout under ``$TUNEBENCH_CACHE/llvmcorpus`` (default ``~/.cache/tunebench``):

    src/<package>/                  the ``apt-get source`` download (kept, pristine)
    packages/<package>-<key>/       one built package: manifest.json, bc/, build.log.gz
    work/<package>/                 scratch build tree (removed after a build)

``key`` hashes everything that defines a package's modules (recipe, Debian version,
LLVM version, bitcode flags, the -Oz reference pipeline, ``CORPUS_FORMAT``), so a
changed recipe or tool builds a new folder and an unchanged one is reused as is. A
package folder appears by an atomic rename once complete; a lock file serializes two
processes building the same package.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from contextlib import contextmanager
from dataclasses import asdict
from functools import cache
from pathlib import Path

from envs.groundtruth.measure.build import cache_dir
from envs.llvmcorpus import debsrc
from envs.llvmcorpus.build import (
    BITCODE_FLAGS,
    Progress,
    Skip,
    Tools,
    collect,
    measure_all,
    run_build,
)
from envs.llvmcorpus.measure import LLC_FLAGS, OPT_PIPELINE
from envs.llvmcorpus.recipes import Recipe
from harness.errors import UserError

# Bump when building or measuring changes in a way the key's other parts do not show.
CORPUS_FORMAT = 2
LLVM_MAJOR = 22


def corpus_root() -> Path:
    """``$TUNEBENCH_CACHE/llvmcorpus`` (default ``~/.cache/tunebench/llvmcorpus``)."""
    return cache_dir() / "llvmcorpus"


@cache
def find_tools() -> Tools:
    """clang/opt/llc of LLVM 22 (versioned names on PATH); UserError naming the package."""
    paths = {}
    for name, package in (("clang", "clang-22"), ("opt", "llvm-22"), ("llc", "llvm-22")):
        path = shutil.which(f"{name}-{LLVM_MAJOR}") or shutil.which(
            f"/usr/lib/llvm-{LLVM_MAJOR}/bin/{name}"
        )
        if path is None:
            raise UserError(
                f"{name}-{LLVM_MAJOR} not found: install the Debian package {package} "
                f"(apt-get install -y {package})"
            )
        paths[name] = path
    out = subprocess.run([paths["opt"], "--version"], capture_output=True, text=True).stdout
    match = re.search(r"LLVM version (\d+\.\d+\.\d+)", out)
    if not match or not match.group(1).startswith(f"{LLVM_MAJOR}."):
        raise UserError(f"{paths['opt']} is not LLVM {LLVM_MAJOR}")
    return Tools(clang=paths["clang"], opt=paths["opt"], llc=paths["llc"], version=match.group(1))


def package_key(recipe: Recipe, version: str, tools: Tools) -> str:
    """Hash (hex, 12) naming a built package: recipe, Debian version, tools, flags."""
    parts = [
        recipe.key(),
        version,
        tools.version,
        " ".join(BITCODE_FLAGS),
        OPT_PIPELINE,
        " ".join(LLC_FLAGS),
        str(CORPUS_FORMAT),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def source_tree(package: str, download: bool = True) -> Path | None:
    """The unpacked Debian source of ``package`` (downloading it if allowed), or None."""
    dest = corpus_root() / "src" / package
    if not download:
        return debsrc.unpacked_tree(dest) if dest.exists() else None
    return debsrc.download(package, dest)


def package_dir(recipe: Recipe, tree: Path, tools: Tools) -> Path:
    """Folder of ``recipe`` built from ``tree`` (exists only once built)."""
    key = package_key(recipe, debsrc.dsc_version(tree), tools)
    return corpus_root() / "packages" / f"{recipe.package}-{key}"


def read_manifest(folder: Path) -> dict | None:
    """The manifest of a built package folder, or None if there is none."""
    try:
        return json.loads((folder / "manifest.json").read_text())
    except FileNotFoundError:
        return None


@contextmanager
def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def build_package(
    recipe: Recipe, tree: Path, jobs: int, progress: Progress | None = None, keep_work: bool = False
) -> tuple[Path, bool]:
    """Build ``recipe`` from ``tree`` into its package folder unless it is there.

    Returns ``(folder, built)``: ``built`` is False when the cached folder was reused.
    A package whose configure step fails gets a folder too (status ``failed``, the
    reason in its skips), so it is not retried until its key changes.
    """
    tools = find_tools()
    final = package_dir(recipe, tree, tools)
    with _lock(corpus_root() / "packages" / f".{recipe.package}.lock"):
        if read_manifest(final) is not None:
            return final, False
        work = corpus_root() / "work" / recipe.package
        tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        t0 = time.perf_counter()
        src, cc_log, skips = run_build(recipe, tree, work, tools, jobs, progress)
        build_s = time.perf_counter() - t0
        modules = []
        if not skips:
            chosen, skips = collect(cc_log, src)
            t1 = time.perf_counter()
            modules, more = measure_all(chosen, tmp, tools, jobs, progress)
            skips += more
            measure_s = time.perf_counter() - t1
        else:
            measure_s = 0.0
        log = work / "build.log"
        if log.exists():
            with open(log, "rb") as f, gzip.open(tmp / "build.log.gz", "wb") as g:
                shutil.copyfileobj(f, g)
        manifest = {
            "package": recipe.package,
            "version": debsrc.dsc_version(tree),
            "key": final.name.rsplit("-", 1)[1],
            "status": "ok" if modules else "failed",
            "recipe": asdict(recipe),
            "llvm_version": tools.version,
            "bitcode_flags": list(BITCODE_FLAGS),
            "opt_pipeline": OPT_PIPELINE,
            "llc_flags": list(LLC_FLAGS),
            "jobs": jobs,
            "build_wall_s": round(build_s, 1),
            "measure_wall_s": round(measure_s, 1),
            "c_files_in_tree": sum(1 for _ in tree.rglob("*.c")),
            "modules": [asdict(m) for m in sorted(modules, key=lambda m: m.source)],
            "skips": [asdict(s) for s in sorted(skips, key=lambda s: (s.stage, s.source))],
        }
        text = json.dumps(manifest, indent=1, sort_keys=True)
        (tmp / "manifest.json").write_text(text)
        if final.exists():  # a stale partial folder from a crashed run (no manifest)
            shutil.rmtree(final)
        os.replace(tmp, final)
        if not keep_work:
            shutil.rmtree(work, ignore_errors=True)
        return final, True


def manifest_skip(reason: str) -> Skip:
    """A package-level skip (no source path)."""
    return Skip("", "download", reason)
