"""Task ``inlining``: MLGO-style inlining for size on real LLVM 22.

An item is one module; one sample is one compilation of one module under a policy
(opt -Oz with the ML inliner asking our pipe host at every call site, then llc, then
.text bytes). The parameters are the weights of a linear or neural inlining policy
(envs/inlining/policy.py); the default configuration reproduces the -Oz heuristic
exactly. The target of a module is its .text size under the heuristic; the loss is the
geometric mean of size / heuristic size over modules (lower is better, 1.0 = -Oz).

Two corpora (``corpus`` option):

- ``csmith``: csmith programs (fixed seeds) plus our own C programs, split by a hash of
  the names (envs/inlining/corpus.py);
- ``debian``: every C translation unit of ~30 Debian packages (envs/llvmcorpus), split
  by package: the test packages' modules are never trained on (envs/inlining/debian.py).
  Scores add ``package/<name>``: each test package's geomean size ratio.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from envs.inlining.corpus import Module, build_corpus, csmith_version, split_modules
from envs.inlining.host import CompileError, Decider, compile_with_policy
from envs.inlining.policy import FEATURE_SETS, POLICY_KINDS, PolicySpec, make_policy, policy_space
from envs.inlining.tools import llvm_tools
from harness.errors import UserError
from harness.task import DETERMINISTIC, INPUTS, POLICY, TARGETS, Metric, Policy, Task

# A compilation that failed counts as this size ratio, so a policy cannot gain by
# breaking the compiler.
FAILED_RATIO = 2.0
CORPORA = ("csmith", "debian")
SPLITS = ("train", "val", "test")


def size_ratios(sizes: np.ndarray, heuristic: np.ndarray) -> np.ndarray:
    """size / heuristic size per module, float64 [n]; failed (NaN) -> FAILED_RATIO."""
    ratio = np.asarray(sizes, dtype=np.float64) / np.asarray(heuristic, dtype=np.float64)
    return np.where(np.isfinite(ratio), ratio, FAILED_RATIO)


def mlgo_reward(sizes: np.ndarray, heuristic: np.ndarray) -> np.ndarray:
    """MLGO's per-module reward ``1 - (size + 0.01) / (heuristic + 0.01)``, float64 [n]."""
    size = np.where(np.isfinite(sizes), sizes, FAILED_RATIO * np.asarray(heuristic))
    return 1.0 - (size + 0.01) / (np.asarray(heuristic, dtype=np.float64) + 0.01)


def geomean(x: np.ndarray) -> float:
    return float(np.exp(np.mean(np.log(np.asarray(x, dtype=np.float64)))))


