"""Simulators, tasks built on them, and their ground-truth data.

``TASKS`` and ``COMMANDS`` are this package's registry entries: task name ->
"module:factory", command name -> "module" (whose ``register(subparsers)`` adds a
``tunebench`` subcommand). Adding a task is one new file plus one line here.
"""

TASKS: dict[str, str] = {
    "mca": "envs.mca.task:make_mca_task",
    "blocksim": "envs.blocksim.task:make_blocksim_task",
    "inlining": "envs.inlining.task:make_inlining_task",
    "gemm-search": "envs.gemm.task:make_gemm_search_task",
    "gemm-select": "envs.gemm.task:make_gemm_select_task",
    "xuarch": "envs.xuarch.task:make_xuarch_task",
    "passes": "envs.passes.task:make_passes_task",
}
COMMANDS: dict[str, str] = {
    "measure": "envs.groundtruth.measure.cli",
    "blocksim-tables": "envs.blocksim.cli",
    "export": "envs.blocksim.export",
    "corpus": "envs.llvmcorpus.cli",
    "gemm-collect": "envs.gemm.cli",
}
