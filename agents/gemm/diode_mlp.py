"""``diode-mlp``: an MLP cost model on shape + schedule features (torch-diode's approach).

Selection (``gemm-select``): trained on the training shapes' timings it reads, it
returns a time predictor; the harness times its top-N per test shape. Search
(``gemm-search``): the model-based loop of :mod:`agents.gemm.model_agent`, refitted
each round. See that module for the modes and options.
"""

from __future__ import annotations

from typing import Any

from agents.gemm.model_agent import CostModelAgent
from agents.gemm.regressors import MLPRegressor
from agents.torchutil import torch_device, torch_session
from harness.agent import TrialContext


class DiodeMLP(CostModelAgent):
    name = "diode-mlp"
    description = "MLP time model on shape + schedule features (torch-diode style)"

    def __init__(
        self, steps: int = 2000, hidden: int = 256, lr: float = 1e-3, **options: Any
    ) -> None:
        super().__init__(**options)
        if steps < 1 or hidden < 1 or lr <= 0:
            raise ValueError("need steps >= 1, hidden >= 1, lr > 0")
        self.steps, self.hidden, self.lr = steps, hidden, lr

    def session(self, ctx: TrialContext) -> Any:
        return torch_session(ctx)

    def make_regressor(self, ctx: TrialContext) -> MLPRegressor:
        h = self.hidden
        return MLPRegressor(
            hidden=(h, h, h // 2),
            steps=self.steps,
            lr=self.lr,
            seed=ctx.seed,
            device=torch_device(ctx),
        )

    def versions(self) -> dict[str, str]:
        import torch

        return {"torch": torch.__version__}
