"""blocksim: a fast llvm-mca-style basic-block simulator with a fully tunable table.

Public API: :class:`BlockSim` (``predict(blocks_hex, table)`` -> cycles per
``iterations`` iterations) and :class:`Table` (per-opcode latency, micro-ops,
ReadAdvance, resource cycles; globals dispatch width and ROB size; flat-vector
helpers). Default tables for znver3, znver2, haswell and skylake ship in ``tables/``;
``python -m envs.blocksim.cli blocksim-tables`` regenerates them from llvm-mca 14.
"""

from envs.blocksim.simulator import BlockSim
from envs.blocksim.tables import Table, load_default_table

__all__ = ["BlockSim", "Table", "load_default_table"]
