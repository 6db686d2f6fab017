"""Task ``inlining``: MLGO-style inlining for size on real LLVM 22.

An item is one module of the corpus (csmith programs + our own C programs); one
sample is one compilation of one module under a policy (opt -Oz with the ML
inliner asking our pipe host at every call site, then llc, then .text bytes). The
parameters are the weights of a linear inlining policy (envs/inlining/policy.py);
the default configuration reproduces the -Oz heuristic exactly. The target of a
module is its .text size under the heuristic; the loss is the geometric mean of
size / heuristic size over modules (lower is better, 1.0 = the heuristic).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from envs.inlining.corpus import Module, build_corpus, csmith_version, split_modules
from envs.inlining.host import CompileError, Decider, compile_with_policy
from envs.inlining.policy import (
    EXTERNAL_KEY,
    FEATURE_SETS,
    LinearPolicy,
    lookup_external,
    policy_space,
)
from envs.inlining.tools import llvm_tools
from harness.errors import UserError
from harness.task import Task

# A compilation that failed counts as this size ratio, so a policy cannot gain by
# breaking the compiler.
FAILED_RATIO = 2.0
_CACHE_LIMIT = 200_000


def size_ratios(sizes: np.ndarray, heuristic: np.ndarray) -> np.ndarray:
    """size / heuristic size per module, float64 [n]; failed (NaN) -> FAILED_RATIO."""
    ratio = np.asarray(sizes, dtype=np.float64) / np.asarray(heuristic, dtype=np.float64)
    return np.where(np.isfinite(ratio), ratio, FAILED_RATIO)


def mlgo_reward(sizes: np.ndarray, heuristic: np.ndarray) -> np.ndarray:
    """MLGO's per-module reward ``1 - (size + 0.01) / (heuristic + 0.01)``, float64 [n]."""
    size = np.where(np.isfinite(sizes), sizes, FAILED_RATIO * np.asarray(heuristic))
    return 1.0 - (size + 0.01) / (np.asarray(heuristic, dtype=np.float64) + 0.01)


