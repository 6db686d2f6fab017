"""Task ``passes``: pass ordering for IR instruction count on LLVM 22 (CompilerGym's
LLVM task) over the real-world corpus, with -Oz as the reference.

An item is one module; one sample is one compilation of one module: a pass sequence
(or a closed-loop policy's episode) applied to it by the pass server, then verified
(``verifyModule``, the code behind ``opt -passes=verify``). The cost of an item is its
IR instruction count afterwards (defined functions); a compilation that fails (a
crash, a verifier error, a timeout) costs :data:`FAILED_RATIO` times -Oz's count. The
loss is the geometric mean over modules of instructions / -Oz's instructions (lower is
better, 1.0 = -Oz); reports also show its inverse, CompilerGym's reduction factor
(> 1 = better than -Oz), and the same ratio for ``.text`` bytes (llc -O2) on test.

Settings (``setting``):

- ``generalize``: train / val / test = the corpus's packages split; a configuration is
  one policy for every module, tuned on train modules and applied to the held-out test
  packages without search. ``policy = "sequence"``: the policy is one pass sequence
  (open loop); ``"linear"`` / ``"mlp"``: a closed-loop policy's weights
  (envs/passes/policy.py), choosing each pass from the module's Autophase features.
- ``per-module``: CompilerGym's leaderboard setting: a sequence per test module, found
  by searching on that module. train = val = test = the test packages' modules; the
  configuration holds one sequence per module (parameter ``passes/<module name>``);
  every compilation an agent causes is a compilation of a test module, so the budget
  counts exactly the leaderboard's compilations. Agents that search one module at a
  time: ``per-module`` (agents/passes/per_module.py).

Capabilities: ``deterministic`` (the harness caches repeats, still charging them),
``targets`` (-Oz's instruction count per module: the loss's reference, free),
``inputs`` (per module a JSON text: name, package, instruction counts and the input
module's Autophase counts; never the bitcode), ``policy`` (``evaluate_policy`` runs a
live policy step by step: what RL agents train through, one sample per episode).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from envs.llvmcorpus.store import find_tools
from envs.passes.actions import OZ_ACTION, actions, element
from envs.passes.features import encode_features
from envs.passes.modules import SPLITS, PassModule, corpus_modules, csmith_modules
from envs.passes.policy import PassState, PolicyNet, observation
from envs.passes.server import ServerPool
from harness.errors import UserError
from harness.params import ParamSpace, SequenceParam
from harness.task import DETERMINISTIC, INPUTS, POLICY, TARGETS, Metric, Task

# A failed compilation counts as this multiple of -Oz's instruction count.
FAILED_RATIO = 2.0
SETTINGS = ("generalize", "per-module")
POLICIES = ("sequence", "linear", "mlp")

# A live policy: the state after each pass -> the next action's index (n_actions = stop).
LivePolicy = Callable[[PassState], int]


def oz_ratios(costs: np.ndarray, oz: np.ndarray) -> np.ndarray:
    """cost / -Oz cost per module, float64 [n]; failed (NaN) -> FAILED_RATIO. Costs are
    floored at 1 so a ratio's log is finite."""
    c = np.maximum(np.asarray(costs, dtype=np.float64), 1.0)
    ratio = c / np.asarray(oz, dtype=np.float64)
    return np.where(np.isfinite(ratio), ratio, FAILED_RATIO)


def geomean(x: np.ndarray) -> float:
    return (
        float(np.exp(np.mean(np.log(np.asarray(x, dtype=np.float64))))) if len(x) else float("nan")
    )


