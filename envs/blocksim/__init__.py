"""blocksim: a fast llvm-mca-style basic-block simulator with a fully tunable table.

Public API: :class:`BlockSim` (``predict(blocks_hex, table)`` -> cycles per
``iterations`` iterations) and :class:`Table` (per-opcode latency, micro-ops,
ReadAdvance, resource cycles; globals dispatch width and ROB size; flat-vector
helpers). Default tables for every opcode of znver3, znver2, haswell, skylake (LLVM 14)
and znver4, znver5 (LLVM 22) ship in ``tables/``; ``tunebench blocksim-tables``
regenerates them from LLVM's scheduling models.
"""

from envs.blocksim.simulator import BlockSim
from envs.blocksim.tables import Table, load_default_table

__all__ = ["BlockSim", "Table", "load_default_table"]
