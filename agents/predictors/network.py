"""The block encoder the neural predictors share (Ithemal-style LSTM) and its
picklable predictor.

Encoder: per instruction x_i = ReLU(W [emb_key(k_i) + emb_mnem(m_i); feats_i]) [hidden]
(feats: :data:`agents.predictors.featurize.FEATURES`, scaled by ``log1p``); an LSTM of
width ``hidden`` over x_1..x_n; the block vector is [h_n; mean_i h_i; log n] and a
two-layer head maps it to ``out`` numbers. Ithemal's first level (an LSTM over each
instruction's operand tokens) is replaced by the key embedding (a key names the opcode
and its operand form) plus the explicit dependency features.

Heads: ``out = 1`` gives log cycles per 100 iterations (ithemal, surrogate-adapt);
perfvec uses ``out = k`` as the block's representation.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.predictors.featurize import FEATURES, Encoded, Tokenizer, Vocab


class BlockEncoder(nn.Module):
    """Blocks -> ``out`` numbers each.

    Args:
        n_keys, n_mnemonics: vocabulary sizes (id 0 = unknown / padding).
        hidden: LSTM width (Ithemal: 256); embed: token embedding size.
        out: output size.
    """

    def __init__(
        self, n_keys: int, n_mnemonics: int, hidden: int = 96, embed: int = 64, out: int = 1
    ) -> None:
        super().__init__()
        self.emb_key = nn.Embedding(n_keys, embed)
        self.emb_mnem = nn.Embedding(n_mnemonics, embed)
        self.inst = nn.Linear(embed + len(FEATURES), hidden)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.head = nn.Sequential(
            nn.Linear(2 * hidden + 1, hidden), nn.ReLU(), nn.Linear(hidden, out)
        )

    def forward(
        self, key: torch.Tensor, mnem: torch.Tensor, feats: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        """float32 [B, out] from key/mnem int64 [B, L], feats float32 [B, L, F],
        lengths int64 [B]."""
        b, length = key.shape
        mask = (torch.arange(length, device=key.device)[None, :] < lengths[:, None]).float()
        x = torch.cat([self.emb_key(key) + self.emb_mnem(mnem), torch.log1p(feats)], 2)
        h, _ = self.lstm(torch.relu(self.inst(x)))
        last = h[torch.arange(b, device=key.device), lengths - 1]
        mean = (h * mask[..., None]).sum(1) / lengths[:, None].float()
        loglen = torch.log(lengths.float())[:, None]
        return self.head(torch.cat([last, mean, loglen], 1))


def to_tensors(enc: Encoded, device: torch.device) -> tuple[torch.Tensor, ...]:
    """(key, mnem, feats, lengths) tensors of a batch."""
    return (
        torch.as_tensor(enc.key, device=device),
        torch.as_tensor(enc.mnem, device=device),
        torch.as_tensor(enc.feats, device=device),
        torch.as_tensor(enc.lengths, device=device),
    )


def length_batches(lengths: np.ndarray, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Index batches of ~``batch`` blocks of similar length, in random order (the LSTM's
    cost is set by a batch's longest block; BHive's lengths are skewed)."""
    order = np.lexsort((rng.random(len(lengths)), lengths))
    chunks = [order[i : i + batch] for i in range(0, len(order), batch)]
    return [chunks[i] for i in rng.permutation(len(chunks))]


def encode_outputs(
    model: BlockEncoder, enc: Encoded, device: torch.device, batch: int = 512
) -> np.ndarray:
    """The model's outputs for every block of ``enc``, float64 [n, out]."""
    model.eval()
    out: np.ndarray | None = None
    with torch.no_grad():
        for rows in length_batches(enc.lengths, batch, np.random.default_rng(0)):
            y = model(*to_tensors(enc.rows(rows), device)).double().cpu().numpy()
            if out is None:
                out = np.empty((len(enc.lengths), y.shape[1]))
            out[rows] = y
    return out if out is not None else np.zeros((0, 1))


class NeuralPredictor:
    """Picklable predictor: hex blocks -> cycles per 100 iterations, float64 [n].

    log cycles = log anchor(block) + ``scale`` . encoder(block) + ``bias`` (``scale``
    float64 [out], 1 for a one-output model; perfvec's target representation
    otherwise; ``anchor``: an optional simulator-backed predictor whose cycles the
    network corrects, else 1). A block that does not decode gets NaN. Runs on the CPU
    with the calling process's torch threads.

    Args:
        tokenizer, vocab: how blocks become tokens (the training ones).
        model: the trained encoder (its weights are copied to the CPU).
        scale, bias: the linear read-out of the encoder's outputs.
        head: optional residual head on the encoder's outputs (perfvec's small head):
            a module mapping float32 [B, out] -> [B, 1] added to the log prediction.
        batch: blocks per forward pass.
        anchor: a picklable predictor (e.g. stock blocksim) the network's output
            multiplies; None: the network predicts cycles on its own.
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        vocab: Vocab,
        model: BlockEncoder,
        scale: np.ndarray | None = None,
        bias: float = 0.0,
        head: nn.Module | None = None,
        batch: int = 512,
        anchor: Callable[[Sequence[str]], np.ndarray] | None = None,
    ) -> None:
        self.anchor = anchor
        self.tokenizer = tokenizer
        self.vocab = vocab
        self.model = model.to("cpu").eval()
        self.scale = None if scale is None else np.asarray(scale, np.float64)
        self.bias = float(bias)
        self.head = None if head is None else head.to("cpu").eval()
        self.batch = int(batch)

    def log_cycles(self, blocks_hex: Sequence[str]) -> np.ndarray:
        """float64 [n] predicted log cycles per 100 iterations (NaN: undecodable)."""
        enc = self.vocab.encode(self.tokenizer(blocks_hex))
        device = torch.device("cpu")
        z = encode_outputs(self.model, enc, device, self.batch)
        y = z[:, 0] if self.scale is None else z @ self.scale
        y = y + self.bias
        if self.head is not None:
            with torch.no_grad():
                y = y + self.head(torch.as_tensor(z, dtype=torch.float32)).double().numpy()[:, 0]
        if self.anchor is not None:
            a = np.asarray(self.anchor(blocks_hex), np.float64)
            y = y + np.log(np.where(a > 0, a, np.nan))
        y[~enc.ok] = np.nan
        return y

    def __call__(self, blocks_hex: Sequence[str]) -> np.ndarray:
        if not len(blocks_hex):
            return np.zeros(0)
        # Clamp to a sane range (1e-1 .. 1e7 cycles per 100): an untrained or
        # extrapolating network must not overflow the metrics.
        return np.exp(np.clip(self.log_cycles(blocks_hex), -2.3, 16.1))

    def __getstate__(self) -> dict[str, Any]:
        # Modules travel as torch.save bytes: the isolation channel pickles with
        # multiprocessing's ForkingPickler, for which torch registers reductions that
        # pass tensors as shared-memory handles, and those die with the agent process
        # before the trial process unpickles them.
        state = dict(self.__dict__)
        for name in ("model", "head"):
            if state[name] is not None:
                buf = io.BytesIO()
                torch.save(state[name], buf)
                state[name] = buf.getvalue()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name in ("model", "head"):
            if isinstance(state[name], bytes):
                state[name] = torch.load(io.BytesIO(state[name]), weights_only=False).eval()
        self.__dict__.update(state)