class InliningTask(Task):
    """Inlining-for-size over a module corpus; see the module docstring.

    Args:
        modules: the corpus (``build_corpus``), in a fixed order.
        n_test, n_val: modules held out for test and validation (the rest train).
        split_seed: seed of the hash split.
        features: ``small`` (12 features, 14 parameters) or ``all`` (38, 40).
        jobs: modules compiled at once within one ``simulate`` call.
        per_module_metrics: add ``module/<name>`` (size ratio) for every test module.
    """

    name = "inlining"

    def __init__(
        self,
        modules: list[Module],
        n_test: int = 12,
        n_val: int = 4,
        split_seed: int = 0,
        features: str = "small",
        jobs: int = 1,
        per_module_metrics: bool = True,
    ) -> None:
        if features not in FEATURE_SETS:
            raise UserError(f"features must be one of {sorted(FEATURE_SETS)}, not {features!r}")
        self.modules = modules
        self.split = split_modules(modules, n_test, n_val, seed=split_seed)
        self.features = FEATURE_SETS[features]
        self.param_space = policy_space(self.features)
        self.jobs = max(1, int(jobs))
        self.per_module_metrics = per_module_metrics
        self.description = (
            f"LLVM {llvm_tools().version} -Oz inlining policy ({len(self.features)} features) "
            f"on {len(modules)} modules ({len(self.split.train)} train / "
            f"{len(self.split.val)} val / {n_test} test)"
        )
        # Compilations are deterministic for a fixed linear policy: repeated ones (the
        # harness's validation monitor, a tuner asking twice) are served from here.
        # The budget is charged by the harness whether or not this cache answers.
        self._cache: dict[tuple[str, int], float] = {}
        default_key = self._key(self.param_space.default())
        for i, m in enumerate(self.modules):
            self._cache[(default_key, i)] = float(m.heuristic_text_bytes)

    def module(self, split: str, item: int) -> Module:
        return self.modules[self.split.part(split)[int(item)]]

    def n_items(self, split: str) -> int:
        return len(self.split.part(split))

    def inputs(self, split: str, items: np.ndarray) -> list[str]:
        """Module names (``csmith-<seed>``, ``prog-<name>``)."""
        return [self.module(split, i).name for i in items]

    def targets(self, split: str, items: np.ndarray) -> np.ndarray:
        """.text bytes under the -Oz heuristic, float64 [len(items)]."""
        return np.array(
            [self.module(split, i).heuristic_text_bytes for i in items], dtype=np.float64
        )

    def simulate(self, config: Mapping[str, Any], split: str, items: np.ndarray) -> np.ndarray:
        """.text bytes of each module compiled under ``config``, float64 [len(items)].

        ``config`` is a configuration of ``param_space``, or one naming a live decider
        under ``EXTERNAL_KEY`` (then the other entries are ignored and the modules are
        compiled one after another, in order, since the decider may be stateful).
        """
        positions = [self.split.part(split)[int(i)] for i in items]
        if EXTERNAL_KEY in config:
            decide = lookup_external(str(config[EXTERNAL_KEY]))
            return np.array([self._compile(p, decide) for p in positions], dtype=np.float64)
        cfg = self.param_space.validate(config)
        key, policy = self._key(cfg), LinearPolicy(cfg, self.features)
        todo = sorted({p for p in positions if (key, p) not in self._cache})
        if todo:
            if self.jobs > 1 and len(todo) > 1:
                with ThreadPoolExecutor(max_workers=self.jobs) as pool:
                    sizes = list(pool.map(lambda p: self._compile(p, policy), todo))
            else:
                sizes = [self._compile(p, policy) for p in todo]
            if len(self._cache) > _CACHE_LIMIT:
                self._cache.clear()
            self._cache.update({(key, p): s for p, s in zip(todo, sizes, strict=True)})
        return np.array([self._cache[(key, p)] for p in positions], dtype=np.float64)

    def _compile(self, position: int, decide: Decider) -> float:
        try:
            return float(compile_with_policy(self.modules[position].ir_path, decide).text_bytes)
        except CompileError:
            return float("nan")

    @staticmethod
    def _key(config: Mapping[str, Any]) -> str:
        return json.dumps(dict(config), sort_keys=True)

    def loss(self, predictions: np.ndarray, targets: np.ndarray) -> float:
        """Geometric mean of size / heuristic size (1.0 = the -Oz heuristic)."""
        return float(np.exp(np.mean(np.log(size_ratios(predictions, targets)))))

    def metrics(self, predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        """Geomean and total size ratio vs -Oz, MLGO's mean reward, failures; and,
        when scoring the whole test split, each test module's ratio."""
        ratios = size_ratios(predictions, targets)
        pred = np.where(np.isfinite(predictions), predictions, FAILED_RATIO * targets)
        out = {
            "loss": self.loss(predictions, targets),
            "geomean_size_ratio": float(np.exp(np.mean(np.log(ratios)))),
            "total_size_ratio": float(np.sum(pred) / np.sum(targets)),
            "mlgo_reward": float(np.mean(mlgo_reward(predictions, targets))),
            "failed_fraction": float(np.mean(~np.isfinite(predictions))),
        }
        test_targets = self.targets("test", np.arange(self.n_items("test")))
        if self.per_module_metrics and np.array_equal(targets, test_targets):
            for i, r in enumerate(ratios):
                # "/" marks per-item detail: in the records, not the report's table.
                out[f"module/{self.module('test', i).name}"] = float(r)
        return out

    def versions(self) -> dict[str, str]:
        return {"llvm": llvm_tools().version, "csmith": csmith_version()}


def make_inlining_task(
    n_csmith: int = 40,
    own_programs: bool = True,
    n_test: int = 12,
    n_val: int = 4,
    split_seed: int = 0,
    features: str = "small",
    jobs: int = 1,
    per_module_metrics: bool = True,
) -> InliningTask:
    """LLVM 22 inlining for size: a linear call-site policy vs the -Oz heuristic (.text bytes).

    The corpus: csmith seeds 1..n_csmith plus our programs.

    The corpus is compiled to IR and measured under the heuristic once, then cached
    (``$TUNEBENCH_CACHE``, default ``~/.cache/tunebench``).
    """
    modules = build_corpus(range(1, int(n_csmith) + 1), own_programs=own_programs, jobs=2)
    return InliningTask(
        modules,
        n_test=n_test,
        n_val=n_val,
        split_seed=split_seed,
        features=features,
        jobs=jobs,
        per_module_metrics=per_module_metrics,
    )
