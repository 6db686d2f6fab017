"""Learning agents (DiffTune, PPO, behavioral cloning), one module each.

``AGENTS`` is this package's registry: agent name -> "module:Class".
"""

AGENTS: dict[str, str] = {
    "ppo": "agents.rl.ppo:PPOAgent",
    "bc": "agents.rl.bc:BCAgent",
    "bc+ppo": "agents.rl.bc_ppo:BCPPOAgent",
    "difftune": "agents.difftune.agent:DiffTuneAgent",
    "inline-bc": "agents.rl.inline_bc:InlineBCAgent",
    "inline-ppo": "agents.rl.inline_ppo:InlinePPOAgent",
    "inline-bc+ppo": "agents.rl.inline_bc_ppo:InlineBCPPOAgent",
    "inline-es": "agents.rl.inline_es:InlineESAgent",
    "per-shape": "agents.gemm.per_shape:PerShapeSearch",
    "diode-mlp": "agents.gemm.diode_mlp:DiodeMLP",
    "autotvm-xgb": "agents.gemm.autotvm_xgb:AutoTVMXGB",
    "static-best": "agents.gemm.static_best:StaticBest",
    "mca-stock": "agents.predictors.stock_mca:McaStockAgent",
    "blocksim-stock": "agents.predictors.stock_blocksim:BlockSimStockAgent",
    "difftune-predictor": "agents.predictors.difftune_predictor:DiffTunePredictorAgent",
    "ithemal": "agents.predictors.ithemal:IthemalAgent",
    "surrogate-adapt": "agents.predictors.surrogate_adapt:SurrogateAdaptAgent",
    "perfvec": "agents.predictors.perfvec:PerfVecAgent",
    "opcode-regression": "agents.predictors.opcode_regression:OpcodeRegressionAgent",
    "boosted-residual": "agents.predictors.boosted:BoostedResidualAgent",
    "greedy": "agents.passes.greedy:GreedySearch",
    "seq-hillclimb": "agents.passes.hillclimb:SequenceHillClimb",
    "per-module": "agents.passes.per_module:PerModuleSearch",
    "seq-shortlist": "agents.passes.shortlist:SequenceShortlist",
    "pass-ppo": "agents.passes.ppo:PassPPOAgent",
    "pass-bc": "agents.passes.bc:PassBCAgent",
    "pass-bc+ppo": "agents.passes.bc_ppo:PassBCPPOAgent",
}
