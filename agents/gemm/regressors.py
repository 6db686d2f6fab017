"""Cost-model regressors: fit(X, y, groups) / predict(X), y = log time (or any cost).

- :class:`MLPRegressor`: torch MLP (diode-style): standardised inputs and target, ReLU
  layers, Adam with a cosine schedule, MSE; at most ``steps`` gradient steps (and at
  most ~30 epochs), so cost does not grow with data.
- :class:`XGBRegressor`: xgboost trees (AutoTVM's cost model): squared error on the
  target, or ``rank:pairwise`` within groups (AutoTVM's rank objective; groups = shapes).
"""

from __future__ import annotations

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
        self._net: Any = None

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
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        gen = torch.Generator(device="cpu").manual_seed(self.seed)
        n = len(xt)
        # At most ~30 epochs: small data sets (early search rounds) fit in few steps.
        steps = min(self.steps, max(100, 30 * -(-n // self.batch)))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        for _ in range(steps):
            idx = torch.randint(0, n, (min(self.batch, n),), generator=gen).to(self.device)
            loss = torch.nn.functional.mse_loss(net(xt[idx]).squeeze(-1), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        self._net = net.eval()
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """float64 [n] predictions for x float [n, d]."""
        import torch

        with torch.no_grad():
            xt = torch.tensor((x - self._mx) / self._sx, dtype=torch.float32, device=self.device)
            out = torch.cat(
                [self._net(xt[i : i + 65536]).squeeze(-1) for i in range(0, len(xt), 65536)]
            )
        return out.cpu().numpy().astype(np.float64) * self._sy + self._my


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
