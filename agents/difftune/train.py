"""DiffTune's two learning stages: fit the surrogate to simulator samples, then freeze
it and fit the parameter table to measured ground truth by Adam.

Batches group blocks of similar length (the LSTM's cost is set by the longest block of
a batch and BHive's lengths are skewed: median 4, max ~200 instructions).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from agents.difftune.surrogate import Surrogate, mape_loss


@dataclass
class Blocks:
    """Padded token ids of the blocks the surrogate sees.

    Attributes:
        tok: int64 [n, L] token ids (0 = unknown / padding).
        lengths: int64 [n] instructions per block.
        s0: float64 [n] simulator cycles per 100 iterations under the default table.
    """

    tok: np.ndarray
    lengths: np.ndarray
    s0: np.ndarray

    def batch(
        self, rows: np.ndarray, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(tok int64 [B, L_b], lengths int64 [B], log s0 float32 [B]) for ``rows``,
        cut to their longest block."""
        lengths = self.lengths[rows]
        tok = self.tok[rows, : int(lengths.max())]
        return (
            torch.as_tensor(tok, device=device),
            torch.as_tensor(lengths, device=device),
            torch.as_tensor(np.log(self.s0[rows]), dtype=torch.float32, device=device),
        )


def length_batches(lengths: np.ndarray, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Index batches of ~``batch`` items of similar length, in random order."""
    order = np.lexsort((rng.random(len(lengths)), lengths))  # by length, ties shuffled
    chunks = [order[i : i + batch] for i in range(0, len(order), batch)]
    return [chunks[i] for i in rng.permutation(len(chunks))]


@dataclass
class SurrogateFit:
    """Outcome of :func:`train_surrogate` (MAPEs are fractions)."""

    train_mape: list[float] = field(default_factory=list)  # per epoch
    holdout_mape: float = float("nan")  # vs the simulator, on held-out samples
    holdout_mape_by_epoch: list[float] = field(default_factory=list)
    wall_s: float = 0.0


def predict_samples(
    model: Surrogate,
    blocks: Blocks,
    block_idx: np.ndarray,
    tables: np.ndarray,
    table_idx: np.ndarray,
    device: torch.device,
    batch: int = 1024,
) -> np.ndarray:
    """Surrogate cycles per 100, float64 [N], of samples (block_idx[k], tables[table_idx[k]])."""
    out = np.empty(len(block_idx))
    rng = np.random.default_rng(0)  # the order does not change the values
    model.eval()
    with torch.no_grad():
        for rows in length_batches(blocks.lengths[block_idx], batch, rng):
            tok, ln, s0 = blocks.batch(block_idx[rows], device)
            th = torch.as_tensor(tables[table_idx[rows]], dtype=torch.float32, device=device)
            out[rows] = torch.exp(model(tok, ln, th, s0)).double().cpu().numpy()
    return out


def train_surrogate(
    model: Surrogate,
    blocks: Blocks,
    tables: np.ndarray,
    block_idx: np.ndarray,
    table_idx: np.ndarray,
    cycles: np.ndarray,
    holdout: np.ndarray,
    epochs: int,
    batch: int,
    lr: float,
    rng: np.random.Generator,
    device: torch.device,
    max_seconds: float = float("inf"),
) -> SurrogateFit:
    """Fit ``model`` to simulator samples by Adam on MAPE; keeps the epoch with the
    lowest held-out MAPE (or the last one when there is no held-out sample).

    Args:
        tables: float64 [T, d] raw parameter tables.
        block_idx, table_idx: int64 [N] the sample's block and table.
        cycles: float64 [N] the simulator's cycles per 100 iterations (finite, > 0).
        holdout: bool [N]: samples kept out of training, to measure fidelity.
        max_seconds: stop after the epoch that passes this wall time.
    """
    t0 = time.perf_counter()
    fit = SurrogateFit()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    tr = np.flatnonzero(~holdout)
    ho = np.flatnonzero(holdout)
    tables_t = torch.as_tensor(tables, dtype=torch.float32, device=device)
    cycles_t = torch.as_tensor(cycles, dtype=torch.float32, device=device)
    best: tuple[float, dict[str, torch.Tensor]] | None = None
    for _ in range(epochs):
        model.train()
        losses = []
        for rows in length_batches(blocks.lengths[block_idx[tr]], batch, rng):
            k = tr[rows]
            tok, ln, s0 = blocks.batch(block_idx[k], device)
            th = tables_t[torch.as_tensor(table_idx[k], device=device)]
            loss = mape_loss(model(tok, ln, th, s0), cycles_t[torch.as_tensor(k, device=device)])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        fit.train_mape.append(float(np.mean(losses)))
        if len(ho):
            pred = predict_samples(model, blocks, block_idx[ho], tables, table_idx[ho], device)
            err = float(np.mean(np.abs(pred - cycles[ho]) / cycles[ho]))
            fit.holdout_mape_by_epoch.append(err)
            if best is None or err < best[0]:
                best = (err, {k: v.detach().clone() for k, v in model.state_dict().items()})
        if time.perf_counter() - t0 > max_seconds:
            break
    if best is not None:
        model.load_state_dict(best[1])
        fit.holdout_mape = best[0]
    fit.wall_s = time.perf_counter() - t0
    return fit


@dataclass
class ParamFit:
    """Outcome of :func:`train_params`: snapshots of the continuous table."""

    steps: list[int]
    tables: list[np.ndarray]  # float64 [d] raw values at each snapshot step
    surrogate_mape: list[float]  # surrogate MAPE vs ground truth at each snapshot
    wall_s: float = 0.0


def surrogate_error(
    model: Surrogate, blocks: Blocks, theta: np.ndarray, targets: np.ndarray, device: torch.device
) -> float:
    """MAPE (fraction) of the surrogate under table ``theta`` [d] vs ``targets`` [n]."""
    n = len(targets)
    pred = predict_samples(
        model, blocks, np.arange(n), theta[None, :], np.zeros(n, np.int64), device
    )
    return float(np.mean(np.abs(pred - targets) / targets))


def train_params(
    model: Surrogate,
    blocks: Blocks,
    targets: np.ndarray,
    theta0: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    steps: int,
    lr: float,
    batch: int,
    snapshot_steps: Sequence[int],
    rng: np.random.Generator,
    device: torch.device,
) -> ParamFit:
    """Adam on the table to minimise the frozen surrogate's MAPE vs ``targets``.

    The optimised variable is theta / s with s = (high - low) / 5 per parameter, so
    ``lr`` is in units of a parameter whose range is 0-5 (DiffTune: lr 0.05 on raw
    latencies); after each step theta is clamped to [low, high].

    Args:
        blocks: the ground-truth blocks (train split), n of them.
        targets: float64 [n] measured cycles per 100 iterations.
        theta0, low, high: float64 [d] start and bounds (raw units).
        snapshot_steps: steps after which the table is recorded (0 = the start).
    """
    t0 = time.perf_counter()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    scale = np.maximum((high - low) / 5.0, 1e-6)
    s_t = torch.as_tensor(scale, dtype=torch.float32, device=device)
    lo_t = torch.as_tensor(low / scale, dtype=torch.float32, device=device)
    hi_t = torch.as_tensor(high / scale, dtype=torch.float32, device=device)
    v = torch.tensor(theta0 / scale, dtype=torch.float32, device=device, requires_grad=True)
    opt = torch.optim.Adam([v], lr=lr)
    tgt = torch.as_tensor(targets, dtype=torch.float32, device=device)
    fit = ParamFit(steps=[], tables=[], surrogate_mape=[])
    want = set(snapshot_steps)

    def snap(step: int) -> None:
        th = (v.detach() * s_t).double().cpu().numpy()
        fit.steps.append(step)
        fit.tables.append(th)
        fit.surrogate_mape.append(surrogate_error(model, blocks, th, targets, device))

    if 0 in want:
        snap(0)
    step = 0
    while step < steps:
        for rows in length_batches(blocks.lengths, batch, rng):
            tok, ln, s0 = blocks.batch(rows, device)
            pred = model(tok, ln, (v * s_t)[None, :], s0)
            loss = mape_loss(pred, tgt[torch.as_tensor(rows, device=device)])
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                v.copy_(torch.minimum(torch.maximum(v, lo_t), hi_t))
            step += 1
            if step in want:
                snap(step)
            if step >= steps:
                break
    for p in model.parameters():
        p.requires_grad_(True)
    fit.wall_s = time.perf_counter() - t0
    return fit
