"""An opt-in model beyond llvm-mca: SETcc into a register a zero idiom cleared.

Compilers materialise a boolean as ``xorl %eax, %eax; cmp ...; sete %al``. The zero
idiom breaks the dependence, and the byte write of SETcc then merges into a register
known to be zero; measured on Zen 3 such blocks run at the dispatch limit (0.5 cycles
per iteration for the three instructions above), while LLVM 14's znver3 model charges
SETcc two cycles on its ALU pair and a partial-register merge (1.0 per iteration).

With the extended model (``BlockSim(extended=True)``), a SETcc whose destination's
full register was last written (going back around the block) by a zero idiom gets the
key ``<key>#zx``: its own table row (default: the SETcc row with one cycle on each
resource it uses) and no partial-write dependency. The rows are tunable like every
other key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from envs.blocksim.isa import InstInfo
from envs.blocksim.tables import Table
from envs.x86.llvmdesc import LLVMDesc

SUFFIX = "#zx"


def _top(desc: LLVMDesc, reg: str) -> str:
    """The widest register containing ``reg`` (RAX for AL)."""
    sup = desc.superregs.get(reg, ())
    return max(sup, key=lambda r: len(desc.subregs.get(r, ()))) if sup else reg


def zero_extended_setcc(
    infos: Sequence[InstInfo], is_zero_idiom: Sequence[bool], desc: LLVMDesc
) -> list[int]:
    """Positions of SETcc register writes whose full register was last written by a
    zero idiom (the block repeats: the search goes back around it)."""
    n = len(infos)
    tops = [{_top(desc, r) for r, _s, _c in info.writes} for info in infos]
    out = []
    for pos, info in enumerate(infos):
        if not info.key.startswith("SETCCr"):
            continue
        regs = [r for r, _s, _c in info.writes]
        if not regs:
            continue
        top = _top(desc, regs[0])
        for back in range(1, n):
            j = (pos - back) % n
            if top in tops[j]:
                if is_zero_idiom[j]:
                    out.append(pos)
                break
    return out


def is_zero_idiom(table: Table, key: str) -> bool:
    """A key the table's CPU treats as a zero idiom: its register reads are all
    independent and it has no latency (``xorl %eax, %eax`` on the Zen models)."""
    row = table.index().get(key)
    return bool(
        row is not None
        and table.independent_uses
        and table.independent_uses[row]
        and table.latency[row] == 0
    )


def with_zx_rows(table: Table) -> Table:
    """``table`` plus a ``#zx`` row for every SETcc register key (see module docstring)."""
    base = [k for k in table.opcodes if k.startswith("SETCCr") and SUFFIX not in k]
    if not base:
        return table
    keys = list(table.opcodes) + [k + SUFFIX for k in base]
    order = np.argsort(keys, kind="stable")
    src = np.array([table.index()[k] for k in table.opcodes] + [table.index()[k] for k in base])
    rows = src[order]
    cycles = table.resource_cycles[rows].copy()
    new = np.zeros(len(keys), bool)
    new[len(table.opcodes) :] = True
    new = new[order]
    cycles[new] = np.minimum(cycles[new], 1)

    def pick(seq: tuple) -> tuple:
        return tuple(seq[i] for i in rows) if seq else seq

    return replace(
        table,
        opcodes=tuple(keys[i] for i in order),
        latency=table.latency[rows].copy(),
        micro_ops=table.micro_ops[rows].copy(),
        read_advance=table.read_advance[rows].copy(),
        resource_cycles=cycles,
        may_load=table.may_load[rows].copy(),
        may_store=table.may_store[rows].copy(),
        buffer_use=table.buffer_use[rows].copy(),
        write_offsets=pick(table.write_offsets),
        advance_uses=pick(table.advance_uses),
        fixed_advance=pick(table.fixed_advance),
        independent_uses=pick(table.independent_uses),
        reserved=pick(table.reserved),
        move=table.move[rows].copy(),
    )
