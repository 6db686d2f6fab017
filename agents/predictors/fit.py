"""Fitting a one-output :class:`~agents.predictors.network.BlockEncoder` to log cycles,
with early stopping on held-out items.

Loss (:data:`agents.predictors.common.LOSSES`): ``"log-abs"``, mean |log prediction -
log target| (the log of the ratio: a relative error that stays bounded while the network is
far off; its minimiser is the median ratio), or ``"mape"``, mean |prediction / target -
1|, the metric the timing tasks score (its minimiser sits below the median ratio: MAPE
charges over-prediction more). Model selection by MAPE on the holdout either way.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from agents.predictors.common import check_loss
from agents.predictors.featurize import Encoded
from agents.predictors.network import BlockEncoder, encode_outputs, length_batches, to_tensors


def relative_loss(pred_log: torch.Tensor, y_log: torch.Tensor, loss: str) -> torch.Tensor:
    """Mean loss of log predictions vs log targets (tensors [b]), as
    :data:`agents.predictors.common.LOSSES` says."""
    d = pred_log - y_log
    if loss == "mape":
        # Clamped so that a far-off start cannot overflow exp (e^20 ~ 5e8).
        return (torch.exp(d.clamp(-20.0, 20.0)) - 1.0).abs().mean()
    return d.abs().mean()


@dataclass
class FitLog:
    """What a fit did (MAPEs are fractions; NaN where there was no holdout)."""

    steps: int = 0
    epochs: int = 0
    best_epoch: int = 0
    best_holdout_mape: float = float("nan")
    holdout_mape: list[float] = field(default_factory=list)
    wall_s: float = 0.0


def holdout_mape(
    model: BlockEncoder, enc: Encoded, y_log: np.ndarray, rows: np.ndarray, device: torch.device
) -> float:
    """MAPE of exp(model) vs exp(y_log) on ``rows``."""
    if not len(rows):
        return float("nan")
    pred = encode_outputs(model, enc.rows(rows), device)[:, 0]
    t = np.exp(y_log[rows])
    return float(np.mean(np.abs(np.exp(np.clip(pred, -20, 20)) - t) / t))


def fit_log_cycles(
    model: BlockEncoder,
    enc: Encoded,
    y_log: np.ndarray,
    train_rows: np.ndarray,
    holdout_rows: np.ndarray,
    rng: np.random.Generator,
    device: torch.device,
    epochs: int = 40,
    min_steps: int = 300,
    batch: int = 64,
    lr: float = 3e-3,
    weight_decay: float = 1e-5,
    patience: int = 8,
    max_seconds: float = float("inf"),
    initial_holdout: float | None = None,
    loss: str = "log-abs",
) -> FitLog:
    """Train ``model`` (in place) on ``enc.rows(train_rows)`` -> ``y_log[train_rows]``.

    Args:
        enc: all blocks (encoded); y_log: float64 [n] log cycles per 100 iterations.
        train_rows, holdout_rows: int64 rows of ``enc`` to fit / to stop on.
        epochs: passes over the training rows, raised so that at least ``min_steps``
            optimizer steps are made (a 100-label fit gets as many steps as a big one).
        patience: epochs without a better holdout MAPE before stopping.
        max_seconds: stop after the epoch that passes this wall time.
        initial_holdout: the holdout MAPE of the weights ``model`` starts with, which
            then compete too (a fine-tune that only hurts the holdout is undone).
        loss: what the optimizer minimises (:data:`agents.predictors.common.LOSSES`).
    Returns:
        the log; ``model`` holds the weights of the best holdout epoch (the last one
        when there is no holdout).
    """
    check_loss(loss)
    t0 = time.perf_counter()
    log = FitLog()
    if not len(train_rows):
        return log
    per_epoch = math.ceil(len(train_rows) / batch)
    epochs = max(epochs, math.ceil(min_steps / per_epoch))
    # Evaluate every ~1/epochs of the run, not every tiny epoch of a small fit.
    check_every = max(1, math.ceil(epochs / 40))
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * per_epoch)
    y = torch.as_tensor(y_log, dtype=torch.float32, device=device)
    best_state = None
    bad = 0
    if initial_holdout is not None and len(holdout_rows):
        log.best_holdout_mape = float(initial_holdout)
        best_state = copy.deepcopy(model.state_dict())
    for epoch in range(epochs):
        model.train()
        for chunk in length_batches(enc.lengths[train_rows], batch, rng):
            rows = train_rows[chunk]
            pred = model(*to_tensors(enc.rows(rows), device))[:, 0]
            batch_loss = relative_loss(pred, y[torch.as_tensor(rows, device=device)], loss)
            opt.zero_grad()
            batch_loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            log.steps += 1
        log.epochs = epoch + 1
        last = epoch == epochs - 1
        over = time.perf_counter() - t0 > max_seconds
        if len(holdout_rows) and (epoch % check_every == 0 or last or over):
            m = holdout_mape(model, enc, y_log, holdout_rows, device)
            log.holdout_mape.append(m)
            if not m >= log.best_holdout_mape:  # NaN-safe: the first one counts
                log.best_holdout_mape, log.best_epoch = m, epoch + 1
                best_state = copy.deepcopy(model.state_dict())
                bad = 0
            else:
                bad += 1
                if bad >= patience:
                    break
        if over:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    log.wall_s = time.perf_counter() - t0
    return log


def log_targets(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log values float64 [n], usable bool [n]: finite and > 0)."""
    v = np.asarray(values, np.float64)
    ok = np.isfinite(v) & (v > 0)
    return np.log(np.where(ok, v, 1.0)), ok


def mape_shift(pred_log: np.ndarray, y_log: np.ndarray) -> float:
    """The constant s minimising MAPE of exp(pred_log + s) vs exp(y_log).

    An |log ratio| fit predicts the median ratio; MAPE charges over-prediction more
    than under-prediction, so its optimum sits lower. With r_i = exp(pred_i - y_i),
    MAPE(s) = mean_i r_i |e^s - 1 / r_i|: minimised at the r-weighted median of 1 / r_i.
    Returns 0 for no finite pairs.
    """
    d = np.asarray(pred_log, np.float64) - np.asarray(y_log, np.float64)
    d = d[np.isfinite(d)]
    if not len(d):
        return 0.0
    r = np.exp(np.clip(d, -20, 20))
    order = np.argsort(1.0 / r)
    w = r[order] / r.sum()
    k = int(np.searchsorted(np.cumsum(w), 0.5))
    return float(np.log(1.0 / r[order][min(k, len(r) - 1)]))


def holdout_shift(
    model: BlockEncoder,
    enc: Encoded,
    y_log: np.ndarray,
    rows: np.ndarray,
    device: torch.device,
    min_rows: int = 30,
) -> float:
    """:func:`mape_shift` of the model on held-out ``rows`` (0 with fewer than
    ``min_rows``: too few to estimate a shift that the training rows, already fitted,
    would not show)."""
    if len(rows) < min_rows:
        return 0.0
    return mape_shift(encode_outputs(model, enc.rows(rows), device)[:, 0], y_log[rows])
