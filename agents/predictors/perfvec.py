"""``perfvec``: block representations x microarchitecture representations, learned from
many simulated microarchitectures; the target CPU gets only its own representation
(after PerfVec, Li et al., 2023: "program representations x microarchitecture
representations", generalising to unseen microarchitectures).

1. Microarchitectures (:mod:`agents.predictors.uarchs`): the task's default
   configuration (stock blocksim), ``uarchs`` sampled ones (synthetic
   microarchitectures: perturbed and random tables), and on a cross-microarchitecture
   task the source CPU's measurements.
2. Simulator samples (charged): the default (and the source) on every train and
   validation block; each sampled microarchitecture on the same ``blocks_per_uarch``
   random blocks (a dense block x microarchitecture matrix).
3. Pretraining: log cycles[b, m] = log s_0(b) + f(b) . u_m + c_m, f the shared block
   encoder (:class:`~agents.predictors.network.BlockEncoder`, ``dim`` outputs), u_m
   [dim] and c_m learned per microarchitecture, s_0 the default configuration's
   simulated cycles (``anchor``, the default: the representations learn how
   microarchitectures depart from stock blocksim, and the predictor runs blocksim at
   test time; PerfVec proper, ``anchor = false``, predicts log cycles = f . u_m + c_m
   with no simulator at test time); |log ratio| loss on the observed entries.
4. Target: f frozen; (u, c) of the target CPU by ridge regression of the labels' log
   cycles on f, shrunk towards the default microarchitecture's (u, c) (anchored: 0,
   i.e. stock blocksim), so with very few labels the predictor stays at the default;
   the ridge weight chosen by 5-fold cross-validation on the labels. With enough
   labels (``head_min_labels``), a small MLP on f fits the residual, kept only if it
   lowers the held-out labels' MAPE.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.predictors.common import (
    PredictorAgent,
    all_items,
    check_loss,
    label_items,
    read_inputs,
    simulate,
)
from agents.predictors.featurize import Encoded, Tokenizer, Vocab
from agents.predictors.fit import log_targets, mape_shift, relative_loss
from agents.predictors.ithemal import check_sizes
from agents.predictors.network import (
    BlockEncoder,
    NeuralPredictor,
    encode_outputs,
    length_batches,
    to_tensors,
)
from agents.predictors.simulators import BlockSimPredictor, task_blocksim_options, task_cpu
from agents.predictors.uarchs import sample_uarchs, source_config, table_space
from agents.torchutil import torch_session
from harness.agent import TrialContext

RIDGE_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)  # x the number of labels


class PerfVecAgent(PredictorAgent):
    """Options:
    cpu: blocksim CPU whose decoder names the tokens.
        Empty: the task's (``ctx.task_facts['cpu']``), else znver3.
    uarchs: sampled microarchitectures (besides the default and any source).
    blocks_per_uarch: blocks simulated under each sampled one.
    uniform_share: share of sampled tables drawn uniformly (far from the default).
    dim: size of the representations.
    hidden, embed: encoder sizes.
    epochs, batch, lr, max_seconds: pretraining.
    head_min_labels: fit the residual MLP head from this many labels (0: never).
    head_loss: the head's loss, ``"log-abs"`` or ``"mape"``
        (:data:`agents.predictors.common.LOSSES`).
    """

    name = "perfvec"
    description = (
        "block x microarchitecture representations from simulated microarchitectures; "
        "the target's fitted from the labels"
    )

    def __init__(
        self,
        cpu: str = "",
        uarchs: int = 64,
        blocks_per_uarch: int = 2000,
        uniform_share: float = 0.1,
        dim: int = 16,
        hidden: int = 96,
        embed: int = 64,
        epochs: int = 25,
        batch: int = 128,
        lr: float = 3e-3,
        max_seconds: float = 900.0,
        head_min_labels: int = 500,
        anchor: bool = True,
        min_steps: int = 1500,
        structured_share: float = 0.5,
        head_loss: str = "log-abs",
    ) -> None:
        super().__init__()
        check_loss(head_loss)
        self.head_loss = head_loss
        check_sizes(
            uarchs=uarchs, blocks_per_uarch=blocks_per_uarch, dim=dim, hidden=hidden,
            embed=embed, epochs=epochs, batch=batch,
        )  # fmt: skip
        if not 0.0 <= uniform_share <= 1.0:
            raise ValueError("uniform_share must be in [0, 1]")
        if lr <= 0 or max_seconds <= 0 or head_min_labels < 0:
            raise ValueError("lr and max_seconds must be > 0, head_min_labels >= 0")
        self.cpu, self.uarchs, self.blocks_per_uarch = cpu, int(uarchs), int(blocks_per_uarch)
        self.uniform_share, self.dim = float(uniform_share), int(dim)
        self.hidden, self.embed, self.epochs, self.batch = (
            int(hidden),
            int(embed),
            int(epochs),
            int(batch),
        )
        self.anchor = bool(anchor)
        self.min_steps = int(min_steps)
        if not 0.0 <= structured_share <= 1.0:
            raise ValueError("structured_share must be in [0, 1]")
        self.structured_share = float(structured_share)
        self.lr, self.max_seconds, self.head_min_labels = (
            float(lr),
            float(max_seconds),
            int(head_min_labels),
        )

    def versions(self) -> dict[str, str]:
        return {"torch": torch.__version__}

    def run(self, ctx: TrialContext) -> NeuralPredictor | None:
        with torch_session(ctx) as device:
            return self._run(ctx, device, task_cpu(self.cpu, ctx.task_facts))

    def _run(self, ctx: TrialContext, device: torch.device, cpu: str) -> NeuralPredictor | None:
        obj, space, rng = ctx.objective, ctx.param_space, ctx.rng
        pool = all_items(obj)
        tokenizer = Tokenizer(cpu)
        tokens = tokenizer(read_inputs(obj, pool))
        vocab = Vocab(tokens)
        enc = vocab.encode(tokens)
        decoded = np.array([t is not None for t in tokens], bool)
        n = len(pool)

        # 1-2. Microarchitectures and their samples: column 0 = the default.
        everywhere = [space.default()]
        src = source_config(space)
        if src is not None:
            everywhere.append(src)
        n_all = min(n, obj.samples_left // max(1, len(everywhere)))
        left = obj.samples_left - n_all * len(everywhere)
        per = min(self.blocks_per_uarch, n)
        m = min(self.uarchs, left // max(per, 1))
        sampled = sample_uarchs(space, m, rng, self.uniform_share, self.structured_share)
        y = np.full((n, len(everywhere) + m), np.nan)
        all_rows = np.sort(rng.choice(n, size=n_all, replace=False))
        for j, cfg in enumerate(everywhere):
            y[all_rows, j] = simulate(obj, cfg, pool.take(all_rows))
        sub = np.sort(rng.choice(n, size=per, replace=False)) if m else np.zeros(0, np.int64)
        for j, cfg in enumerate(sampled):
            y[sub, len(everywhere) + j] = simulate(obj, cfg, pool.take(sub))
        y_log, seen = log_targets(y)
        seen &= decoded[:, None]
        self.set_diagnostic("uarchs", float(y.shape[1]))
        self.set_diagnostic("sim_samples", float(obj.samples_used))

        # Anchored: every column is predicted relative to the default configuration's
        # simulated cycles, which the predictor recomputes with blocksim at test time.
        anchor = (
            BlockSimPredictor(cpu, **task_blocksim_options(ctx.task_facts))
            if self.anchor and table_space(space)
            else None
        )
        self.set_diagnostic("anchored", float(anchor is not None))
        offset = np.zeros(n)
        if anchor is not None:
            offset = np.where(seen[:, 0], y_log[:, 0], np.nan)
            y_log = y_log - offset[:, None]
            seen &= np.isfinite(offset)[:, None]
            seen[:, 0] = False  # the default column is exact: nothing to learn

        # 3. Pretraining.
        model = BlockEncoder(vocab.n_keys, vocab.n_mnemonics, self.hidden, self.embed, self.dim)
        model = model.to(device)
        u = nn.Parameter(torch.randn(y.shape[1], self.dim, device=device) / math.sqrt(self.dim))
        c0 = float(np.median(y_log[seen])) if seen.any() else 5.0
        c = nn.Parameter(torch.full((y.shape[1],), c0, device=device))
        rows = np.flatnonzero(seen.any(1))
        held = rng.random(len(rows)) < 0.05
        fidelity = self._pretrain(
            model, u, c, enc, y_log, seen, rows[~held], rows[held], rng, device
        )
        self.set_diagnostic("pretrain_mape_vs_sim", fidelity)
        u_np = u.detach().double().cpu().numpy()
        c_np = c.detach().double().cpu().numpy()
        # Zero labels: the default microarchitecture (anchored: exactly stock blocksim).
        prior = np.zeros(self.dim + 1) if anchor is not None else np.append(u_np[0], c_np[0])
        predictor = NeuralPredictor(
            tokenizer, vocab, model, scale=prior[:-1], bias=float(prior[-1]), anchor=anchor
        )
        obj.propose_predictor(predictor)

        # 4. The target's representation from the labels.
        lab = label_items(ctx, pool)
        t_log, ok = log_targets(lab.targets)
        t_log = t_log - offset[lab.rows]
        ok &= decoded[lab.rows] & np.isfinite(t_log)
        if not ok.any():
            return predictor
        f = encode_outputs(model, enc.rows(lab.rows), device)
        x = np.hstack([f, np.ones((len(f), 1))])
        fit_rows, hold_rows = np.flatnonzero(ok & ~lab.holdout), np.flatnonzero(ok & lab.holdout)
        lam = choose_ridge(x[fit_rows], t_log[fit_rows], prior, rng)
        w = ridge(x[fit_rows], t_log[fit_rows], prior, lam)
        self.set_diagnostic("ridge_lambda", lam)
        self.set_diagnostic(
            "holdout_mape_default_uarch", _mape(x[hold_rows] @ prior, t_log[hold_rows])
        )
        hold = _mape(x[hold_rows] @ w, t_log[hold_rows])
        self.set_diagnostic("holdout_mape_ridge", hold)
        head = None
        if self.head_min_labels and len(fit_rows) >= self.head_min_labels and len(hold_rows):
            head, with_head = fit_head(
                f, t_log - x @ w, fit_rows, hold_rows, x @ w, t_log, rng, loss=self.head_loss
            )
            self.set_diagnostic("holdout_mape_head", with_head)
            if not with_head < hold:
                head = None
        self.set_diagnostic("head", float(head is not None))
        # Refit on every label (the holdout has done its job) with the chosen weight.
        both = np.flatnonzero(ok)
        # MAPE-optimal constant on the holdout (the ridge fits squared log errors).
        shift = 0.0
        if len(hold_rows) >= 30:
            base = x[hold_rows] @ w
            if head is not None:
                with torch.no_grad():
                    h = torch.as_tensor(f[hold_rows], dtype=torch.float32)
                    base = base + head(h).double().numpy()[:, 0]
            shift = mape_shift(base, t_log[hold_rows])
        self.set_diagnostic("mape_shift", shift)
        if head is None:
            w = ridge(x[both], t_log[both], prior, lam)
        predictor = NeuralPredictor(
            tokenizer, vocab, model, scale=w[:-1], bias=float(w[-1]) + shift, head=head,
            anchor=anchor,
        )  # fmt: skip
        obj.propose_predictor(predictor)
        return predictor

    def _pretrain(
        self,
        model: BlockEncoder,
        u: nn.Parameter,
        c: nn.Parameter,
        enc: Encoded,
        y_log: np.ndarray,
        seen: np.ndarray,
        train_rows: np.ndarray,
        held_rows: np.ndarray,
        rng: np.random.Generator,
        device: torch.device,
    ) -> float:
        """Fit encoder, u and c (in place) to the observed log cycles; returns the
        held-out blocks' MAPE vs the simulator (over their observed entries)."""
        t0 = time.perf_counter()
        yt = torch.as_tensor(np.where(seen, y_log, 0.0), dtype=torch.float32, device=device)
        mt = torch.as_tensor(seen, dtype=torch.float32, device=device)
        params = [*model.parameters(), u, c]
        opt = torch.optim.Adam(params, lr=self.lr, weight_decay=1e-6)
        per_epoch = math.ceil(len(train_rows) / self.batch)
        epochs = max(self.epochs, math.ceil(self.min_steps / max(per_epoch, 1)))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs * per_epoch))
        best: tuple[float, Any] | None = None
        for _ in range(epochs):
            model.train()
            for chunk in length_batches(enc.lengths[train_rows], self.batch, rng):
                r = train_rows[chunk]
                rt = torch.as_tensor(r, device=device)
                pred = model(*to_tensors(enc.rows(r), device)) @ u.T + c  # [B, M]
                mask = mt[rt]
                loss = ((pred - yt[rt]).abs() * mask).sum() / mask.sum().clamp(min=1.0)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                sched.step()
            err = self._fidelity(model, u, c, enc, y_log, seen, held_rows, device)
            if best is None or not err >= best[0]:
                best = (
                    err,
                    copy.deepcopy((model.state_dict(), u.detach().clone(), c.detach().clone())),
                )
            if time.perf_counter() - t0 > self.max_seconds:
                break
        self.set_diagnostic("pretrain_s", time.perf_counter() - t0)
        if best is None:
            return float("nan")
        state, u_best, c_best = best[1]
        model.load_state_dict(state)
        with torch.no_grad():
            u.copy_(u_best)
            c.copy_(c_best)
        return best[0]

    @staticmethod
    def _fidelity(
        model: BlockEncoder,
        u: nn.Parameter,
        c: nn.Parameter,
        enc: Encoded,
        y_log: np.ndarray,
        seen: np.ndarray,
        rows: np.ndarray,
        device: torch.device,
    ) -> float:
        if not len(rows):
            return float("nan")
        f = encode_outputs(model, enc.rows(rows), device)
        pred = f @ u.detach().double().cpu().numpy().T + c.detach().double().cpu().numpy()
        s = seen[rows]
        t = np.exp(y_log[rows][s])
        return float(np.mean(np.abs(np.exp(np.clip(pred[s], -20, 20)) - t) / t))


