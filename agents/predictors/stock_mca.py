"""``mca-stock``: stock llvm-mca as a predictor (0 labels, 0 samples): the reference
every learned predictor is compared with."""

from __future__ import annotations

from agents.predictors.common import PredictorAgent
from agents.predictors.simulators import McaPredictor
from harness.agent import TrialContext
from harness.errors import UserError


class McaStockAgent(PredictorAgent):
    """Options:
    mcpu: llvm-mca CPU model; empty: the task's own ``mcpu`` default if it has one
        (the mca task), else the task's CPU (``ctx.task_facts['cpu']``), else ``znver3``.
    llvm: 14 or 22 (LLVM 22 models znver4 and znver5); 0: the task's (its ``llvm``
        fact), else 22 for a CPU only LLVM 22 models, else 14.
    jobs: llvm-mca processes at once when scoring.
    """

    name = "mca-stock"
    description = "stock llvm-mca -mcpu=<cpu> as a predictor (no labels, no samples)"

    def __init__(self, mcpu: str = "", llvm: int = 0, jobs: int = 1) -> None:
        super().__init__()
        if llvm not in (0, 14, 22):
            raise UserError(f"mca-stock: llvm must be 14 or 22 (0: the task's), not {llvm!r}")
        if jobs < 1:
            raise ValueError("jobs must be >= 1")
        self.mcpu, self.llvm, self.jobs = mcpu, int(llvm), int(jobs)

    def run(self, ctx: TrialContext) -> McaPredictor:
        from envs.mca.task import MCA_CPUS

        facts = ctx.task_facts
        mcpu = self.mcpu
        if not mcpu:
            mcpu = str(ctx.param_space.default().get("mcpu", facts.get("cpu", "znver3")))
        llvm = self.llvm or int(facts.get("llvm", 0)) or (14 if mcpu in MCA_CPUS else 22)
        predictor = McaPredictor(mcpu, llvm, self.jobs)
        ctx.objective.propose_predictor(predictor)
        return predictor
