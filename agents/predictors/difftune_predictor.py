"""``difftune-predictor``: DiffTune's tuned blocksim table as the predictor.

The pieces are DiffTune's own (:mod:`agents.difftune`: layout, table sampling, the
surrogate and both training stages); what changes is which blocks carry labels. The
parameter-tuning agent labels every block it simulates; here simulator samples and
labels are separate budgets:

1. simulator samples (charged, no labels): the default table on a pool of up to
   ``pool_blocks`` train/validation blocks (labelled ones first), then sampled
   tables on ``blocks_per_table`` pool blocks each, up to ``max_samples`` in all;
2. the surrogate is fitted to them (DiffTune's stage 1);
3. the table is fitted by Adam through the frozen surrogate to the pool's labelled
   blocks (stage 2), snapshots taken along the way;
4. the rounded snapshots and the default table are simulated on up to
   ``max_check_blocks`` held-out labelled blocks (charged samples, labels already
   paid) and the lowest MAPE wins.

The predictor runs blocksim under the chosen table on whatever blocks it is given.
"""

from __future__ import annotations

import numpy as np
import torch

from agents.difftune.layout import Layout
from agents.difftune.sampling import sample_tables
from agents.difftune.surrogate import Surrogate
from agents.difftune.train import Blocks, train_params, train_surrogate
from agents.predictors.common import (
    Items,
    PredictorAgent,
    all_items,
    label_items,
    mape,
    simulate,
)
from agents.predictors.ithemal import check_sizes
from agents.predictors.simulators import BlockSimPredictor, task_blocksim_options, task_cpu
from agents.predictors.uarchs import table_space
from agents.torchutil import torch_session
from harness.agent import TrialContext
from harness.budget import BudgetedObjective
from harness.task import INPUTS, PREDICTOR, TARGETS, TOKENS


def item_tokens(obj: BudgetedObjective, items: Items) -> list[list[str]]:
    """Per item, its table keys (free)."""
    out: list[list[str]] = [[] for _ in range(len(items))]
    for split, rows, idx in items.by_split():
        for r, t in zip(rows, obj.item_tokens(split, idx), strict=True):
            out[r] = t
    return out


