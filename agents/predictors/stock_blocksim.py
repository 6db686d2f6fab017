"""``blocksim-stock``: blocksim with its CPU's default table as a predictor (0 labels,
0 samples)."""

from __future__ import annotations

from agents.predictors.common import PredictorAgent
from agents.predictors.simulators import BlockSimPredictor, task_blocksim_options, task_cpu
from harness.agent import TrialContext


class BlockSimStockAgent(PredictorAgent):
    """Options:
    cpu: the blocksim CPU whose default table predicts.
        Empty: the task's (``ctx.task_facts['cpu']``), else znver3.
    """

    name = "blocksim-stock"
    description = "blocksim with the CPU's default table as a predictor (no labels, no samples)"

    def __init__(self, cpu: str = "") -> None:
        super().__init__()
        self.cpu = cpu

    def run(self, ctx: TrialContext) -> BlockSimPredictor:
        cpu = task_cpu(self.cpu, ctx.task_facts)
        predictor = BlockSimPredictor(cpu, **task_blocksim_options(ctx.task_facts))
        ctx.objective.propose_predictor(predictor)
        return predictor
