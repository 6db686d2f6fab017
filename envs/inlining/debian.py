"""The inlining task's modules from the real-world Debian corpus (envs/llvmcorpus).

``envs.llvmcorpus`` gives every C translation unit of ~30 Debian packages as the
pre-optimisation -Oz bitcode, split by package (test packages are never trained on).
This module turns one such split into the inlining task's :class:`Module` lists:

- each module is compiled once under the -Oz heuristic through our pipe host (the
  heuristic's decision echoed back), giving its ``.text`` bytes and the number of call
  sites the ML advisor is asked about; both are cached by the bitcode's content hash
  under ``$TUNEBENCH_CACHE/inlining/debian-facts.json``;
- modules with no call-site decision, or under ``MIN_TEXT_BYTES`` of code, are left out
  of every split (counted): they are no test of an inlining policy;
- train and val may be capped (a seeded subset) and limited to modules of at most
  ``max_instructions`` IR instructions, so a budget of compilations buys more of them;
  the test split is always every eligible module of the test packages.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from envs.inlining.corpus import MIN_TEXT_BYTES, Module, cache_root
from envs.inlining.host import (
    LLC_FLAGS,
    OPT_PIPELINE,
    CompileError,
    compile_with_policy,
    default_decider,
)
from envs.inlining.tools import llvm_tools
from envs.llvmcorpus.corpus import Corpus
from envs.llvmcorpus.corpus import Module as CorpusModule
from harness.errors import UserError

SPLITS = ("train", "val", "test")
# (text bytes, decisions) of a module under the heuristic; (-1, -1): it failed.
Facts = tuple[int, int]
# Measured facts are written to the cache every this many modules.
SAVE_EVERY = 50


@dataclass(frozen=True)
class DebianParts:
    """The inlining task's modules per split, and what was left out.

    Attributes:
        parts: split -> modules (name order).
        packages: split -> the corpus packages assigned to it.
        candidates: split -> the split's modules (train/val: within ``max_instructions``).
        measured: split -> of those, how many were compiled under the heuristic (a
            capped split stops once it has enough).
        excluded: split -> of those, how many were left out (no decision, tiny, failed).
        failed: modules whose heuristic compilation failed (names).
        size_mismatches: names of the modules whose host-measured heuristic size differs
            from the corpus' own plain -Oz measurement (one seen so far: the ML advisor's
            size-increase stop, envs/inlining/README.md).
        versions: package -> Debian version.
    """

    parts: dict[str, list[Module]]
    packages: dict[str, tuple[str, ...]]
    candidates: dict[str, int]
    measured: dict[str, int]
    excluded: dict[str, int]
    failed: tuple[str, ...] = ()
    size_mismatches: tuple[str, ...] = ()
    versions: dict[str, str] = field(default_factory=dict)


def debian_parts(
    corpus: Corpus,
    split_seed: int | None = None,
    max_modules: int | None = None,
    max_val_modules: int | None = 32,
    max_instructions: int | None = None,
    jobs: int | None = None,
    log: Callable[[str], None] | None = None,
) -> DebianParts:
    """Select and measure the task's modules of ``corpus`` (see the module docstring).

    Args:
        corpus: a loaded corpus (``envs.llvmcorpus.load_corpus``).
        split_seed: the corpus' split: None = its fixed split, else ``split(seed)``.
        max_modules / max_val_modules: at most this many train / val modules (a subset
            seeded by ``split_seed``); None = all.
        max_instructions: train and val modules above this many IR instructions are left
            out (compile time grows with size); None = no limit. Never applied to test.
        jobs: parallel heuristic compilations for modules not cached yet.
        log: progress lines (default: stderr).
    """
    split = corpus.split(split_seed)
    jobs = max(1, jobs or os.cpu_count() or 1)
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    seed = 0 if split_seed is None else int(split_seed)
    caps = {"train": max_modules, "val": max_val_modules, "test": None}
    cache = FactsCache(cache_root() / "debian-facts.json")
    parts: dict[str, list[Module]] = {}
    candidates: dict[str, int] = {}
    measured: dict[str, int] = {}
    excluded: dict[str, int] = {}
    failed: list[str] = []
    mismatches: list[str] = []
    for name in SPLITS:
        pool = list(split[name])
        if name != "test" and max_instructions is not None:
            pool = [m for m in pool if m.instructions <= max_instructions]
        pool.sort(key=lambda m: _hash(seed, m.name))  # a seeded order (test: all anyway)
        cap = caps[name]
        chosen: list[Module] = []
        n_bad = 0
        at = 0
        while at < len(pool) and (cap is None or len(chosen) < cap):
            # Measure in chunks: a capped split measures little more than it keeps.
            step = len(pool) if cap is None else max(2 * jobs, int(1.5 * (cap - len(chosen))))
            chunk = pool[at : at + step]
            at += len(chunk)
            facts = cache.facts([m.bitcode for m in chunk], jobs, log, label=name)
            for m in chunk:
                text, decisions = facts[_key(m.bitcode)]
                if text < 0:
                    failed.append(m.name)
                if text >= 0 and text != m.oz_text_bytes:
                    mismatches.append(m.name)
                if decisions < 1 or text < MIN_TEXT_BYTES:
                    n_bad += 1
                    continue
                if cap is None or len(chosen) < cap:
                    chosen.append(_module(m, text, decisions))
        candidates[name], measured[name], excluded[name] = len(pool), at, n_bad
        parts[name] = sorted(chosen, key=lambda m: m.name)
        if not parts[name]:
            raise UserError(
                f"the Debian corpus has no {name} module with an inlining decision "
                f"(packages in {name}: {', '.join(split.packages[name]) or 'none'})"
            )
    versions = {p: info.version for p, info in corpus.packages.items() if info.version}
    return DebianParts(
        parts=parts,
        packages=dict(split.packages),
        candidates=candidates,
        measured=measured,
        excluded=excluded,
        failed=tuple(failed),
        size_mismatches=tuple(mismatches),
        versions=versions,
    )


def _module(m: CorpusModule, text: int, decisions: int) -> Module:
    return Module(
        name=m.name,
        source=Path(m.source),
        ir_path=m.bitcode,
        heuristic_text_bytes=text,
        n_decisions=decisions,
        package=m.package,
    )


class FactsCache:
    """(heuristic .text bytes, decisions) per bitcode file, cached on disk by content
    hash and by how it was compiled; missing ones are measured in parallel."""

    def __init__(self, path: Path) -> None:
        self.path = path
        tools = llvm_tools()
        self.how = _hash(tools.version, OPT_PIPELINE, LLC_FLAGS)

    def _read(self) -> dict[str, list[int]]:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def facts(
        self,
        bitcodes: Sequence[Path],
        jobs: int,
        log: Callable[[str], None],
        label: str = "",
    ) -> dict[str, Facts]:
        """content key -> facts for every file of ``bitcodes`` (measured if missing)."""
        keys = {_key(p): p for p in bitcodes}
        known = self._read()
        missing = [k for k in keys if f"{k}:{self.how}" not in known]
        progress = _Progress(len(missing), log, label)
        # Saved in batches: an interrupted measurement keeps what it has done.
        batch = max(SAVE_EVERY, 4 * jobs)
        for at in range(0, len(missing), batch):
            part = missing[at : at + batch]
            fresh = self._measure([keys[k] for k in part], jobs, progress)
            self._merge({f"{k}:{self.how}": list(v) for k, v in zip(part, fresh, strict=True)})
        if missing:
            known = self._read()
        return {k: tuple(known[f"{k}:{self.how}"]) for k in keys}  # type: ignore[misc]

    @staticmethod
    def _measure(paths: list[Path], jobs: int, progress: _Progress) -> list[Facts]:

        def one(path: Path) -> Facts:
            try:
                res = compile_with_policy(path, default_decider)
                out = (res.text_bytes, res.n_decisions)
            except CompileError:
                out = (-1, -1)
            progress.tick()
            return out

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            return list(pool.map(one, paths))

    def _merge(self, new: dict[str, list[int]]) -> None:
        """Add ``new`` to the file under a lock (two trial processes may measure)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            merged = self._read()
            merged.update(new)
            tmp = self.path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(merged, sort_keys=True, indent=0))
            os.replace(tmp, self.path)


