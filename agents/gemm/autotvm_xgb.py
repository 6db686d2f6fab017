"""``autotvm-xgb``: gradient-boosted trees as the cost model, AutoTVM's way.

Search (``gemm-search``): AutoTVM's loop (fit the trees to what was timed, time what
they predict fastest, with some random exploration), sharing one model across shapes.
Selection (``gemm-select``): the trees trained on the training timings as a predictor.
``objective = "rank"`` uses xgboost's pairwise ranking within a shape (AutoTVM's rank
loss) instead of squared error on log time. See :mod:`agents.gemm.model_agent`.
"""

from __future__ import annotations

from typing import Any

from agents.gemm.model_agent import CostModelAgent
from agents.gemm.regressors import XGBRegressor
from harness.agent import TrialContext


class AutoTVMXGB(CostModelAgent):
    name = "autotvm-xgb"
    description = "xgboost cost model (AutoTVM style): model-based search or learned selection"

    def __init__(
        self,
        trees: int = 300,
        depth: int = 6,
        learning_rate: float = 0.1,
        objective: str = "reg",
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if trees < 1 or depth < 1 or learning_rate <= 0 or objective not in ("reg", "rank"):
            raise ValueError(
                "need trees >= 1, depth >= 1, learning_rate > 0, objective 'reg' or 'rank'"
            )
        self.trees, self.depth, self.learning_rate, self.objective = (
            trees,
            depth,
            learning_rate,
            objective,
        )

    def make_regressor(self, ctx: TrialContext) -> XGBRegressor:
        return XGBRegressor(
            n_estimators=self.trees,
            max_depth=self.depth,
            learning_rate=self.learning_rate,
            objective=self.objective,
            seed=ctx.seed,
        )

    def versions(self) -> dict[str, str]:
        return {"xgboost": XGBRegressor.version()}