class DiffTunePredictorAgent(PredictorAgent):
    """Options:
    cpu: the blocksim CPU of the task's table.
        Empty: the task's (``ctx.task_facts['cpu']``), else znver3.
    max_samples: simulator samples used at most (the surrogate's training set).
    pool_blocks: blocks in the simulated pool.
    blocks_per_table, epochs, hidden, embed, lr, batch: surrogate (as difftune).
    param_lr, param_steps, param_batch, trust, candidates: table fit (as difftune).
    max_seconds: wall-time cap on surrogate training.
    """

    name = "difftune-predictor"
    description = "DiffTune's tuned blocksim table as a predictor (samples and labels apart)"
    requires = frozenset({INPUTS, TARGETS, PREDICTOR, TOKENS})

    def __init__(
        self,
        cpu: str = "",
        max_samples: int = 40_000,
        pool_blocks: int = 4000,
        blocks_per_table: int = 16,
        epochs: int = 12,
        hidden: int = 64,
        embed: int = 64,
        lr: float = 3e-3,
        batch: int = 256,
        param_lr: float = 0.05,
        param_steps: int = 200,
        param_batch: int = 64,
        trust: float = 2.0,
        candidates: int = 4,
        max_seconds: float = 600.0,
        max_check_blocks: int = 400,
    ) -> None:
        super().__init__()
        check_sizes(
            max_samples=max_samples, pool_blocks=pool_blocks, blocks_per_table=blocks_per_table,
            epochs=epochs, hidden=hidden, embed=embed, batch=batch, param_steps=param_steps,
            param_batch=param_batch, candidates=candidates,
        )  # fmt: skip
        self.cpu, self.max_samples, self.pool_blocks = cpu, int(max_samples), int(pool_blocks)
        self.blocks_per_table, self.epochs = int(blocks_per_table), int(epochs)
        self.hidden, self.embed, self.lr, self.batch = (
            int(hidden),
            int(embed),
            float(lr),
            int(batch),
        )
        self.param_lr, self.param_steps = float(param_lr), int(param_steps)
        self.param_batch, self.trust = int(param_batch), float(trust)
        self.candidates, self.max_seconds = int(candidates), float(max_seconds)
        self.max_check_blocks = int(max_check_blocks)

    def versions(self) -> dict[str, str]:
        return {"torch": torch.__version__}

    def run(self, ctx: TrialContext) -> BlockSimPredictor:
        with torch_session(ctx) as device:
            return self._run(ctx, device, task_cpu(self.cpu, ctx.task_facts))

    def _run(self, ctx: TrialContext, device: torch.device, cpu: str) -> BlockSimPredictor:
        obj, rng = ctx.objective, ctx.rng
        tspace = table_space(ctx.param_space)
        models = task_blocksim_options(ctx.task_facts)
        stock = BlockSimPredictor(cpu, **models)
        obj.propose_predictor(stock)
        if tspace is None:
            return stock
        layout = Layout.from_space(tspace)
        default = ctx.param_space.default()
        pool_all = all_items(obj)
        lab = label_items(ctx, pool_all)
        budget = min(self.max_samples, obj.samples_left)
        # Candidate checks: up to max_check_blocks held-out labelled blocks per table.
        hold = np.flatnonzero(lab.holdout)
        hold = np.sort(rng.permutation(hold)[: self.max_check_blocks])
        n_checks = (self.candidates + 1) * len(hold)
        # The pool: up to pool_blocks blocks (at most a quarter of what is left),
        # labelled fitting blocks first (their s0 feeds the table fit), then others.
        size = max(0, min(self.pool_blocks, (budget - n_checks) // 4))
        fit_lab = rng.permutation(np.flatnonzero(~lab.holdout))[:size]
        others = np.setdiff1d(np.arange(len(pool_all)), lab.rows)
        rows = np.concatenate(
            [lab.rows[fit_lab], rng.permutation(others)[: max(0, size - len(fit_lab))]]
        )
        n_tables = (budget - n_checks - len(rows)) // self.blocks_per_table
        if n_tables < 8 or not len(fit_lab):
            return stock  # too small a budget to learn a surrogate: keep the stock table
        pool = pool_all.take(rows)

        # 1. Simulator samples.
        s0 = simulate(obj, default, pool)
        good = np.isfinite(s0) & (s0 > 0)
        tok, lengths = layout.token_ids(item_tokens(obj, pool))
        blocks = Blocks(tok, lengths, np.where(good, s0, 1.0))
        tables = sample_tables(layout, n_tables, rng, "local")
        per = min(self.blocks_per_table, int(good.sum()))
        ok_rows = np.flatnonzero(good)
        block_idx = np.concatenate(
            [rng.choice(ok_rows, size=per, replace=False) for _ in range(n_tables)]
        )
        cycles = np.concatenate(
            [
                simulate(obj, {**default, **layout.to_config(t)}, pool.take(chunk))
                for t, chunk in zip(tables, block_idx.reshape(n_tables, per), strict=True)
            ]
        )
        table_idx = np.repeat(np.arange(n_tables), per)
        holdout = np.isin(table_idx, np.arange(0, n_tables, 10))
        tables = np.vstack([tables, layout.default[None, :]])
        block_idx = np.concatenate([block_idx, ok_rows])
        table_idx = np.concatenate([table_idx, np.full(len(ok_rows), n_tables)])
        cycles = np.concatenate([cycles, s0[ok_rows]])
        holdout = np.concatenate([holdout, np.zeros(len(ok_rows), bool)])
        keep = np.isfinite(cycles) & (cycles > 0)
        self.set_diagnostic("sim_samples", float(obj.samples_used))

        # 2. Surrogate.
        model = Surrogate(layout, hidden=self.hidden, embed=self.embed).to(device)
        fit = train_surrogate(
            model, blocks, tables, block_idx[keep], table_idx[keep], cycles[keep],
            holdout[keep], self.epochs, self.batch, self.lr, rng, device, self.max_seconds,
        )  # fmt: skip
        self.set_diagnostic("surrogate_mape_vs_sim", fit.holdout_mape)
        self.set_diagnostic("surrogate_train_s", fit.wall_s)

        # 3. Table fit on the labelled blocks the simulator could run (pool rows 0..).
        n_lab = len(fit_lab)
        fit_rows = np.flatnonzero(good[:n_lab] & (lab.targets[fit_lab] > 0))
        if not len(fit_rows):
            return stock
        lab_blocks = Blocks(tok[fit_rows], lengths[fit_rows], s0[fit_rows])
        theta0 = layout.to_vector(default)
        width = self.trust * np.maximum(1.0, 0.2 * (layout.high - layout.low))
        snaps = sorted({max(1, round(self.param_steps / 2**i)) for i in range(self.candidates)})
        pfit = train_params(
            model, lab_blocks, lab.targets[fit_lab[fit_rows]], theta0,
            np.maximum(layout.low, theta0 - width), np.minimum(layout.high, theta0 + width),
            self.param_steps, self.param_lr, self.param_batch, [0, *snaps], rng, device,
        )  # fmt: skip
        self.set_diagnostic("param_train_s", pfit.wall_s)

        # 4. Candidates on the held-out labelled blocks (simulated, labels known).
        cands = [layout.to_config(th) for th in pfit.tables[1:]]
        if not len(hold):
            chosen = cands[-1]
        else:
            best = (mape(simulate(obj, default, lab.items.take(hold)), lab.targets[hold]), None)
            self.set_diagnostic("holdout_mape_default", best[0])
            for cfg in cands:
                err = mape(
                    simulate(obj, {**default, **cfg}, lab.items.take(hold)), lab.targets[hold]
                )
                if err < best[0]:
                    best = (err, cfg)
            self.set_diagnostic("holdout_mape", best[0])
            if best[1] is None:
                return stock
            chosen = best[1]
        names = list(layout.names)
        predictor = BlockSimPredictor(cpu, names, [chosen[n] for n in names], **models)
        obj.propose_predictor(predictor)
        self.set_diagnostic("params_changed", float(sum(chosen[n] != default[n] for n in names)))
        return predictor
