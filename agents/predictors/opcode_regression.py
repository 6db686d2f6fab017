"""``opcode-regression``: the floor. Cycles per 100 iterations as a sum of per-token
costs, fitted by ridge regression on the labels (no simulator, no network).

cycles(block) ~= b + a * n + sum_i w[key_i] + sum_i v[mnemonic_i], n the block's
instruction count; the mnemonic terms let an instruction whose key was never labelled
still cost what its mnemonic does. Fitted by least squares on relative errors
((pred - y) / y: rows scaled by 1 / y, close to what MAPE counts) with a ridge penalty
chosen on the held-out labels, then refitted on all labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse

from agents.predictors.common import PredictorAgent, all_items, label_items, mape, read_inputs
from agents.predictors.featurize import BlockTokens, Tokenizer
from agents.predictors.simulators import task_cpu
from harness.agent import TrialContext

RIDGE_GRID = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)


class TokenCounts:
    """Block -> sparse counts of its keys and mnemonics, plus n and 1.

    Columns: ``keys`` then ``mnemonics`` (known at fit time), then n, then 1.
    """

    def __init__(self, blocks: Sequence[BlockTokens]) -> None:
        self.keys = {k: i for i, k in enumerate(sorted({k for b in blocks for k in b.keys}))}
        mn = sorted({m for b in blocks for m in b.mnemonics})
        self.mnemonics = {m: len(self.keys) + i for i, m in enumerate(mn)}
        self.width = len(self.keys) + len(self.mnemonics) + 2

    def matrix(self, blocks: Sequence[BlockTokens | None]) -> sparse.csr_matrix:
        """float64 [len(blocks), width]; an undecodable block is a zero row."""
        rows, cols, vals = [], [], []
        for r, b in enumerate(blocks):
            if b is None:
                continue
            for k in b.keys:
                if k in self.keys:
                    rows.append(r), cols.append(self.keys[k]), vals.append(1.0)
            for m in b.mnemonics:
                if m in self.mnemonics:
                    rows.append(r), cols.append(self.mnemonics[m]), vals.append(1.0)
            rows += [r, r]
            cols += [self.width - 2, self.width - 1]
            vals += [float(len(b.keys)), 1.0]
        return sparse.csr_matrix((vals, (rows, cols)), shape=(len(blocks), self.width))


def fit_relative(x: sparse.csr_matrix, y: np.ndarray, lam: float) -> np.ndarray:
    """argmin_w sum((x w - y) / y)^2 + lam * |w|^2 (the intercept unpenalised), [width]."""
    xs = sparse.diags(1.0 / y) @ x
    a = (xs.T @ xs).toarray()
    pen = np.full(x.shape[1], lam)
    pen[-1] = 0.0
    a[np.diag_indices_from(a)] += pen
    return np.linalg.lstsq(a, np.asarray(xs.T @ np.ones(len(y))).ravel(), rcond=None)[0]


class OpcodeRegressionPredictor:
    """Picklable: hex blocks -> float64 [n] cycles per 100 iterations (NaN: undecodable),
    at least ``floor``."""

    def __init__(
        self, tokenizer: Tokenizer, counts: TokenCounts, w: np.ndarray, floor: float
    ) -> None:
        self.tokenizer, self.counts, self.w, self.floor = tokenizer, counts, w, float(floor)

    def __call__(self, blocks_hex: Sequence[str]) -> np.ndarray:
        blocks = self.tokenizer(blocks_hex)
        out = np.maximum(self.counts.matrix(blocks) @ self.w, self.floor)
        out[[b is None for b in blocks]] = np.nan
        return out

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)


class OpcodeRegressionAgent(PredictorAgent):
    """Options:
    cpu: blocksim CPU whose decoder names the tokens.
        Empty: the task's (``ctx.task_facts['cpu']``), else znver3.
    """

    name = "opcode-regression"
    description = "per-opcode additive cost model fitted by ridge regression (the floor)"

    def __init__(self, cpu: str = "") -> None:
        super().__init__()
        self.cpu = cpu

    def run(self, ctx: TrialContext) -> OpcodeRegressionPredictor | None:
        cpu = task_cpu(self.cpu, ctx.task_facts)
        obj = ctx.objective
        pool = all_items(obj)
        lab = label_items(ctx, pool)
        tokenizer = Tokenizer(cpu)
        blocks = tokenizer(read_inputs(obj, lab.items))
        ok = np.array([b is not None for b in blocks], bool) & np.isfinite(lab.targets)
        ok &= lab.targets > 0
        if not ok.any():
            return None
        good = [b for b, k in zip(blocks, ok, strict=True) if k]
        counts = TokenCounts(good)  # type: ignore[arg-type]
        x = counts.matrix(blocks)
        y = lab.targets
        fit, hold = np.flatnonzero(ok & ~lab.holdout), np.flatnonzero(ok & lab.holdout)
        lam = RIDGE_GRID[-1]
        if len(hold) and len(fit):
            errs = [mape(x[hold] @ fit_relative(x[fit], y[fit], g), y[hold]) for g in RIDGE_GRID]
            lam = RIDGE_GRID[int(np.argmin(errs))]
            self.set_diagnostic("holdout_mape", float(min(errs)))
        self.set_diagnostic("ridge_lambda", lam)
        both = np.flatnonzero(ok)
        w = fit_relative(x[both], y[both], lam)
        predictor = OpcodeRegressionPredictor(tokenizer, counts, w, floor=0.5 * y[both].min())
        obj.propose_predictor(predictor)
        return predictor