class InliningTask(Task):
    """Inlining-for-size over modules split into train / val / test.

    Args:
        parts: split name -> its modules (in a fixed order).
        features: ``small`` (12 features) or ``all`` (LLVM 22's 38).
        policy: ``linear`` or ``mlp`` (one tanh hidden layer of ``hidden`` units).
        jobs: modules compiled at once within one ``evaluate`` call (threads).
        per_module_metrics: add ``module/<name>`` (size ratio) for every test module.
        per_package_metrics: add ``package/<name>`` (geomean size ratio) per test package.
        excluded_test: test modules left out (no decision): they count as ratio 1.0 in
            ``geomean_size_ratio_all_modules``.
        corpus_name: ``csmith`` or ``debian`` (descriptions, versions).
        provenance: what the report says about the corpus and split.
    """

    name = "inlining"
    headline = Metric("geomean_size_ratio", "min", ".text size / -Oz (geomean)")
    # Compilations are deterministic for a fixed policy: the harness's budgeted
    # objective caches repeats (still charging them). Targets are the -Oz sizes.
    capabilities = frozenset({DETERMINISTIC, TARGETS, INPUTS, POLICY})

    def __init__(
        self,
        parts: Mapping[str, Sequence[Module]],
        features: str = "small",
        policy: str = "linear",
        hidden: int = 16,
        jobs: int = 1,
        per_module_metrics: bool = True,
        per_package_metrics: bool = True,
        excluded_test: int = 0,
        corpus_name: str = "csmith",
        provenance: Mapping[str, Any] | None = None,
    ) -> None:
        if features not in FEATURE_SETS:
            raise UserError(f"features must be one of {sorted(FEATURE_SETS)}, not {features!r}")
        if policy not in POLICY_KINDS:
            raise UserError(f"policy must be one of {list(POLICY_KINDS)}, not {policy!r}")
        if policy == "mlp" and int(hidden) < 1:
            raise UserError("hidden must be >= 1 for the mlp policy")
        self.parts = {s: list(parts[s]) for s in SPLITS}
        self.features = FEATURE_SETS[features]
        self.spec = PolicySpec(policy, self.features, int(hidden) if policy == "mlp" else 0)
        self.param_space = policy_space(self.features, policy, int(hidden))
        self.jobs = max(1, int(jobs))
        self.per_module_metrics = per_module_metrics
        self.per_package_metrics = per_package_metrics
        self.excluded_test = int(excluded_test)
        self.corpus_name = corpus_name
        self._provenance = dict(provenance or {})
        shape = f"{policy}, {len(self.features)} features" + (
            f", {hidden} hidden" if policy == "mlp" else ""
        )
        sizes = " / ".join(f"{len(self.parts[s])} {s}" for s in SPLITS)
        self.description = (
            f"LLVM {llvm_tools().version} -Oz inlining policy ({shape}; "
            f"{len(self.param_space)} weights) on the {corpus_name} corpus ({sizes} modules)"
        )
        # The default configuration is the heuristic: its sizes are known already.
        self._default = self.param_space.default()

    @property
    def modules(self) -> list[Module]:
        """Every module of every split."""
        return [m for s in SPLITS for m in self.parts[s]]

    def module(self, split: str, item: int) -> Module:
        return self._part(split)[int(item)]

    def _part(self, split: str) -> list[Module]:
        if split not in self.parts:
            raise ValueError(f"unknown split {split!r}")
        return self.parts[split]

    def n_items(self, split: str) -> int:
        return len(self._part(split))

    def inputs(self, split: str, items: np.ndarray) -> list[str]:
        """Module names (``csmith-<seed>``, ``prog-<name>``, ``<package>/<source>``)."""
        return [self.module(split, i).name for i in items]

    def targets(self, split: str, items: np.ndarray) -> np.ndarray:
        """.text bytes under the -Oz heuristic, float64 [len(items)]."""
        return np.array(
            [self.module(split, i).heuristic_text_bytes for i in items], dtype=np.float64
        )

    def evaluate(self, config: Mapping[str, Any], split: str, items: np.ndarray) -> np.ndarray:
        """.text bytes of each module compiled under ``config`` (a policy of
        ``param_space``), float64 [len(items)]; NaN where compilation failed."""
        cfg = self.param_space.validate(config)
        if cfg == self._default:
            return self.targets(split, items)
        modules = [self.module(split, i) for i in items]
        policy = make_policy(cfg, self.spec)
        return self._compile_all(modules, policy)

    def _compile_all(self, modules: list[Module], decide: Decider) -> np.ndarray:
        if self.jobs > 1 and len(modules) > 1:
            with ThreadPoolExecutor(max_workers=self.jobs) as pool:
                sizes = list(pool.map(lambda m: self._compile(m, decide), modules))
        else:
            sizes = [self._compile(m, decide) for m in modules]
        return np.array(sizes, dtype=np.float64)

    def evaluate_policy(self, policy: Policy, split: str, items: np.ndarray) -> np.ndarray:
        """.text bytes of each module compiled under a live decider (raw call-site
        features -> inline?), one module after another in order (it may be stateful)."""
        modules = [self.module(split, i) for i in items]
        return np.array([self._compile(m, policy) for m in modules], dtype=np.float64)

    @staticmethod
    def _compile(module: Module, decide: Decider) -> float:
        try:
            return float(compile_with_policy(module.ir_path, decide).text_bytes)
        except CompileError:
            return float("nan")

    def loss(self, costs: np.ndarray, split: str, items: np.ndarray) -> float:
        """Geometric mean of size / heuristic size (1.0 = the -Oz heuristic)."""
        return geomean(size_ratios(costs, self.targets(split, items)))

    def score(self, costs: np.ndarray, split: str, items: np.ndarray) -> dict[str, float]:
        """Geomean and total size ratio vs -Oz, MLGO's mean reward, failures; and,
        when scoring the whole test split, each test package's (and optionally each
        module's) ratio."""
        targets = self.targets(split, items)
        ratios = size_ratios(costs, targets)
        pred = np.where(np.isfinite(costs), costs, FAILED_RATIO * targets)
        log_sum = float(np.sum(np.log(ratios)))
        out = {
            "loss": geomean(ratios),
            "geomean_size_ratio": geomean(ratios),
            "total_size_ratio": float(np.sum(pred) / np.sum(targets)),
            "mlgo_reward": float(np.mean(mlgo_reward(costs, targets))),
            "failed_fraction": float(np.mean(~np.isfinite(costs))),
            "frac_smaller": float(np.mean(ratios < 1.0)),
            "frac_larger": float(np.mean(ratios > 1.0)),
        }
        whole_test = split == "test" and len(items) == self.n_items("test")
        if whole_test:
            # Modules with no call-site decision are exactly -Oz under any policy.
            out["geomean_size_ratio_all_modules"] = float(
                np.exp(log_sum / (len(ratios) + self.excluded_test))
            )
        if whole_test and self.per_package_metrics:
            by_pkg: dict[str, list[int]] = {}
            for k, i in enumerate(items):
                pkg = self.module("test", int(i)).package
                if pkg:
                    by_pkg.setdefault(pkg, []).append(k)
            for pkg, ks in sorted(by_pkg.items()):
                # "/" marks per-item detail: in the records, not the report's table.
                out[f"package/{pkg}"] = geomean(ratios[ks])
                out[f"package_total/{pkg}"] = float(np.sum(pred[ks]) / np.sum(targets[ks]))
        if whole_test and self.per_module_metrics:
            for i, r in zip(items, ratios, strict=True):
                out[f"module/{self.module('test', int(i)).name}"] = float(r)
        return out

    def versions(self) -> dict[str, str]:
        out = {"llvm": llvm_tools().version}
        if self.corpus_name == "csmith":
            out["csmith"] = csmith_version()
        return out

    def provenance(self) -> dict[str, Any]:
        return dict(self._provenance)


