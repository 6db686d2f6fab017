"""The corpus as the task families see it: modules, packages, a split by package.

``load_corpus()`` returns the built corpus, building (and downloading) what is missing
unless told not to; ``Corpus.split()`` gives train / val / test modules with every
package (and every group of packages sharing vendored code) in exactly one split.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from envs.llvmcorpus import store
from envs.llvmcorpus.progress import BuildProgress
from envs.llvmcorpus.recipes import NOT_USED, RECIPES, Recipe
from harness.errors import UserError

SPLITS = ("train", "val", "test")
SourceFn = Callable[[str, bool], "Path | None"]
# Shares of modules a seeded split aims at (packages are whole, so it comes close).
SEEDED_FRACTIONS = (0.75, 0.10, 0.15)


@dataclass(frozen=True)
class Module:
    """One bitcode module (one C translation unit) of the corpus.

    Attributes:
        package: Debian source package; source: the C file, relative to its tree.
        bitcode: absolute path of the pre-optimization bitcode (clang-22 -Oz front end).
        args: the flags the package's build compiled it with, less output, -O, -g,
            warning and dependency flags (the scratch tree's path is written ``$TREE``).
        functions / instructions: defined functions, IR instructions (input).
        oz_functions / oz_instructions: the same after ``opt -passes=default<Oz>``.
        oz_text_bytes: ``.text`` bytes after ``opt -Oz`` and ``llc -O2`` (PIC).
        structural_hash: LLVM's detailed structural hash of the input module.
    """

    package: str
    source: str
    bitcode: Path
    args: tuple[str, ...]
    functions: int
    instructions: int
    oz_functions: int
    oz_instructions: int
    oz_text_bytes: int
    structural_hash: str

    @property
    def name(self) -> str:
        """``package/source``: unique in the corpus."""
        return f"{self.package}/{self.source}"


@dataclass(frozen=True)
class PackageInfo:
    """What happened to one package: ``status`` is ok, failed, not built or not used."""

    name: str
    split: str
    group: str
    status: str
    version: str = ""
    modules: int = 0
    skips: tuple[dict, ...] = ()
    build_wall_s: float = 0.0
    measure_wall_s: float = 0.0
    folder: Path | None = None
    note: str = ""


@dataclass(frozen=True)
class Split:
    """Modules per split, the packages in each, and the copies dropped.

    ``dropped``: modules left out of train/val because a structurally equal module is
    in a later split (test before val before train), so no test module is trained on.
    """

    train: tuple[Module, ...]
    val: tuple[Module, ...]
    test: tuple[Module, ...]
    packages: dict[str, tuple[str, ...]]
    dropped: tuple[Module, ...] = ()

    def __getitem__(self, name: str) -> tuple[Module, ...]:
        if name not in SPLITS:
            raise KeyError(f"split must be one of {SPLITS}, not {name!r}")
        return getattr(self, name)


@dataclass(frozen=True)
class Corpus:
    """Modules (sorted by name) and per-package information of the built corpus."""

    modules: tuple[Module, ...]
    packages: dict[str, PackageInfo] = field(default_factory=dict)

    def by_package(self) -> dict[str, list[Module]]:
        """package -> its modules (sorted by source)."""
        out: dict[str, list[Module]] = {}
        for m in self.modules:
            out.setdefault(m.package, []).append(m)
        return out

    def package_splits(self, seed: int | None = None) -> dict[str, str]:
        """package -> split name. ``seed=None``: the recipes' fixed, documented split.

        With a seed: groups of packages are shuffled with ``random.Random(seed)`` and
        each goes to the split furthest below its share (``SEEDED_FRACTIONS``) of modules.
        """
        used = {p: info for p, info in self.packages.items() if info.split in SPLITS}
        if seed is None:
            return {p: info.split for p, info in used.items()}
        sizes: Counter[str] = Counter()
        for info in used.values():
            sizes[info.group] += info.modules
        groups = sorted(sizes)
        random.Random(seed).shuffle(groups)
        total = sum(sizes.values()) or 1
        filled = dict.fromkeys(SPLITS, 0)
        group_split = {}
        for g in groups:
            # The split with the largest shortfall from its target share gets the group.
            name = max(SPLITS, key=lambda s: SEEDED_FRACTIONS[SPLITS.index(s)] * total - filled[s])
            group_split[g] = name
            filled[name] += sizes[g]
        return {p: group_split[info.group] for p, info in used.items()}

    def split(self, seed: int | None = None) -> Split:
        """Train / val / test modules by package (see :meth:`package_splits`)."""
        where = self.package_splits(seed)
        by: dict[str, list[Module]] = {s: [] for s in SPLITS}
        for m in self.modules:
            by[where[m.package]].append(m)
        dropped: list[Module] = []
        seen = {m.structural_hash for m in by["test"]}
        for name in ("val", "train"):
            keep = [m for m in by[name] if m.structural_hash not in seen]
            dropped += [m for m in by[name] if m.structural_hash in seen]
            seen |= {m.structural_hash for m in keep}
            by[name] = keep
        packages = {s: tuple(sorted(p for p, w in where.items() if w == s)) for s in SPLITS}
        return Split(
            train=tuple(by["train"]),
            val=tuple(by["val"]),
            test=tuple(by["test"]),
            packages=packages,
            dropped=tuple(dropped),
        )


def _selected(packages: Sequence[str] | None, recipes: Mapping[str, Recipe]) -> list[Recipe]:
    if packages is None:
        return list(recipes.values())
    unknown = [p for p in packages if p not in recipes]
    if unknown:
        raise UserError(
            f"unknown corpus package(s) {', '.join(unknown)}; known: {', '.join(sorted(recipes))}"
        )
    return [recipes[p] for p in packages]


def _info(recipe: Recipe, folder: Path | None, status: str, note: str = "") -> PackageInfo:
    manifest = store.read_manifest(folder) if folder else None
    base = dict(name=recipe.package, split=recipe.split, group=recipe.group or recipe.package)
    if manifest is None:
        return PackageInfo(**base, status=status, note=note)
    return PackageInfo(
        **base,
        status=manifest["status"],
        version=manifest["version"],
        modules=len(manifest["modules"]),
        skips=tuple(manifest["skips"]),
        build_wall_s=manifest["build_wall_s"],
        measure_wall_s=manifest["measure_wall_s"],
        folder=folder,
        note=recipe.note,
    )


def _modules(info: PackageInfo) -> list[Module]:
    if info.folder is None:
        return []
    manifest = store.read_manifest(info.folder) or {"modules": []}
    return [
        Module(
            package=info.name,
            source=rec["source"],
            bitcode=info.folder / rec["bitcode"],
            args=tuple(rec["args"]),
            functions=rec["functions"],
            instructions=rec["instructions"],
            oz_functions=rec["oz_functions"],
            oz_instructions=rec["oz_instructions"],
            oz_text_bytes=rec["oz_text_bytes"],
            structural_hash=rec["structural_hash"],
        )
        for rec in manifest["modules"]
    ]


def _summary(info: PackageInfo) -> str:
    stages = Counter(s["stage"] for s in info.skips)
    skipped = ", ".join(f"{n} {k}" for k, n in sorted(stages.items())) or "none"
    return f"{info.status}, {info.modules} modules, skipped: {skipped}"


def load_corpus(
    packages: Sequence[str] | None = None,
    *,
    build: bool = True,
    jobs: int | None = None,
    keep_work: bool = False,
    log: Callable[[str], None] | None = None,
    recipes: Mapping[str, Recipe] = RECIPES,
    source: SourceFn = store.source_tree,
) -> Corpus:
    """The corpus of ``packages`` (default: every recipe), built where missing.

    Args:
        packages: Debian source package names (keys of ``RECIPES``); None = all.
        build: download and build missing packages (False: report them as not built).
        jobs: parallel compiles (default: CPU count).
        keep_work: keep each package's scratch build tree (for debugging a recipe).
        log: receives the progress lines (default: stderr).
        recipes: package -> recipe (default: ``RECIPES``; tests pass their own).
        source: ``(package, download) -> unpacked tree or None`` (default: Debian's).

    A package that cannot be downloaded or configured is listed with its reason in
    ``Corpus.packages`` and contributes no modules; the rest still load.
    """
    selected = _selected(packages, recipes)
    jobs = jobs or os.cpu_count() or 1
    infos: dict[str, PackageInfo] = {}
    trees: dict[str, Path] = {}
    for r in selected:
        try:
            tree = source(r.package, build)
        except UserError as exc:
            infos[r.package] = _info(r, None, "failed", note=f"download: {exc}")
            continue
        if tree is None:
            infos[r.package] = _info(r, None, "not built", note="source not downloaded")
            continue
        trees[r.package] = tree
    tools = store.find_tools()
    todo = []
    for r in selected:
        if r.package not in trees:
            continue
        folder = store.package_dir(r, trees[r.package], tools)
        if store.read_manifest(folder) is not None:
            infos[r.package] = _info(r, folder, "ok")
        elif build:
            todo.append(r)
        else:
            infos[r.package] = _info(r, None, "not built")
    if todo:
        weights = {r.package: sum(1 for _ in trees[r.package].rglob("*.c")) for r in todo}
        progress = BuildProgress(weights, line=log)
        for r in todo:
            progress.begin(r.package)
            folder, _ = store.build_package(
                r, trees[r.package], jobs, progress.update, keep_work=keep_work
            )
            infos[r.package] = _info(r, folder, "ok")
            progress.finish(r.package, _summary(infos[r.package]))
    modules = [m for r in selected for m in _modules(infos[r.package])]
    modules.sort(key=lambda m: m.name)
    ordered = {r.package: infos[r.package] for r in selected}
    if packages is None and recipes is RECIPES:
        for name, why in NOT_USED.items():
            ordered[name] = PackageInfo(name, "-", name, "not used", note=why)
    return Corpus(modules=tuple(modules), packages=ordered)
