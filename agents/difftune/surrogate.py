"""The differentiable surrogate: (block tokens, parameter table) -> log cycles per 100.

Design (Ithemal-style, after DiffTune):

- instruction vector x_i = ReLU(W [emb(token_i); p_i; g]) [hidden], where emb is a
  learned embedding per table key (DiffTune embeds the opcode), p_i [F] the token's
  per-instruction parameters and g [G] the global parameters, both min-max normalised
  to [0, 1] by the space's bounds (a token without a field gets 0);
- a block LSTM (width ``hidden``) over x_1..x_n; its last state h_n summarises the block.
  Ithemal's first level, an LSTM over each instruction's operand tokens, is replaced by
  the key embedding: tasks expose keys (``item_tokens``), and a key already names the
  opcode and its operand form;
- output: log cycles per 100 iterations =
  log s0 + (log b(theta) - log b(theta0)) + head([h_n; g; features]), where s0 is the
  simulator's cycles for the block under the default table theta0 (one charged sample
  per block) and b an analytic throughput bound: a smooth max of (sum of micro-ops /
  dispatch width) and, per resource, w_r * (sum of cycles on r), w_r > 0 learned (about
  1 / number of units of the group). The head's last layer starts at zero, so the
  untrained surrogate is exact at the default and the bound gives the parameters a
  direct, physically sensible gradient; the network only learns the effect of moving
  away from the default. Why: budgets here are ~10^4 samples, not DiffTune's millions,
  and predicting raw cycles from scratch left ~20% error vs the simulator.
- parameter features are (theta - theta0) / (high - low): 0 at the default.

Loss: MAPE against the simulator's cycles.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from agents.difftune.layout import Layout

_SMOOTH = 0.1  # temperature of the smooth max, in log units


class Surrogate(nn.Module):
    """Maps blocks and tables to predicted log(cycles per 100 iterations).

    Args:
        layout: the task's parameter layout.
        hidden: LSTM width (DiffTune/Ithemal: 256).
        embed: token embedding size.
    """

    def __init__(self, layout: Layout, hidden: int = 256, embed: int = 64) -> None:
        super().__init__()
        n_tok, n_fld = layout.token_index.shape
        n_glob = len(layout.global_index)
        self.register_buffer("token_index", torch.as_tensor(layout.token_index))
        self.register_buffer("global_index", torch.as_tensor(layout.global_index))
        self.register_buffer("theta0", torch.as_tensor(layout.default, dtype=torch.float32))
        span = torch.as_tensor(layout.high - layout.low, dtype=torch.float32).clamp(min=1.0)
        self.register_buffer("span", span)
        fields = list(layout.fields)
        self.uops_field = fields.index("uops") if "uops" in fields else -1
        self.lat_field = fields.index("lat") if "lat" in fields else -1
        self.port_fields = [i for i, f in enumerate(fields) if f.startswith("port")]
        globs = list(layout.globals_)
        self.dispatch_pos = globs.index("dispatch_width") if "dispatch_width" in globs else -1
        self.emb = nn.Embedding(n_tok, embed)
        self.inst = nn.Linear(embed + n_fld + n_glob, hidden)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        n_feat = 7
        self.head = nn.Sequential(
            nn.Linear(hidden + n_glob + n_feat, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )
        nn.init.zeros_(self.head[2].weight)  # start at s0 * bound ratio
        nn.init.zeros_(self.head[2].bias)
        self.log_w = nn.Parameter(torch.zeros(len(self.port_fields)))

    def forward(
        self, tok: torch.Tensor, lengths: torch.Tensor, theta: torch.Tensor, log_s0: torch.Tensor
    ) -> torch.Tensor:
        """Predicted log cycles per 100 iterations.

        Args:
            tok: int64 [B, L] token ids (0 = unknown / padding).
            lengths: int64 [B] instructions per block (>= 1).
            theta: float32 [B, d] raw parameter values (or [1, d], broadcast).
            log_s0: float32 [B] log of the simulator's cycles per 100 iterations of each
                block under the default table.
        Returns:
            float32 [B].
        """
        b, length = tok.shape
        theta = theta.expand(b, -1)
        lb, feats = self._features(tok, lengths, theta)
        lb0, _ = self._features(tok, lengths, self.theta0[None, :].expand(b, -1))
        z = (theta - self.theta0) / self.span  # [B, d], 0 at the default
        g = z[:, self.global_index]  # [B, G]
        zp = torch.cat([z, theta.new_zeros(b, 1)], 1)  # slot d holds 0
        idx = self.token_index[tok].reshape(b, -1)  # [B, L*F]
        mask = (torch.arange(length, device=tok.device)[None, :] < lengths[:, None]).float()
        feat = zp.gather(1, idx).view(b, length, -1) * mask[..., None]  # [B, L, F]
        x = torch.cat([self.emb(tok), feat, g[:, None, :].expand(b, length, -1)], 2)
        out, _ = self.lstm(torch.relu(self.inst(x)))
        h = out[torch.arange(b, device=tok.device), lengths - 1]  # [B, hidden]
        extra = torch.stack([lb - lb0, log_s0 - math.log(100.0)], 1)
        corr = self.head(torch.cat([h, g, feats, extra], 1)).squeeze(1)
        return log_s0 + (lb - lb0) + corr

    def _features(
        self, tok: torch.Tensor, lengths: torch.Tensor, theta: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """log of the analytic bound [B] and the head's features [B, 5] under theta."""
        b, length = tok.shape
        idx = self.token_index[tok].reshape(b, -1)
        mask = (torch.arange(length, device=tok.device)[None, :] < lengths[:, None]).float()
        rp = torch.cat([theta, theta.new_zeros(b, 1)], 1)
        raw = rp.gather(1, idx).view(b, length, -1) * mask[..., None]  # [B, L, F]
        return self._bound(raw, theta, lengths)

    def _bound(
        self, raw: torch.Tensor, theta: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Smooth analytic throughput bound, log cycles per iteration [B], and the
        features [B, 5] the head sees."""
        eps = 1e-2
        terms = [torch.full_like(theta[:, 0], 0.25)]  # nothing runs faster than 4/cycle
        if self.uops_field >= 0:
            uops = raw[..., self.uops_field].sum(1)
            disp = (
                theta[:, self.global_index[self.dispatch_pos]].clamp(min=1.0)
                if self.dispatch_pos >= 0
                else torch.ones_like(uops)
            )
            terms.append(uops / disp)
        if self.port_fields:
            press = raw[..., self.port_fields].sum(1) * nn.functional.softplus(
                self.log_w + 0.5413
            )  # softplus(0.5413) = 1
            terms += list(press.unbind(1))
        logs = torch.log(torch.stack(terms, 1).clamp(min=eps))  # [B, T]
        log_base = _SMOOTH * torch.logsumexp(logs / _SMOOTH, 1)
        lat = raw[..., self.lat_field].sum(1) if self.lat_field >= 0 else torch.zeros_like(log_base)
        feats = torch.stack(
            [
                log_base,
                logs[:, 1] if logs.shape[1] > 1 else log_base,
                logs.max(1).values,
                torch.log1p(lat),
                torch.log(lengths.float()),
            ],
            1,
        )
        return log_base, feats


def mape_loss(log_pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute percentage error (a fraction) of exp(log_pred) [B] vs target [B]."""
    return ((torch.exp(log_pred) - target).abs() / target).mean()
