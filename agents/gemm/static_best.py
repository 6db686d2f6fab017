"""``static-best``: one fixed ranking of schedules for every shape, learned from labels.

On a selection task (predictor track with ``key=value`` inputs, e.g. ``gemm-select``) it
reads training timings (the same designs as the cost-model agents), scores each
schedule by its mean log time relative to its shape's mean over the schedules read
(so fast and slow shapes weigh alike), and predicts that score for every shape: the
"best static schedule" baseline that tells whether shape-aware models earn their keep.
Unseen schedules rank last. On any other task it returns the default (no samples).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.gemm.features import parse_kv
from agents.gemm.model_agent import CostModelAgent, _kv_inputs
from harness.agent import TrialContext
from harness.task import INPUTS, PREDICTOR, TARGETS

SHAPE_KEYS = ("m", "n", "k")


def _split(text: str) -> tuple[str, str]:
    """(shape part, schedule part) of a ``key=value`` input."""
    kv = parse_kv(text) or {}
    shape = " ".join(f"{k}={kv.get(k)}" for k in SHAPE_KEYS)
    config = " ".join(f"{k}={v}" for k, v in kv.items() if k not in SHAPE_KEYS)
    return shape, config


class _StaticPredictor:
    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores

    def __call__(self, inputs: list[str]) -> np.ndarray:
        worst = max(self.scores.values(), default=0.0) + 10.0
        return np.exp(np.array([self.scores.get(_split(t)[1], worst) for t in inputs]))


class StaticBest(CostModelAgent):
    name = "static-best"
    description = "one schedule ranking for all shapes, from the training timings it reads"

    def run(self, ctx: TrialContext) -> Any:
        caps = ctx.objective.capabilities
        if not ({PREDICTOR, TARGETS, INPUTS} <= caps and _kv_inputs(ctx, "train")):
            return ctx.param_space.default()
        obj = ctx.objective
        n_train = obj.n_items("train")
        budget = obj.labels_left if obj.labels_left is not None else self.max_labels
        items = self._design_items(ctx, n_train, int(min(budget, n_train)))
        parts = [_split(t) for t in obj.inputs("train", items)]
        logt = np.log(np.maximum(obj.targets("train", items), 1e-12))
        shapes = np.array([p[0] for p in parts])
        rel = logt.copy()
        for s in np.unique(shapes):
            sel = shapes == s
            rel[sel] -= logt[sel].mean()
        sums: dict[str, list[float]] = {}
        for (_, config), r in zip(parts, rel.tolist(), strict=True):
            sums.setdefault(config, []).append(r)
        predictor = _StaticPredictor({c: float(np.mean(v)) for c, v in sums.items()})
        self.set_diagnostic("labels_read", float(len(items)))
        obj.propose_predictor(predictor)
        return predictor