class PassOrderingTask(Task):
    """See the module docstring.

    Args:
        splits: modules per split (``modules.corpus_modules`` / ``csmith_modules``).
        setting: ``generalize`` or ``per-module`` (then ``splits`` holds the same
            modules in every split).
        policy: ``sequence``, ``linear`` or ``mlp`` (generalize only).
        oz_action: the action set includes ``-Oz`` (the whole pipeline as one action).
        max_len: the longest sequence (and a closed-loop episode's horizon).
        hidden: the MLP policy's hidden width.
        jobs: modules compiled at once (one pass server per thread).
        note: a line for the report's provenance (e.g. the subset used).
    """

    name = "passes"
    headline = Metric("geomean_oz_ratio", "min", "IR instructions / -Oz (geomean)")
    capabilities = frozenset({DETERMINISTIC, TARGETS, INPUTS, POLICY})

    def __init__(
        self,
        splits: Mapping[str, list[PassModule]],
        setting: str = "generalize",
        policy: str = "sequence",
        oz_action: bool = True,
        max_len: int = 20,
        hidden: int = 64,
        jobs: int = 1,
        note: str = "",
    ) -> None:
        if setting not in SETTINGS:
            raise UserError(f"setting must be one of {SETTINGS}, not {setting!r}")
        if policy not in POLICIES:
            raise UserError(f"policy must be one of {POLICIES}, not {policy!r}")
        if setting == "per-module" and policy != "sequence":
            raise UserError("the per-module setting searches sequences: policy = 'sequence'")
        if max_len < 1:
            raise UserError("max_len must be >= 1")
        self.splits = {s: list(splits[s]) for s in SPLITS}
        self.setting, self.policy = setting, policy
        self.actions = actions(oz_action)
        self.max_len = int(max_len)
        self.jobs = max(1, int(jobs))
        self.pool = ServerPool()
        self._executor: ThreadPoolExecutor | None = None
        self.note = note
        default = (OZ_ACTION,) if oz_action else ()
        self.net: PolicyNet | None = None
        if policy != "sequence":
            hid = 0 if policy == "linear" else int(hidden)
            self.net = PolicyNet(len(self.actions), hid, 0 if oz_action else None)
            self.param_space = self.net.space
        elif setting == "per-module":
            self.param_space = ParamSpace(
                [
                    SequenceParam(f"passes/{m.name}", self.actions, 0, self.max_len, default)
                    for m in self.splits["test"]
                ]
            )
        else:
            self.param_space = ParamSpace(
                [SequenceParam("passes", self.actions, 0, self.max_len, default)]
            )
        n = {s: len(self.splits[s]) for s in SPLITS}
        self.description = (
            f"LLVM {find_tools().version} pass ordering for IR instruction count vs -Oz "
            f"({setting}, {policy}, {len(self.actions)} actions, up to {self.max_len} passes; "
            f"{n['train']} train / {n['val']} val / {n['test']} test modules)"
        )
        # (module name, sequence, with text) -> (instructions, text bytes): compilations
        # are deterministic, and the harness's cache is per whole configuration (in the
        # per-module setting a configuration holds every module's sequence).
        self._memo: dict[tuple[str, tuple[str, ...], bool], tuple[float, float]] = {}
        self._memo_lock = threading.Lock()
        self._inputs: dict[str, str] = {}
        self._sids = itertools.count()
        self._last_test: tuple[np.ndarray, np.ndarray] | None = None

    # ---- items ------------------------------------------------------------------------
    def module(self, split: str, item: int) -> PassModule:
        return self.splits[split][int(item)]

    def n_items(self, split: str) -> int:
        return len(self.splits[split])

    def targets(self, split: str, items: np.ndarray) -> np.ndarray:
        """-Oz's instruction count of each module, float64 [len(items)]."""
        return np.array([self.module(split, i).oz_instructions for i in items], dtype=np.float64)

    def inputs(self, split: str, items: np.ndarray) -> list[str]:
        """Per module, JSON: name, package, instructions (before), oz_instructions and
        ``autophase`` (the input module's 56 counts, comma-separated)."""
        out = []
        for i in items:
            m = self.module(split, i)
            if m.name not in self._inputs:
                r = self.pool.get().run(m.bitcode, [], verify=False, features=True)
                feats = encode_features(r.features) if r.features is not None else ""
                self._inputs[m.name] = json.dumps(
                    {
                        "name": m.name,
                        "package": m.package,
                        "instructions": m.instructions,
                        "oz_instructions": m.oz_instructions,
                        "autophase": feats,
                    }
                )
            out.append(self._inputs[m.name])
        return out

    def sequence(self, config: Mapping[str, Any], split: str, item: int) -> tuple[str, ...]:
        """The pass sequence a sequence configuration applies to one module."""
        if self.policy != "sequence":
            raise ValueError("a policy configuration has no fixed sequence")
        if self.setting == "per-module":
            return tuple(config[f"passes/{self.module(split, item).name}"])
        return tuple(config["passes"])

    # ---- evaluation ---------------------------------------------------------------------
    def evaluate(self, config: Mapping[str, Any], split: str, items: np.ndarray) -> np.ndarray:
        """Instruction count of each module after ``config``, float64 [len(items)] (NaN:
        the compilation failed). Scoring the whole test split also measures .text bytes
        (kept for :meth:`score`)."""
        cfg = self.param_space.validate(config)
        items = np.asarray(items, dtype=np.int64)
        want_text = split == "test" and len(items) == self.n_items("test")
        if self.policy == "sequence":

            def one(i: int) -> tuple[float, float]:
                return self._compile(self.module(split, i), self.sequence(cfg, split, i), want_text)
        else:
            assert self.net is not None
            decide = self.net.decider(cfg)

            def one(i: int) -> tuple[float, float]:
                count, text, _ = self.run_episode(
                    self.module(split, i), lambda s: decide(observation(s)), want_text
                )
                return count, text

        results = self._map(one, items)
        costs = np.array([r[0] for r in results], dtype=np.float64)
        if want_text:
            self._last_test = (costs, np.array([r[1] for r in results], dtype=np.float64))
        return costs

    def evaluate_policy(self, policy: LivePolicy, split: str, items: np.ndarray) -> np.ndarray:
        """Instruction counts of modules under a live policy, one episode per module in
        order: ``policy(state)`` is asked before every pass (``len(actions)`` = stop), at
        most ``max_len`` times. The episode's sequence is in ``last_sequences``."""
        out, seqs = [], []
        for i in np.asarray(items, dtype=np.int64):
            count, _, seq = self.run_episode(self.module(split, int(i)), policy, False)
            out.append(count)
            seqs.append(seq)
        self.last_sequences = seqs
        return np.array(out, dtype=np.float64)

    def run_episode(
        self, module: PassModule, policy: LivePolicy, want_text: bool
    ) -> tuple[float, float, tuple[str, ...]]:
        """(instructions, text bytes, sequence) of one closed-loop episode on ``module``
        (NaN counts when a pass fails or the result does not verify)."""
        server = self.pool.get()
        sid = f"e{next(self._sids)}"
        r = server.load(sid, module.bitcode)
        if not r.ok:
            return float("nan"), float("nan"), ()
        init, seq = r.instructions, []
        history = [0] * len(self.actions)
        try:
            for t in range(self.max_len):
                assert r.features is not None
                state = PassState(r.features, t, self.max_len, init, r.instructions, tuple(history))
                a = int(policy(state))
                if not 0 <= a <= len(self.actions):
                    raise ValueError(f"policy returned action {a} of {len(self.actions)}")
                if a == len(self.actions):
                    break
                r = server.step(sid, [element(self.actions[a])])
                seq.append(self.actions[a])
                history[a] += 1
                if not r.ok:
                    return float("nan"), float("nan"), tuple(seq)
            r = server.step(sid, [], verify=True, features=False, text=want_text)
        finally:
            server.free(sid)
        if not r.ok:
            return float("nan"), float("nan"), tuple(seq)
        return float(r.instructions), float(r.text_bytes), tuple(seq)

    def _compile(
        self, module: PassModule, seq: tuple[str, ...], want_text: bool
    ) -> tuple[float, float]:
        key = (module.name, seq, want_text)
        with self._memo_lock:
            hit = self._memo.get(key) or (
                None if want_text else self._memo.get((module.name, seq, True))
            )
        if hit is not None:
            return hit
        r = self.pool.get().run(module.bitcode, [element(a) for a in seq], text=want_text)
        value = (
            (float(r.instructions), float(r.text_bytes)) if r.ok else (float("nan"), float("nan"))
        )
        with self._memo_lock:
            if len(self._memo) > 500_000:
                self._memo.clear()
            self._memo[key] = value
        return value

    def _map(
        self, fn: Callable[[int], tuple[float, float]], items: np.ndarray
    ) -> list[tuple[float, float]]:
        if self.jobs > 1 and len(items) > 1:
            # One executor for the task's life: the pool keeps a pass server per thread,
            # so fresh threads per call would start (and leak) fresh servers each time.
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self.jobs)
            return list(self._executor.map(fn, items.tolist()))
        return [fn(int(i)) for i in items]

    # ---- scoring ------------------------------------------------------------------------
    def loss(self, costs: np.ndarray, split: str, items: np.ndarray) -> float:
        """Geometric mean of instructions / -Oz's instructions (1.0 = -Oz)."""
        return geomean(oz_ratios(costs, self.targets(split, items)))

    def score(self, costs: np.ndarray, split: str, items: np.ndarray) -> dict[str, float]:
        """Geomean and total instruction ratio vs -Oz, the reduction factor (its inverse,
        CompilerGym's figure), failures, the .text ratio (whole test split), and per
        package its geomean ratio (``package/<name>``)."""
        items = np.asarray(items, dtype=np.int64)
        oz = self.targets(split, items)
        ratios = oz_ratios(costs, oz)
        g = geomean(ratios)
        filled = np.where(np.isfinite(costs), costs, FAILED_RATIO * oz)
        out = {
            "loss": g,
            "geomean_oz_ratio": g,
            "oz_reduction": 1.0 / g,
            "total_oz_ratio": float(np.sum(filled) / np.sum(oz)),
            "better_than_oz_fraction": float(np.mean(ratios < 1.0)),
            "failed_fraction": float(np.mean(~np.isfinite(costs))),
        }
        last = self._last_test
        if split == "test" and last is not None and np.array_equal(last[0], costs, equal_nan=True):
            text_oz = np.array(
                [self.module(split, i).oz_text_bytes for i in items], dtype=np.float64
            )
            text = last[1]
            out["geomean_text_oz_ratio"] = geomean(oz_ratios(text, text_oz))
        packages = [self.module(split, i).package for i in items]
        for pkg in sorted(set(packages)):
            mask = np.array([p == pkg for p in packages])
            out[f"package/{pkg}"] = geomean(ratios[mask])
        return out

    def versions(self) -> dict[str, str]:
        return {"llvm": find_tools().version}

    def provenance(self) -> dict[str, Any]:
        pk = {s: sorted({m.package for m in self.splits[s]}) for s in SPLITS}
        out: dict[str, Any] = {
            "dataset": "envs/llvmcorpus (Debian packages, LLVM 22 bitcode)"
            if pk["test"] != ["csmith"]
            else "csmith programs",
            "split": "by package"
            if self.setting == "generalize"
            else "per-module: test modules only",
            "split_sizes": {s: len(self.splits[s]) for s in SPLITS},
            # distinct modules (the per-module setting's three splits are the same ones)
            "dataset_items": len({m.name for s in SPLITS for m in self.splits[s]}),
            "packages": pk,
            "setting": self.setting,
            "policy": self.policy,
            "actions": len(self.actions),
        }
        if self.note:
            out["notes"] = [self.note]
        return out


