"""A block's register dependencies, resolved as llvm-mca's RegisterFile resolves them.

llvm-mca keeps, per physical register, the last write that updated it (and, after an
eliminated move, an alias to the source register). Per instruction, in program order:

- each read of register R depends on the writes last recorded for R and for every
  sub-register of R (a 32-bit read after a 16-bit write depends on both the 16-bit
  write and the last full write), after following R's alias; a read an idiom ignores
  (``independent_uses``) depends on nothing;
- each write to R: if the CPU's register file renames R as a wider register
  (``rename_as``: EAX, AX, AL as RAX on the Zen models) the write updates that one,
  and if it does not clear the upper part (8/16-bit GPR writes) it is a *partial*
  write: the instruction cannot issue before the wider register's last write has
  started and has fewer cycles left than the instruction's own latency. The write
  is recorded for the register and its sub-registers, and for its super-registers
  when it clears them (32-bit GPR writes, VEX/EVEX vector writes). Of two writes of
  one instruction to the same register the slower one stays;
- an eliminated register move (``move`` key whose destination's RenameAs register
  allows it, and that writes it whole: ``movl %ebp, %eax`` on Zen) has no dependencies
  and issues at dispatch; its destination becomes an alias of its source, so later
  readers of the destination read whatever last wrote the source.

The block repeats, so a read before any write of its register in the block depends on
the previous iteration's write: the block is resolved twice and reads in the second
pass that reach a first-pass write are distance-1 dependencies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from envs.blocksim.isa import InstInfo
from envs.x86.llvmdesc import LLVMDesc

# Read kinds (the kernel's rd_kind): what the reader subtracts from the producer's
# write latency.
KIND_PLAIN = 0  # nothing
KIND_ADVANCE = 1  # the reader's ReadAdvance (tunable ``ra``)
KIND_PARTIAL = 2  # a partial write waiting for the wider register's last write


@dataclass(frozen=True)
class KeyDeps:
    """Structural dependency data of one table key (see :class:`envs.blocksim.tables.Table`)."""

    write_offsets: tuple[int, ...] = ()
    advance_uses: frozenset[int] = frozenset()
    fixed_advance: dict[int, int] | None = None
    independent_uses: frozenset[int] = frozenset()
    move: bool = False
    latency: int = 1


@dataclass(frozen=True)
class Dep:
    """One dependency of an instruction on a write of an earlier (or the previous
    iteration's) instruction: producer position, distance in iterations (0 / 1),
    offset of that write's latency from the producer's latency, read kind."""

    pos: int
    dist: int
    lat_offset: int
    kind: int


def resolve(
    infos: Sequence[InstInfo],
    deps: Sequence[KeyDeps],
    desc: LLVMDesc,
    rename_as: dict[str, str],
    move_elim: frozenset[str],
    no_partial: set[int] | frozenset[int] = frozenset(),
) -> tuple[list[list[Dep]], list[bool]]:
    """Per instruction, its dependencies (in llvm-mca's read order), and whether it is
    an eliminated move. ``deps[i]`` is instruction i's key data; instructions in
    ``no_partial`` get no partial-write dependency (the extended model)."""
    subregs, superregs = desc.subregs, desc.superregs
    # register -> (pos, slot, pass) of the last write; register -> alias register
    last: dict[str, tuple[int, int, int]] = {}
    alias: dict[str, str] = {}
    out: list[list[Dep]] = [[] for _ in infos]
    elim = [False] * len(infos)

    def wlat(pos: int, slot: int) -> int:
        offs = deps[pos].write_offsets
        return deps[pos].latency + (offs[slot] if slot < len(offs) else 0)

    for pas in (0, 1):
        for pos, (info, kd) in enumerate(zip(infos, deps, strict=True)):
            found: list[Dep] = []
            if kd.move and len(info.reads) == 1 and len(info.writes) == 1:
                src, (dst, _, clears) = info.reads[0][0], info.writes[0]
                # llvm-mca's canEliminateMove: the destination's RenameAs register allows
                # it (EAX -> RAX: 32-bit moves too), and a destination renamed as a wider
                # register must clear it (no partial write)
                ren_dst = rename_as.get(dst) or dst
                if (
                    ren_dst in move_elim
                    and (ren_dst == dst or clears)
                    and rename_as.get(src) is not None
                ):
                    elim[pos] = True
                    aliased = rename_as.get(src) or src
                    aliased = alias.get(aliased, aliased)
                    to = rename_as.get(dst) or dst
                    for r in (to, *subregs.get(to, ())):
                        alias[r] = aliased
                    continue
            for reg, use in info.reads:
                if use in kd.independent_uses:
                    continue
                r = alias.get(reg, reg)
                seen: set[tuple[int, int, int]] = set()
                for s in (r, *subregs.get(r, ())):
                    w = last.get(s)
                    if w is None or w in seen:
                        continue
                    seen.add(w)
                    lofs = wlat(w[0], w[1]) - deps[w[0]].latency
                    kind = KIND_ADVANCE if use in kd.advance_uses else KIND_PLAIN
                    if kd.fixed_advance and use in kd.fixed_advance:
                        lofs -= kd.fixed_advance[use]
                    found.append(Dep(w[0], 1 if w[2] != pas else 0, lofs, kind))
            for reg, slot, clears in info.writes:
                to = reg
                ren = rename_as.get(reg)
                if ren and ren != reg:
                    to = ren
                    if not clears and pos not in no_partial:
                        w = last.get(to)
                        if w is not None and (w[0], w[2]) != (pos, pas):  # another instance
                            lofs = wlat(w[0], w[1]) - deps[w[0]].latency
                            found.append(Dep(w[0], 1 if w[2] != pas else 0, lofs, KIND_PARTIAL))
                w = last.get(to)
                if (
                    w is not None
                    and w[0] == pos
                    and w[2] == pas
                    and wlat(pos, w[1]) > wlat(pos, slot)
                ):
                    continue  # llvm-mca keeps the slower of one instruction's writes
                this = (pos, slot, pas)
                for r in (to, *subregs.get(to, ())):
                    last[r] = this
                    alias.pop(r, None)
                if clears:
                    for r in superregs.get(to, ()):
                        last[r] = this
                        alias.pop(r, None)
            if pas == 1:
                out[pos] = found
    return out, elim
