"""Black-box search baselines, one file each.

``AGENTS`` is this package's registry: agent name -> "module:Class". Adding a
baseline is one new file plus one line here.
"""

AGENTS: dict[str, str] = {
    "default": "baselines.default:DefaultAgent",
    "random": "baselines.random_search:RandomSearch",
    "optuna-tpe": "baselines.optuna_tpe:OptunaTPE",
    "optuna-cmaes": "baselines.optuna_cmaes:OptunaCMAES",
    "opentuner": "baselines.opentuner_agent:OpenTunerAgent",
    "nevergrad": "baselines.nevergrad_agent:NevergradAgent",
    "pycma": "baselines.pycma_agent:PyCMAAgent",
    "local-search": "baselines.local_search:LocalSearch",
}
