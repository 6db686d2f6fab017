"""The real-world corpus machinery (envs/llvmcorpus) on two tiny local packages.

Real tools throughout (make, clang-22, opt-22, llc-22); nothing is downloaded except in
the test marked slow. The fixture packages (tests/data/llvmcorpus) are: ``alpha``, a
Makefile package with a library, a program and one file that does not compile; ``beta``,
built from a generated Makefile, with a data-only file and a copy of alpha's shared.c.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from envs.llvmcorpus import ccwrap, debsrc, store
from envs.llvmcorpus.corpus import SPLITS, load_corpus
from envs.llvmcorpus.elf import text_bytes
from envs.llvmcorpus.recipes import RECIPES, Recipe

DATA = Path(__file__).resolve().parent / "data" / "llvmcorpus"
FIXTURE_RECIPES = {
    "alpha": Recipe("alpha", "make", "train"),
    "beta": Recipe("beta", "files", "test", subdir="src", files=("*.c",), cflags=("-O2",)),
}


def _tools_missing() -> str | None:
    try:
        store.find_tools()
    except Exception as exc:  # noqa: BLE001 - any reason the tools are unusable
        return str(exc)
    return None if shutil.which("make") else "make is not installed"


pytestmark = pytest.mark.skipif(_tools_missing() is not None, reason=str(_tools_missing()))


def _fixture_source(name: str, download: bool) -> Path | None:
    return debsrc.unpacked_tree(DATA / name)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One cache for the module: the fixture packages are built once (~5 s)."""
    path = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TUNEBENCH_CACHE", str(path))
        yield path


def _load(recipes=FIXTURE_RECIPES, **kw):
    lines: list[str] = []
    corpus = load_corpus(recipes=recipes, source=_fixture_source, jobs=2, log=lines.append, **kw)
    return corpus, lines