def make_passes_task(
    setting: str = "generalize",
    policy: str = "sequence",
    corpus: str = "llvmcorpus",
    oz_action: bool = True,
    max_len: int = 20,
    hidden: int = 64,
    packages: list[str] | None = None,
    max_per_package: int | None = None,
    max_test_per_package: int | None = None,
    min_oz_instructions: int = 10,
    max_instructions: int | None = None,
    split_seed: int | None = None,
    build_corpus: bool = True,
    n_csmith: int = 30,
    n_test: int = 8,
    n_val: int = 4,
    jobs: int = 1,
    per_module_split: str = "test",
) -> PassOrderingTask:
    """Pass ordering on LLVM 22: pass sequences or policies vs -Oz (IR instruction count).

    ``per_module_split``: whose modules the per-module setting searches: ``"test"``
    (the leaderboard setting) or ``"train"`` / ``"val"`` (search the training packages'
    modules, e.g. to learn a portfolio of sequences from them: bench/passes_portfolio.py;
    such a run's "test" figures are of those modules, never of the test packages).

    Corpus options: ``corpus = "llvmcorpus"`` (the real-world corpus, split by
    package; ``packages`` restricts it; ``max_per_package`` / ``max_test_per_package``
    keep that many modules of each train/val resp. test package, the same ones every
    time; ``min_oz_instructions`` drops modules -Oz folds to fewer instructions;
    ``max_instructions`` drops modules larger than that before any pass, so a suite
    sized for minutes is not dominated by a few amalgamations) or
    ``"csmith"`` (csmith seeds 1..n_csmith, ``n_test`` / ``n_val`` held out).
    """
    if per_module_split not in SPLITS:
        raise UserError(f"per_module_split must be one of {SPLITS}, not {per_module_split!r}")
    pool = ServerPool()
    if corpus == "csmith":
        splits = csmith_modules(range(1, int(n_csmith) + 1), n_test, n_val, pool, jobs=jobs)
    elif corpus == "llvmcorpus":
        splits = corpus_modules(packages, min_oz_instructions, split_seed, build_corpus)
        if max_instructions is not None:
            splits = {
                s: [m for m in mods if m.instructions <= max_instructions]
                for s, mods in splits.items()
            }
        splits = _capped(splits, max_per_package, max_test_per_package)
    else:
        raise UserError(f"corpus must be 'llvmcorpus' or 'csmith', not {corpus!r}")
    pool.close()
    notes = []
    if max_per_package is not None or max_test_per_package is not None:
        notes.append(
            f"at most {max_per_package} modules per train/val package, "
            f"{max_test_per_package} per test package"
        )
    if max_instructions is not None:
        notes.append(f"modules of at most {max_instructions} instructions")
    if setting == "per-module" and per_module_split != "test":
        notes.append(f"per-module search over the {per_module_split} packages' modules")
    note = "subset: " + "; ".join(notes) if notes else ""
    if setting == "per-module":
        splits = {s: list(splits[per_module_split]) for s in SPLITS}
    return PassOrderingTask(splits, setting, policy, oz_action, max_len, hidden, jobs, note)


def _capped(
    splits: dict[str, list[PassModule]], per_pkg: int | None, per_test_pkg: int | None
) -> dict[str, list[PassModule]]:
    """At most ``per_pkg`` modules of each train/val package and ``per_test_pkg`` of each
    test package, chosen by a hash of the name (stable)."""
    import hashlib

    def cap(mods: list[PassModule], k: int | None) -> list[PassModule]:
        if k is None:
            return mods
        by: dict[str, list[PassModule]] = {}
        for m in mods:
            by.setdefault(m.package, []).append(m)
        out: list[PassModule] = []
        for pkg in sorted(by):
            ranked = sorted(by[pkg], key=lambda m: hashlib.sha256(m.name.encode()).hexdigest())
            out += sorted(ranked[:k], key=lambda m: m.name)
        return out

    return {
        "train": cap(splits["train"], per_pkg),
        "val": cap(splits["val"], per_pkg),
        "test": cap(splits["test"], per_test_pkg),
    }
