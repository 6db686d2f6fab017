"""Cost-model regressors: fit(X, y, groups) / predict(X), y = log time (or any cost).

- :class:`MLPRegressor`: torch MLP (diode-style): standardised inputs and target, ReLU
  layers, Adam with a cosine schedule, MSE; at most ``steps`` gradient steps (and at
  most ~30 epochs), so cost does not grow with data.
- :class:`XGBRegressor`: xgboost trees (AutoTVM's cost model): squared error on the
  target, or ``rank:pairwise`` within groups (AutoTVM's rank objective; groups = shapes).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


class MLPRegressor:
    """Args: hidden widths, gradient steps, batch size, learning rate, seed, device."""

    def __init__(
        self,
        hidden: tuple[int, ...] = (256, 256, 128),
        steps: int = 2000,
        batch: int = 256,
        lr: float = 1e-3,
        seed: int = 0,
        device: Any = "cpu",
    ) -> None:
        self.hidden, self.steps, self.batch, self.lr = hidden, steps, batch, lr
        self.seed, self.device = seed, device
        self._layers: list[tuple[np.ndarray, np.ndarray]] = []

    def fit(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> MLPRegressor:
        """x float [n, d], y float [n]; ``groups`` unused."""
        import torch

        torch.manual_seed(self.seed)
        self._mx, self._sx = x.mean(0), x.std(0) + 1e-6
        self._my, self._sy = float(y.mean()), float(y.std() + 1e-6)
        xt = torch.tensor((x - self._mx) / self._sx, dtype=torch.float32, device=self.device)
        yt = torch.tensor((y - self._my) / self._sy, dtype=torch.float32, device=self.device)
        layers: list[Any] = []
        width = x.shape[1]
        for h in self.hidden:
            layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
            width = h
        layers.append(torch.nn.Linear(width, 1))
        net = torch.nn.Sequential(*layers).to(self.device)
        params = list(net.parameters())
        # Adam by hand: torch.optim imports torch._dynamo on first use (~3.5 s here),
        # which would dominate short fits in fresh agent processes.
        m1 = [torch.zeros_like(p) for p in params]
        m2 = [torch.zeros_like(p) for p in params]
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        gen = torch.Generator(device="cpu").manual_seed(self.seed)
        n = len(xt)
        # At most ~30 epochs: small data sets (early search rounds) fit in few steps.
        steps = min(self.steps, max(100, 30 * -(-n // self.batch)))
        for t in range(1, steps + 1):
            idx = torch.randint(0, n, (min(self.batch, n),), generator=gen).to(self.device)
            loss = torch.nn.functional.mse_loss(net(xt[idx]).squeeze(-1), yt[idx])
            net.zero_grad(set_to_none=False)
            loss.backward()
            lr = self.lr * 0.5 * (1.0 + math.cos(math.pi * (t - 1) / steps))  # cosine decay
            with torch.no_grad():
                for p, a, b in zip(params, m1, m2, strict=True):
                    g = p.grad
                    a.mul_(beta1).add_(g, alpha=1 - beta1)
                    b.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                    step = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)
                    p.addcdiv_(a, b.sqrt().add_(eps), value=-step)
        # Keep the weights as numpy arrays: the fitted model (inside a predictor) must
        # pickle plainly across processes, and torch tensors sent over a pipe travel as
        # shared-memory handles that die with the sending process.
        self._layers = [
            (m.weight.detach().cpu().numpy().T.astype(np.float64), m.bias.detach().cpu().numpy())
            for m in net
            if isinstance(m, torch.nn.Linear)
        ]
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """float64 [n] predictions for x float [n, d] (numpy forward pass)."""
        h = (np.asarray(x, dtype=np.float64) - self._mx) / self._sx
        for i, (w, b) in enumerate(self._layers):
            h = h @ w + b
            if i < len(self._layers) - 1:
                h = np.maximum(h, 0.0)
        return h[:, 0] * self._sy + self._my


class XGBRegressor:
    """Args: trees, depth, learning rate, objective (``reg`` or ``rank``), seed."""

    def __init__(
        self,
        n_estimators: int = 300,
        max_depth: int = 6,
        learning_rate: float = 0.1,
        objective: str = "reg",
        seed: int = 0,
    ) -> None:
        if objective not in ("reg", "rank"):
            raise ValueError("objective must be 'reg' or 'rank'")
        self.params = dict(
            n_estimators=n_estimators, max_depth=max_depth, learning_rate=learning_rate
        )
        self.objective, self.seed = objective, seed
        self._model: Any = None

    def fit(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> XGBRegressor:
        import xgboost as xgb

        common = dict(
            **self.params, random_state=self.seed, n_jobs=1, tree_method="hist", verbosity=0
        )
        if self.objective == "rank" and groups is not None:
            order = np.argsort(groups, kind="stable")
            # rank:pairwise learns an order: lower time = more relevant, so rank on -y.
            _, sizes = np.unique(groups[order], return_counts=True)
            rel = -y[order]
            # relevance must be non-negative integers for ranking objectives: use ranks
            rel_rank = np.empty(len(rel))
            start = 0
            for s in sizes:
                seg = rel[start : start + s]
                rel_rank[start : start + s] = np.argsort(np.argsort(seg))
                start += s
            model = xgb.XGBRanker(objective="rank:pairwise", **common)
            model.fit(x[order], rel_rank, group=sizes)
            self._sign = -1.0
        else:
            model = xgb.XGBRegressor(objective="reg:squarederror", **common)
            model.fit(x, y)
            self._sign = 1.0
        self._model = model
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """float64 [n]: predicted cost (for ``rank``: a score, lower = faster)."""
        return self._sign * self._model.predict(x).astype(np.float64)

    @staticmethod
    def version() -> str:
        import xgboost as xgb

        return str(xgb.__version__)
