"""``blocksim-stock``: blocksim with its CPU's default table as a predictor (0 labels,
0 samples)."""

from __future__ import annotations

from agents.predictors.common import PredictorAgent
from agents.predictors.simulators import BlockSimPredictor
from harness.agent import TrialContext


class BlockSimStockAgent(PredictorAgent):
    """Options:
    cpu: the blocksim CPU whose default table predicts.
    """

    name = "blocksim-stock"
    description = "blocksim with the CPU's default table as a predictor (no labels, no samples)"

    def __init__(self, cpu: str = "znver3") -> None:
        super().__init__()
        self.cpu = cpu

    def run(self, ctx: TrialContext) -> BlockSimPredictor:
        predictor = BlockSimPredictor(self.cpu)
        ctx.objective.propose_predictor(predictor)
        return predictor
