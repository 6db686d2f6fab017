"""Trajectory replay for inlining policies: the size a policy gives a module, without
compiling it again, when it would make the same decisions as a compilation seen before.

opt is deterministic: the first call site it asks about is the same under every
policy; if a policy answers it as a recorded compilation did, the next call site is the
recorded one too, and so on. So a policy that agrees with a recorded compilation of a
module at every recorded call site gives that compilation's ``.text`` size exactly. An
agent that records the features of its own compilations (live policies through
``ctx.objective.evaluate_policy``, one charged sample each) can skip asking for those
sizes again: the budget counts what it asks for, and this asks only where a policy
would leave every recorded path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from harness.agent import TrialContext

Decider = Callable[[np.ndarray], bool]


@dataclass
class Trajectory:
    """One recorded compilation: raw features float64 [n, N_FEATURES], the decisions
    bool [n] and the resulting .text bytes (NaN: it failed)."""

    features: np.ndarray
    decisions: np.ndarray
    text_bytes: float


@dataclass
class ReplayStats:
    compiled: int = 0
    replayed: int = 0


@dataclass
class TrajectoryStore:
    """Recorded compilations per train module; :meth:`size` compiles only when needed."""

    ctx: TrialContext
    split: str = "train"
    max_per_module: int = 64
    paths: dict[int, list[Trajectory]] = field(default_factory=dict)
    stats: ReplayStats = field(default_factory=ReplayStats)

    def known(self, module: int, policy: Decider) -> float | None:
        """The size ``policy`` gives ``module`` if it follows a recorded path, else None."""
        for path in self.paths.get(module, ()):
            pairs = zip(path.features, path.decisions, strict=True)
            if all(bool(policy(x)) == d for x, d in pairs):
                return path.text_bytes
        return None

    def size(self, module: int, policy: Decider) -> float:
        """.text bytes of ``module`` under ``policy``: replayed, or compiled (one sample,
        recorded). BudgetExhausted propagates when a compilation is refused."""
        hit = self.known(module, policy)
        if hit is not None:
            self.stats.replayed += 1
            return hit
        feats: list[np.ndarray] = []
        decisions: list[bool] = []

        def record(raw: np.ndarray) -> bool:
            answer = bool(policy(raw))
            feats.append(np.asarray(raw, dtype=np.float64).copy())
            decisions.append(answer)
            return answer

        size = float(self.ctx.objective.evaluate_policy(record, self.split, np.array([module]))[0])
        self.stats.compiled += 1
        path = Trajectory(
            np.array(feats).reshape(len(feats), -1), np.array(decisions, dtype=bool), size
        )
        kept = self.paths.setdefault(module, [])
        kept.insert(0, path)  # the newest first: the next policy is likely near it
        del kept[self.max_per_module :]
        return size