def ridge(x: np.ndarray, y: np.ndarray, prior: np.ndarray, lam: float) -> np.ndarray:
    """argmin_w |x w - y|^2 + lam |w - prior|^2, float64 [d] (x [n, d], y [n])."""
    d = x.shape[1]
    return np.linalg.solve(x.T @ x + lam * np.eye(d), x.T @ y + lam * prior)


def choose_ridge(
    x: np.ndarray, y: np.ndarray, prior: np.ndarray, rng: np.random.Generator, folds: int = 5
) -> float:
    """The ridge weight of :data:`RIDGE_GRID` (x the number of rows) with the lowest
    k-fold cross-validated MAPE; the largest one when there are too few rows to fold."""
    n = len(y)
    grid = [g * max(n, 1) for g in RIDGE_GRID]
    if n < 2 * folds:
        return grid[-1]
    fold = rng.permutation(n) % folds
    errs = []
    for lam in grid:
        err = 0.0
        for k in range(folds):
            tr, te = fold != k, fold == k
            err += _mape(x[te] @ ridge(x[tr], y[tr], prior, lam), y[te]) * te.sum()
        errs.append(err / n)
    return grid[int(np.argmin(errs))]


def fit_head(
    f: np.ndarray,
    resid: np.ndarray,
    fit_rows: np.ndarray,
    hold_rows: np.ndarray,
    base: np.ndarray,
    t_log: np.ndarray,
    rng: np.random.Generator,
    hidden: int = 32,
    steps: int = 1500,
    loss: str = "log-abs",
) -> tuple[nn.Module, float]:
    """A small MLP f [n, dim] -> residual log cycles, fitted by ``loss``
    (:func:`agents.predictors.fit.relative_loss`) and early-stopped on ``hold_rows``;
    returns (head, holdout MAPE of base + head)."""
    torch_gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    head = nn.Sequential(nn.Linear(f.shape[1], hidden), nn.Tanh(), nn.Linear(hidden, 1))
    with torch.no_grad():
        for p in head.parameters():
            p.copy_(torch.randn(p.shape, generator=torch_gen) * 0.1)
        head[2].weight.zero_()
        head[2].bias.zero_()
    ft = torch.as_tensor(f, dtype=torch.float32)
    rt = torch.as_tensor(resid, dtype=torch.float32)
    opt = torch.optim.Adam(head.parameters(), lr=3e-3, weight_decay=1e-4)
    fr = torch.as_tensor(fit_rows)
    best = (_mape(base[hold_rows], t_log[hold_rows]), copy.deepcopy(head.state_dict()))
    for step in range(steps):
        step_loss = relative_loss(head(ft[fr])[:, 0], rt[fr], loss)
        opt.zero_grad()
        step_loss.backward()
        opt.step()
        if step % 50 == 49:
            with torch.no_grad():
                h = head(ft[hold_rows]).double().numpy()[:, 0]
            err = _mape(base[hold_rows] + h, t_log[hold_rows])
            if err < best[0]:
                best = (err, copy.deepcopy(head.state_dict()))
    head.load_state_dict(best[1])
    return head.eval(), best[0]


def _mape(pred_log: np.ndarray, t_log: np.ndarray) -> float:
    if not len(t_log):
        return float("nan")
    t = np.exp(t_log)
    return float(np.mean(np.abs(np.exp(np.clip(pred_log, -20, 20)) - t) / t))