class _Progress:
    """A progress line every 10 s (and at the end) while facts are measured."""

    def __init__(self, total: int, log: Callable[[str], None], label: str) -> None:
        self.total, self.log, self.label = total, log, label
        self.done = 0
        self.t0 = self.last = time.perf_counter()
        self._lock = threading.Lock()

    def tick(self) -> None:
        with self._lock:
            self.done += 1
            now = time.perf_counter()
            if now - self.last < 10 and self.done < self.total:
                return
            self.last = now
            eta = (now - self.t0) / self.done * (self.total - self.done)
            self.log(
                f"inlining: -Oz facts of {self.label} modules {self.done}/{self.total} "
                f"({now - self.t0:.0f} s, ETA {eta:.0f} s)"
            )


_KEYS: dict[tuple[str, int, int], str] = {}


def _key(path: Path) -> str:
    """Content hash of a bitcode file (memoised by path, size and mtime)."""
    st = path.stat()
    memo = (str(path), st.st_size, st.st_mtime_ns)
    if memo not in _KEYS:
        _KEYS[memo] = hashlib.sha256(path.read_bytes()).hexdigest()[:20]
    return _KEYS[memo]


def _hash(*parts: object) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(repr(p).encode())
        h.update(b"\0")
    return h.hexdigest()[:12]
