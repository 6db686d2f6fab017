"""blocksim: a fast llvm-mca-style basic-block simulator with a fully tunable table.

Public API: :class:`BlockSim` (``predict(blocks_hex, table)`` -> cycles per
``iterations`` iterations) and :class:`Table` (per-opcode latency, micro-ops,
ReadAdvance, resource cycles; globals dispatch width and ROB size; flat-vector
helpers). Default tables for every opcode of znver3, znver2, haswell, skylake (LLVM 14)
and znver4, znver5 (LLVM 22) ship in ``tables/``; ``tunebench blocksim-tables``
regenerates them from LLVM's scheduling models.

znver5 is what LLVM 22 models for ``-mcpu=znver5``: the Zen 4 scheduling model (X86.td
pairs znver5 with Znver4Model), so its table equals znver4's but for the name, and
neither it nor llvm-mca knows Zen 5's wider core. Measured on a Zen 5 (family 26 model
2, `tunebench measure --self-check`, 2026-12-02, a contended VM: indicative): 8
independent 64-bit ADDs 1.52 cycles per iteration, 8 independent 512-bit FMAs 4.28; both
models say 2.03 and 8.05 (4 ALUs, one 512-bit FMA per cycle).
"""

from envs.blocksim.simulator import BlockSim
from envs.blocksim.tables import Table, load_default_table

__all__ = ["BlockSim", "Table", "load_default_table"]
