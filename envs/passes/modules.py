"""The modules a pass-ordering task works on: the real-world corpus (envs/llvmcorpus,
split by package) or, for tests and output checks, csmith programs (split by seed).

Every module carries its instruction count and ``.text`` bytes after ``-Oz``: the
reference the loss divides by.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from envs.passes.actions import OZ_PIPELINE
from envs.passes.csmith import bitcode_of, csmith_source, reference_output
from envs.passes.server import ServerPool
from harness.errors import UserError

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class PassModule:
    """One module.

    Attributes:
        name: ``package/source`` (corpus) or ``csmith-<seed>``.
        package: Debian source package, or ``csmith``.
        bitcode: pre-optimisation bitcode (clang-22 -Oz front end, no LLVM pass run).
        instructions: IR instructions before any pass (defined functions).
        oz_instructions / oz_text_bytes: after ``opt -passes=default<Oz>`` (and llc -O2).
        source: the C file of a csmith program (None for corpus modules).
    """

    name: str
    package: str
    bitcode: Path
    instructions: int
    oz_instructions: int
    oz_text_bytes: int
    source: Path | None = None


def _rank(seed: int, name: str) -> str:
    return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()


def corpus_modules(
    packages: Sequence[str] | None = None,
    min_oz_instructions: int = 10,
    split_seed: int | None = None,
    build: bool = True,
) -> dict[str, list[PassModule]]:
    """Train / val / test modules of the corpus, split by package (``Corpus.split``).

    Args:
        packages: only these packages (None: all).
        min_oz_instructions: leave out modules with fewer instructions after -Oz (a
            module that -Oz folds to a handful of instructions measures nothing but
            noise in a ratio).
        split_seed: None for the corpus's fixed split, else its seeded split.
        build: build missing packages first (False: use what is built).
    """
    from envs.llvmcorpus import load_corpus

    corpus = load_corpus(packages, build=build)
    split = corpus.split(seed=split_seed)
    out: dict[str, list[PassModule]] = {}
    for name in SPLITS:
        out[name] = [
            PassModule(
                name=m.name,
                package=m.package,
                bitcode=m.bitcode,
                instructions=m.instructions,
                oz_instructions=m.oz_instructions,
                oz_text_bytes=m.oz_text_bytes,
            )
            for m in split[name]
            if m.oz_instructions >= min_oz_instructions
        ]
    if not out["test"] or not out["train"]:
        raise UserError(
            "the corpus has no train or test modules: build it first (tunebench corpus build)"
        )
    return out


def csmith_modules(
    seeds: Sequence[int], n_test: int, n_val: int, pool: ServerPool, jobs: int = 1
) -> dict[str, list[PassModule]]:
    """csmith programs (those whose -O0 build finishes), measured at -Oz, split by a
    hash of the seed: ``n_test`` test, ``n_val`` val, the rest train."""
    sources = [csmith_source(int(s)) for s in seeds]

    def measure(item: tuple[int, Path]) -> PassModule | None:
        seed, source = item
        if reference_output(source) is None:
            return None
        bc = bitcode_of(source)
        server = pool.get()
        before = server.run(bc, [], verify=False)
        oz = server.run(bc, [OZ_PIPELINE], text=True)
        if not (before.ok and oz.ok) or oz.instructions < 1:
            return None
        return PassModule(
            f"csmith-{seed}",
            "csmith",
            bc,
            before.instructions,
            oz.instructions,
            oz.text_bytes,
            source,
        )

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        found = [m for m in ex.map(measure, zip(seeds, sources, strict=True)) if m is not None]
    if len(found) <= n_test + n_val:
        raise UserError(
            f"{len(found)} usable csmith programs: too few for {n_test}+{n_val} held out"
        )
    order = sorted(found, key=lambda m: _rank(0, m.name))
    test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    return {
        s: sorted(p, key=lambda m: m.name) for s, p in zip(SPLITS, (train, val, test), strict=True)
    }