def make_inlining_task(
    corpus: str = "csmith",
    n_csmith: int = 40,
    own_programs: bool = True,
    n_test: int = 12,
    n_val: int = 4,
    split_seed: int | None = None,
    packages: Sequence[str] | None = None,
    max_modules: int | None = None,
    max_val_modules: int | None = 32,
    max_instructions: int | None = None,
    features: str = "small",
    policy: str = "linear",
    hidden: int = 16,
    jobs: int = 1,
    per_module_metrics: bool | None = None,
    per_package_metrics: bool = True,
) -> InliningTask:
    """LLVM 22 inlining for size: a call-site policy vs the -Oz heuristic (.text bytes).

    ``corpus = "csmith"``: csmith seeds 1..n_csmith plus our programs, ``n_test`` /
    ``n_val`` held out by a hash of the names (``split_seed``, None = 0). ``corpus = "debian"``:
    the Debian corpus (built on first use: ``tunebench corpus build``), split by package
    (``split_seed``: None = the corpus' fixed split, else its seeded split), restricted to
    ``packages`` if given; ``max_modules`` / ``max_val_modules`` cap train / val (a
    seeded subset), ``max_instructions`` drops larger train/val modules (never test).
    ``per_module_metrics``: default on for csmith, off for debian (hundreds of modules).

    Modules and their -Oz sizes are cached (``$TUNEBENCH_CACHE``, default
    ``~/.cache/tunebench``).
    """
    if corpus not in CORPORA:
        raise UserError(f"corpus must be one of {list(CORPORA)}, not {corpus!r}")
    common = dict(features=features, policy=policy, hidden=hidden, jobs=jobs)
    if corpus == "csmith":
        if packages is not None or max_modules is not None or max_instructions is not None:
            raise UserError("packages, max_modules and max_instructions need corpus = 'debian'")
        modules = build_corpus(range(1, int(n_csmith) + 1), own_programs=own_programs, jobs=2)
        seed = 0 if split_seed is None else int(split_seed)
        split = split_modules(modules, n_test, n_val, seed=seed)
        parts = {s: [modules[i] for i in split.part(s)] for s in SPLITS}
        return InliningTask(
            parts,
            per_module_metrics=True if per_module_metrics is None else per_module_metrics,
            per_package_metrics=False,
            corpus_name="csmith",
            provenance={
                "corpus": f"csmith seeds 1..{n_csmith}" + (" + ours" if own_programs else ""),
                "split": f"hash of module names (seed {seed}): {n_test} test, {n_val} val",
                "split_sizes": {s: len(parts[s]) for s in SPLITS},
            },
            **common,  # type: ignore[arg-type]
        )
    return make_debian_task(
        packages=packages,
        split_seed=split_seed,
        max_modules=max_modules,
        max_val_modules=max_val_modules,
        max_instructions=max_instructions,
        per_module_metrics=bool(per_module_metrics),
        per_package_metrics=per_package_metrics,
        **common,  # type: ignore[arg-type]
    )


