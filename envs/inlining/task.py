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

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from envs.inlining.corpus import Module, build_corpus, csmith_version, split_modules
from envs.inlining.host import CompileError, Decider, compile_with_policy
from envs.inlining.policy import FEATURE_SETS, LinearPolicy, policy_space
from envs.inlining.tools import llvm_tools
from harness.errors import UserError
from harness.task import DETERMINISTIC, INPUTS, POLICY, TARGETS, Metric, Policy, Task

# A compilation that failed counts as this size ratio, so a policy cannot gain by
# breaking the compiler.
FAILED_RATIO = 2.0


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
    headline = Metric("geomean_size_ratio", "min", ".text size / -Oz (geomean)")
    # Compilations are deterministic for a fixed linear policy: the harness's budgeted
    # objective caches repeats (still charging them). Targets are the -Oz sizes.
    capabilities = frozenset({DETERMINISTIC, TARGETS, INPUTS, POLICY})

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
        # The default configuration is the heuristic: its sizes are known already.
        self._default = self.param_space.default()

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

    def evaluate(self, config: Mapping[str, Any], split: str, items: np.ndarray) -> np.ndarray:
        """.text bytes of each module compiled under ``config`` (a linear policy of
        ``param_space``), float64 [len(items)]; NaN where compilation failed."""
        cfg = self.param_space.validate(config)
        if cfg == self._default:
            return self.targets(split, items)
        positions = [self.split.part(split)[int(i)] for i in items]
        policy = LinearPolicy(cfg, self.features)
        if self.jobs > 1 and len(positions) > 1:
            with ThreadPoolExecutor(max_workers=self.jobs) as pool:
                sizes = list(pool.map(lambda p: self._compile(p, policy), positions))
        else:
            sizes = [self._compile(p, policy) for p in positions]
        return np.array(sizes, dtype=np.float64)

    def evaluate_policy(self, policy: Policy, split: str, items: np.ndarray) -> np.ndarray:
        """.text bytes of each module compiled under a live decider (raw call-site
        features -> inline?), one module after another in order (it may be stateful)."""
        positions = [self.split.part(split)[int(i)] for i in items]
        return np.array([self._compile(p, policy) for p in positions], dtype=np.float64)

    def _compile(self, position: int, decide: Decider) -> float:
        try:
            return float(compile_with_policy(self.modules[position].ir_path, decide).text_bytes)
        except CompileError:
            return float("nan")

    def loss(self, costs: np.ndarray, split: str, items: np.ndarray) -> float:
        """Geometric mean of size / heuristic size (1.0 = the -Oz heuristic)."""
        ratios = size_ratios(costs, self.targets(split, items))
        return float(np.exp(np.mean(np.log(ratios))))

    def score(self, costs: np.ndarray, split: str, items: np.ndarray) -> dict[str, float]:
        """Geomean and total size ratio vs -Oz, MLGO's mean reward, failures; and,
        when scoring the whole test split, each test module's ratio."""
        targets = self.targets(split, items)
        ratios = size_ratios(costs, targets)
        pred = np.where(np.isfinite(costs), costs, FAILED_RATIO * targets)
        out = {
            "loss": self.loss(costs, split, items),
            "geomean_size_ratio": float(np.exp(np.mean(np.log(ratios)))),
            "total_size_ratio": float(np.sum(pred) / np.sum(targets)),
            "mlgo_reward": float(np.mean(mlgo_reward(costs, targets))),
            "failed_fraction": float(np.mean(~np.isfinite(costs))),
        }
        if self.per_module_metrics and split == "test" and len(items) == self.n_items("test"):
            for i, r in zip(items, ratios, strict=True):
                # "/" marks per-item detail: in the records, not the report's table.
                out[f"module/{self.module('test', int(i)).name}"] = float(r)
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