def test_tiny_packages_end_to_end(cache):
    corpus, lines = _load()  # the first test of the module: builds both packages
    names = [m.name for m in corpus.modules]
    assert names == [
        "alpha/lib.c",
        "alpha/main.c",
        "alpha/shared.c",
        "beta/src/fib.c",
        "beta/src/shared.c",
    ]
    assert any("ETA" in line for line in lines) or lines == []  # [] if built already
    tools = store.find_tools()
    for m in corpus.modules:
        assert m.bitcode.is_file() and str(m.bitcode).startswith(str(cache))
        assert m.functions >= 1 and m.instructions > m.functions
        assert 0 < m.oz_instructions <= m.instructions
        assert m.oz_text_bytes > 0
        verify = subprocess.run([tools.opt, "-passes=verify", "-disable-output", str(m.bitcode)])
        assert verify.returncode == 0
    # Pre-optimization IR as `opt -Oz` sees it: unoptimized (allocas, no inlining) and
    # every function carrying the size attributes -Oz gives.
    lib = next(m for m in corpus.modules if m.name == "alpha/lib.c")
    ir = subprocess.run(
        [shutil.which("llvm-dis-22") or "llvm-dis-22", str(lib.bitcode), "-o", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "alloca" in ir and "@clamp" in ir
    assert "minsize" in ir and "optsize" in ir
    assert lib.functions == 3 and lib.oz_functions < lib.functions  # clamp inlined at -Oz
    assert "-DALPHA_SCALE=3" in lib.args and "-O2" not in lib.args
    # The package's `-Werror` never reaches the compiler (the wrapper drops it).
    assert not any(a.startswith("-Werror") for m in corpus.modules for a in m.args)


def test_text_bytes_matches_llvm_size(cache):
    corpus, _ = _load()
    tools = store.find_tools()
    m = next(m for m in corpus.modules if m.name == "beta/src/fib.c")
    obj = cache / "fib.o"
    oz = cache / "fib.oz.bc"
    subprocess.run([tools.opt, "-passes=default<Oz>", str(m.bitcode), "-o", str(oz)], check=True)
    subprocess.run(
        [tools.llc, "-O2", "-relocation-model=pic", "-filetype=obj", str(oz), "-o", str(obj)],
        check=True,
    )
    size = shutil.which("llvm-size-22")
    if size:
        out = subprocess.run([size, "-A", str(obj)], capture_output=True, text=True).stdout
        listed = {ln.split()[0]: int(ln.split()[1]) for ln in out.splitlines()[2:] if ln.strip()}
        assert text_bytes(obj.read_bytes()) == listed[".text"]
    assert text_bytes(obj.read_bytes()) == m.oz_text_bytes


def test_failed_and_empty_units_are_skipped_and_counted(cache):
    corpus, _ = _load()
    alpha = corpus.packages["alpha"]
    assert alpha.status == "ok" and alpha.modules == 3
    [broken] = [s for s in alpha.skips if s["source"] == "broken.c"]
    assert broken["stage"] == "build" and "undeclared_identifier" in broken["reason"]
    beta = corpus.packages["beta"]
    assert [(s["source"], s["stage"]) for s in beta.skips] == [("src/table.c", "empty")]


def test_split_never_mixes_packages(cache):
    corpus, _ = _load()
    for seed in (None, 0, 1, 2):
        split = corpus.split(seed)
        where: dict[str, set[str]] = {}
        for name in SPLITS:
            for m in split[name]:
                where.setdefault(m.package, set()).add(name)
                assert m.package in split.packages[name]
        assert all(len(s) == 1 for s in where.values()), where
        listed = [p for name in SPLITS for p in split.packages[name]]
        assert sorted(listed) == ["alpha", "beta"]
    default = corpus.split()
    assert default.packages["test"] == ("beta",)
    # alpha/shared.c is a copy of beta/src/shared.c (a test module): not trained on.
    assert [m.name for m in default.dropped] == ["alpha/shared.c"]
    assert "alpha/shared.c" not in [m.name for m in default.train]
    assert len(default.test) == 2


def test_seeded_split_is_reproducible(cache):
    corpus, _ = _load()
    assert corpus.package_splits(3) == corpus.package_splits(3)


def test_cached_rebuild_does_nothing(cache):
    first, _ = _load()
    folders = sorted((cache / "llvmcorpus" / "packages").iterdir())
    stamps = {f: (f / "manifest.json").stat().st_mtime_ns for f in folders if f.is_dir()}
    second, lines = _load()
    assert lines == []  # no progress: nothing was built
    assert second.modules == first.modules
    assert sorted((cache / "llvmcorpus" / "packages").iterdir()) == folders
    assert {f: (f / "manifest.json").stat().st_mtime_ns for f in stamps} == stamps
    assert not (cache / "llvmcorpus" / "work" / "alpha").exists()


def test_changed_recipe_rebuilds(cache):
    _load()
    changed = dict(FIXTURE_RECIPES)
    changed["beta"] = Recipe(
        "beta", "files", "test", subdir="src", files=("*.c",), cflags=("-O2", "-DX=1")
    )
    corpus, lines = _load(recipes=changed)
    assert any(line.startswith("corpus: [1/1] beta") for line in lines)
    fib = next(m for m in corpus.modules if m.name == "beta/src/fib.c")
    assert "-DX=1" in fib.args
    assert len(list((cache / "llvmcorpus" / "packages").glob("beta-*"))) == 2


def test_not_built_without_build(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEBENCH_CACHE", str(tmp_path))
    corpus, lines = _load(build=False)
    assert corpus.modules == () and lines == []
    assert {p.status for p in corpus.packages.values()} == {"not built"}


def test_wrapper_keeps_compile_flags_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a.c", "main.c", "util.c"):
        (tmp_path / name).write_text("int x;\n")
    sources, flags, compiles = ccwrap.split_args(
        "-O2 -g -Wall -Werror -DA=1 -I inc -include cfg.h -fPIC -MD -MF x.d -c a.c -o a.o".split()
    )
    assert sources == ["a.c"] and compiles
    assert flags == ["-DA=1", "-I", "inc", "-include", "cfg.h", "-fPIC"]
    sources, flags, compiles = ccwrap.split_args("-o prog a.o b.o -lm -Wl,-z,now".split())
    assert sources == [] and not compiles
    sources, _, compiles = ccwrap.split_args("-E a.c".split())
    assert not compiles
    sources, _, compiles = ccwrap.split_args("-Werror -x c -c /dev/null -o /dev/null".split())
    assert sources == [] and not compiles  # a compiler feature probe, not a TU
    sources, _, compiles = ccwrap.split_args("-O2 -o prog main.c util.c -lm".split())
    assert sources == ["main.c", "util.c"] and compiles


def test_deb_src_entry_from_binary_entries(tmp_path):
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb\nURIs: https://example.org/apt\nSuites: stable\nComponents: main\n"
    )
    (apt / "sources.list.d" / "old.list.disabled").write_text("deb-src http://x bookworm main\n")
    text = debsrc.deb_src_stanzas(debsrc.apt_entries(apt), "bookworm")
    assert text is not None
    assert (
        "Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates"
        in (text)
    )
    assert "example.org" not in text  # third-party repositories are not copied
    (apt / "sources.list").write_text("deb-src http://deb.debian.org/debian bookworm main\n")
    assert debsrc.deb_src_stanzas(debsrc.apt_entries(apt), "bookworm") is None


def test_recipes_are_complete():
    assert len(RECIPES) >= 15
    for name, r in RECIPES.items():
        assert r.package == name and r.split in SPLITS
        assert r.kind in ("autotools", "cmake", "make", "files")
    # A group (shared vendored code) never straddles splits.
    groups: dict[str, set[str]] = {}
    for r in RECIPES.values():
        if r.group:
            groups.setdefault(r.group, set()).add(r.split)
    assert all(len(s) == 1 for s in groups.values()), groups


@pytest.mark.slow
def test_debian_package_download_and_build(cache):
    """Downloads lmdb's Debian source (network) and builds it."""
    if os.geteuid() != 0 and shutil.which("sudo") is None:
        pytest.skip("adding a deb-src entry needs root or sudo")
    corpus = load_corpus(["lmdb"], jobs=2, log=lambda line: None)
    assert corpus.packages["lmdb"].status == "ok"
    assert len(corpus.modules) >= 5