def make_debian_task(
    packages: Sequence[str] | None = None,
    split_seed: int | None = None,
    max_modules: int | None = None,
    max_val_modules: int | None = 32,
    max_instructions: int | None = None,
    loaded: Any = None,
    **task_options: Any,
) -> InliningTask:
    """The inlining task on the Debian corpus (``loaded``: a Corpus to use instead of
    ``load_corpus(packages)``, e.g. a test's tiny one)."""
    from envs.inlining.debian import debian_parts
    from envs.llvmcorpus import load_corpus

    for name, value in (("max_modules", max_modules), ("max_val_modules", max_val_modules)):
        if value is not None and int(value) < 1:
            raise UserError(f"{name} must be >= 1 (or unset)")
    task_options.setdefault("per_module_metrics", False)
    corpus = loaded if loaded is not None else load_corpus(packages)
    sel = debian_parts(
        corpus,
        split_seed=split_seed,
        max_modules=max_modules,
        max_val_modules=max_val_modules,
        max_instructions=max_instructions,
    )
    notes = [
        f"{s}: {len(sel.parts[s])} modules of {sel.candidates[s]} "
        f"({sel.excluded[s]} of {sel.measured[s]} measured have no call-site decision)"
        for s in SPLITS
    ]
    if sel.failed:
        notes.append(f"{len(sel.failed)} modules failed under the heuristic: {sel.failed[:5]}")
    if sel.size_mismatches:
        notes.append(
            f"{len(sel.size_mismatches)} modules where the heuristic's echo != plain -Oz "
            f"(their 1.0 is the echo; envs/inlining/README.md says why): "
            f"{list(sel.size_mismatches[:5])}"
        )
    return InliningTask(
        sel.parts,
        excluded_test=sel.excluded["test"],
        corpus_name="debian",
        provenance={
            "corpus": "Debian sources (envs/llvmcorpus), clang-22 -Oz bitcode",
            "split": "by package" + ("" if split_seed is None else f" (seed {split_seed})"),
            "split_packages": {s: list(sel.packages[s]) for s in SPLITS},
            "split_sizes": {s: len(sel.parts[s]) for s in SPLITS},
            "max_instructions": max_instructions,
            "package_versions": dict(sorted(sel.versions.items())),
            "notes": notes,
        },
        **task_options,
    )
