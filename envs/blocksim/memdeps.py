"""An opt-in model beyond llvm-mca: memory dependences through provably identical addresses.

llvm-mca (and blocksim by default) lets a load pass every store (``-noalias``). Real
cores forward a store's data to a later load of the same address, which chains
iterations through memory: ``movq %rax, 8(%rsp); ...; movq 8(%rsp), %rax`` or a
read-modify-write ``addl $1, (%rdi)`` repeated every iteration. This module finds the
pairs whose addresses are *provably* identical inside the repeated block:

- same base register, index register, scale, segment and a numeric displacement
  (no symbol, not RIP-relative unless it is the same instruction);
- neither the base nor the index register (nor any register overlapping them) is
  written by an instruction between the store and the load, going around the block
  for a store later in the block (or the same instruction: a read-modify-write),
  which is then a dependence on the previous iteration.

Each load gets at most one store: the nearest earlier one with the same address.
Timing (kernel read kind 3): the load's result is ready no earlier than
``store_forward`` cycles after the store's data (the store's issue + its latency), so
the load issues no earlier than store issue + store latency + store_forward - load
latency. ``store_forward`` is a global table parameter (``Table.store_forward``),
tunable like the rest once the model is on (``BlockSim(extended=True)``).
"""

from __future__ import annotations

from collections.abc import Sequence

from envs.blocksim.isa import InstInfo, mem_span
from envs.x86.disasm import Instruction
from envs.x86.llvmdesc import LLVMDesc

KIND_MEMORY = 3  # the kernel's read kind for a store -> load dependence
KIND_FORWARD_FAIL = 4  # a load overlapping the store only in part (bhive_state)
KIND_FORWARD_STACK = 5  # a stack-relative pair renamed through the memory file (bhive_state)


def _address(inst: Instruction) -> tuple[str, str, str, str, str] | None:
    """(base, scale, index, displacement, segment) of a memory operand, or None."""
    ops = inst.operands
    text_ops = inst.text.split(None, 1)[1] if " " in inst.text else ""
    if "(" not in text_ops:
        return None
    m = mem_span(ops)
    if m < 0 or ops[m + 3][0] != "Imm":
        return None
    return ops[m][1], ops[m + 1][1], ops[m + 2][1], ops[m + 3][1], ops[m + 4][1]


def _overlaps(desc: LLVMDesc, reg: str) -> set[str]:
    """``reg`` and every register sharing bits with it."""
    out = {reg, *desc.subregs.get(reg, ()), *desc.superregs.get(reg, ())}
    for sup in desc.superregs.get(reg, ()):
        out.update(desc.subregs.get(sup, ()))
    return out


def memory_deps(
    insts: Sequence[Instruction],
    infos: Sequence[InstInfo],
    is_load: Sequence[bool],
    is_store: Sequence[bool],
    desc: LLVMDesc,
) -> list[tuple[int, int, int]]:
    """(load position, store position, distance 0/1) per provable store -> load pair."""
    n = len(insts)
    addrs = [
        _address(i) if (ld or st) else None
        for i, ld, st in zip(insts, is_load, is_store, strict=True)
    ]
    written: list[set[str]] = []
    for info in infos:
        regs: set[str] = set()
        for reg, _slot, _clears in info.writes:
            regs |= _overlaps(desc, reg)
        written.append(regs)
    out = []
    for pos in range(n):
        a = addrs[pos]
        if not is_load[pos] or a is None:
            continue
        base, _, index, _, _ = a
        watch = set()
        for r in (base, index):
            if r:
                watch |= _overlaps(desc, r)
        # walk back from the instruction before the load, around the block, to the
        # load itself (a read-modify-write feeding its next iteration)
        for back in range(1, n + 1):
            j = (pos - back) % n
            if is_store[j] and addrs[j] == a and (base != "RIP" or j == pos):
                out.append((pos, j, 1 if j >= pos else 0))
                break
            if written[j] & watch:
                break
    return out
