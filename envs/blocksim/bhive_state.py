"""An opt-in model beyond llvm-mca: memory dependences under the measurement's initial state.

The ground truth is measured the BHive way (``envs/groundtruth/measure``): every
general-purpose register starts at ``0x2324000`` (RSP at ``0x2324800``), every page the
block touches maps to one physical page whose every 64-bit word holds ``0x2324000``,
and the block is unrolled. So two accesses through *different* registers that the block
never writes, ``movq (%rsi), %rcx`` and ``movq %rcx, (%rdi)``, touch the same bytes, and
a load that reads what an earlier store wrote waits for it: measured blocks copying
memory through RSI / RDI run 10-20x slower than llvm-mca predicts. The provable model
(:mod:`envs.blocksim.memdeps`: same registers, same displacement) misses them.

This module runs the block on that initial state for a few iterations, tracking the
values that simple instructions give registers (moves of immediates, registers and
memory; LEA; ADD / SUB / INC / DEC with immediates; zero idioms; PUSH / POP; any other
write makes the register unknown) and the bytes stores leave in the page, and takes the
page offset (address mod 4096: all pages are one physical page) of every load and
store whose address registers are known. Each load of the last simulated iteration
depends on the latest earlier store that wrote any of its bytes: ``exact`` when that
store wrote all of them (store-to-load forwarding), else a partial overlap (forwarding
fails; the load waits for the store to complete). Stores at unknown addresses and
RIP- / FS-relative accesses are ignored, as llvm-mca ignores every store.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from envs.blocksim.isa import InstInfo, mem_span
from envs.x86.disasm import Instruction

INIT_VALUE = 0x2324000  # every GPR and every 64-bit word of the page at the start
INIT_RSP = 0x2324800
PAGE = 4096
MASK64 = (1 << 64) - 1
# The page's bytes before any store (little-endian 64-bit words of INIT_VALUE).
_PATTERN = INIT_VALUE.to_bytes(8, "little")
# Iterations run before the dependences are read off the last one (addresses that move
# each iteration settle after the first; two earlier ones cover distance 0 and 1).
ITERATIONS = 3

_GPR64 = "RAX RBX RCX RDX RSI RDI RBP RSP R8 R9 R10 R11 R12 R13 R14 R15".split()


def _gpr_names() -> dict[str, tuple[str, int]]:
    """LLVM register name -> (its 64-bit GPR, width in bytes), for every GPR alias."""
    out: dict[str, tuple[str, int]] = {}
    for r in _GPR64:
        out[r] = (r, 8)
        if r.startswith("R") and r[1:].isdigit():
            out[r + "D"], out[r + "W"], out[r + "B"] = (r, 4), (r, 2), (r, 1)
            continue
        base = r[1:]  # AX, BX, SI, ...
        out["E" + base] = (r, 4)
        out[base] = (r, 2)
        if base.endswith("X"):
            out[base[0] + "L"] = (r, 1)
            out[base[0] + "H"] = (r, 1)
        else:
            out[base + "L"] = (r, 1)
    return out


GPR = _gpr_names()
_VEC_BYTES = {"XMM": 16, "YMM": 32, "ZMM": 64}
_SIZE_SUFFIX = re.compile(r"(8|16|32|64)(?=[a-z]|$)")
# Scalar and half-register vector moves / arithmetic: 4 or 8 bytes of memory.
_SCALAR = re.compile(r"v?(movs[sd]|movq|movd|mov[lh]p[sd]|(add|sub|mul|div|min|max|sqrt)s[sd])")
# Accesses that read no data a store could forward (prefetches, hinted NOPs).
NO_DATA = ("PREFETCH", "NOOP")


@dataclass(frozen=True)
class MemDep:
    """A load's dependence on a store: positions in the block, iteration distance (0:
    same iteration, 1: the previous one), whether the store covers the load, and
    whether both address the stack the same way (:func:`stack_slot`)."""

    load: int
    store: int
    dist: int
    exact: bool
    stack: bool = False


# Base registers of the accesses AMD's memory file renames (Zen 2 on: a load from the
# stack slot a recent store wrote gets the store's data without a memory access).
STACK_BASES = ("RSP", "RBP")


def stack_slot(inst: Instruction) -> tuple[str, str] | None:
    """(base, displacement) of a stack-relative access with no index (PUSH / POP count
    as RSP-relative), or None."""
    if inst.opcode.startswith(("PUSH", "POP")):
        return ("RSP", "push/pop")
    m = mem_span(inst.operands)
    if m < 0:
        return None
    base, _scale, index, disp, seg = (o[1] for o in inst.operands[m : m + 5])
    if base in STACK_BASES and not index and not seg:
        return (base, disp)
    return None


def access_bytes(inst: Instruction) -> int:
    """Bytes a memory access of ``inst`` touches: from its data register (not the
    address registers), else the width in its opcode name (``ADD32mi8``: 4)."""
    op, ops = inst.opcode, inst.operands
    mnem = inst.text.split(None, 1)[0] if inst.text else ""
    if op.startswith(("PUSH", "POP")):
        return 8
    if mnem.startswith(("movzb", "movsb")):
        return 1
    if mnem.startswith(("movzw", "movsw")):
        return 2
    if mnem.startswith("movslq"):
        return 4
    m = mem_span(ops)
    data = [
        reg for j, (kind, reg) in enumerate(ops)
        if kind == "Reg" and reg and not (m >= 0 and m <= j < m + 5)
    ]  # fmt: skip
    for reg in data:
        if reg[:3] in _VEC_BYTES:
            if _SCALAR.fullmatch(mnem):
                return 4 if mnem.endswith(("ss", "movd")) else 8
            return _VEC_BYTES[reg[:3]]
    for reg in data:
        if reg in GPR:
            return GPR[reg][1]
    if op.startswith("SETCC"):
        return 1
    widths = _SIZE_SUFFIX.findall(op)  # the operand size comes first (ADD32mi8)
    return int(widths[0]) // 8 if widths else 8


class _State:
    """Register values (None: unknown) and the page's written bytes (None: unknown)."""

    def __init__(self) -> None:
        self.regs: dict[str, int | None] = {r: INIT_VALUE for r in _GPR64}
        self.regs["RSP"] = INIT_RSP
        self.page: dict[int, int | None] = {}

    def get(self, reg: str) -> int | None:
        """Value of a register operand (zero- / low-extended), None if unknown."""
        if reg not in GPR:
            return None
        full, width = GPR[reg]
        v = self.regs[full]
        if v is None:
            return None
        if reg.endswith("H") and len(reg) == 2:
            return (v >> 8) & 0xFF
        return v & ((1 << (8 * width)) - 1)

    def set(self, reg: str, value: int | None) -> None:
        """Write a register operand: 64- and 32-bit writes set the whole register (a
        32-bit write zero-extends); narrower writes make it unknown."""
        if reg not in GPR:
            return
        full, width = GPR[reg]
        if value is None or width < 4:
            self.regs[full] = None
        else:
            self.regs[full] = value & ((1 << (8 * width)) - 1)

    def load(self, offset: int, size: int) -> int | None:
        out = 0
        for k in range(size):
            o = (offset + k) % PAGE
            b = self.page.get(o, _PATTERN[o % 8])
            if b is None:
                return None
            out |= b << (8 * k)
        return out

    def store(self, offset: int, size: int, value: int | None) -> None:
        for k in range(size):
            o = (offset + k) % PAGE
            self.page[o] = None if value is None else (value >> (8 * k)) & 0xFF


def _effective_address(inst: Instruction, state: _State) -> int | None:
    """base + index * scale + displacement of ``inst``'s memory operand (64-bit), or None
    (no memory operand, an unknown register, a symbol, RIP- or segment-relative)."""
    ops = inst.operands
    m = mem_span(ops)
    if m < 0:
        return None
    base, scale, index, disp, seg = (o[1] for o in ops[m : m + 5])
    if seg or base == "RIP" or ops[m + 3][0] != "Imm":
        return None
    try:
        total = int(disp)
    except ValueError:
        return None
    for reg, mult in ((base, 1), (index, int(scale) if scale.isdigit() else 1)):
        if reg:
            v = state.get(reg)
            if v is None:
                return None
            total += v * mult
    return total & MASK64


def _address(inst: Instruction, state: _State) -> int | None:
    """Page offset of ``inst``'s memory operand (all pages are one physical page)."""
    ea = _effective_address(inst, state)
    return None if ea is None else ea % PAGE


def _value_of(inst: Instruction, state: _State, loaded: int | None) -> tuple[bool, int | None]:
    """(handled, value) for the destination register of the instructions whose result
    is tracked; (False, None) for every other instruction."""
    op, ops = inst.opcode, inst.operands
    regs = [o[1] for o in ops if o[0] == "Reg" and o[1]]
    imms = [o[1] for o in ops if o[0] == "Imm"]
    if re.fullmatch(r"MOV(64|32)ri(32)?", op) and imms:
        return True, int(imms[-1]) & MASK64
    if re.fullmatch(r"MOV(64|32)rr(_REV)?", op) and len(regs) == 2:
        return True, state.get(regs[1])
    if re.fullmatch(r"MOV(64|32)rm|MOVZX32rm(8|16)|POP64r", op):
        return True, loaded
    if op.startswith("LEA"):
        return True, _effective_address(inst, state)
    m = re.fullmatch(r"(ADD|SUB)(64|32)ri(8|32)?", op)
    if m and len(regs) >= 2 and imms:
        v = state.get(regs[1])
        if v is None:
            return True, None
        d = int(imms[-1])
        return True, v + d if m.group(1) == "ADD" else v - d
    m = re.fullmatch(r"(INC|DEC)(64|32)r", op)
    if m and len(regs) >= 2:
        v = state.get(regs[1])
        return True, None if v is None else v + (1 if m.group(1) == "INC" else -1)
    if re.fullmatch(r"(XOR|SUB)(64|32)rr(_REV)?", op) and len(regs) == 3 and regs[1] == regs[2]:
        return True, 0
    return False, None


def bhive_memory_deps(
    insts: Sequence[Instruction],
    infos: Sequence[InstInfo],
    is_load: Sequence[bool],
    is_store: Sequence[bool],
) -> list[MemDep]:
    """Store -> load dependences of the repeated block under the measurement's initial
    state (module docstring): at most one per load, distance 0 or 1."""
    state = _State()
    # per byte of the page: (iteration, position) of the store that last wrote it
    writer: dict[int, tuple[int, int]] = {}
    store_span: dict[tuple[int, int], tuple[int, int]] = {}
    deps: dict[int, MemDep] = {}
    for it in range(ITERATIONS):
        for pos, (inst, info) in enumerate(zip(insts, infos, strict=True)):
            op = inst.opcode
            push, pop = op.startswith("PUSH"), op.startswith("POP")
            size = access_bytes(inst) if (is_load[pos] or is_store[pos] or push or pop) else 0
            addr: int | None = None
            if push or pop:
                rsp = state.get("RSP")
                if rsp is not None:
                    addr = ((rsp - 8) if push else rsp) % PAGE
            elif (is_load[pos] or is_store[pos]) and not op.startswith(NO_DATA):
                addr = _address(inst, state)
            loaded: int | None = None
            if addr is not None and (is_load[pos] or pop) and not push:
                loaded = state.load(addr, size)
                if it == ITERATIONS - 1:
                    sources = {writer.get((addr + k) % PAGE) for k in range(size)}
                    sources.discard(None)
                    if sources:
                        latest = max(sources)  # type: ignore[type-var]
                        s_off, s_size = store_span[latest]
                        covered = (
                            all(writer.get((addr + k) % PAGE) == latest for k in range(size))
                            and ((addr - s_off) % PAGE) + size <= s_size
                        )
                        dist = it - latest[0]
                        if dist <= 1 and (dist == 1 or latest[1] < pos):
                            slot = stack_slot(inst)
                            stack = (
                                slot is not None
                                and slot[0] == ((stack_slot(insts[latest[1]]) or ("",))[0])
                            )
                            deps[pos] = MemDep(pos, latest[1], dist, covered, covered and stack)
            handled, value = _value_of(inst, state, loaded)
            if push and addr is not None:
                src = [o[1] for o in inst.operands if o[0] == "Reg" and o[1]]
                imm = [o[1] for o in inst.operands if o[0] == "Imm"]
                v = state.get(src[0]) if src else (int(imm[0]) & MASK64 if imm else None)
                _store(state, writer, store_span, (it, pos), addr, 8, v)
            elif is_store[pos] and addr is not None:
                _store(state, writer, store_span, (it, pos), addr, size, _stored_value(inst, state))
            # register effects: tracked destinations get their value, every other
            # GPR written becomes unknown; PUSH / POP move RSP by 8
            written = {reg for reg, _slot, _clears in info.writes}
            dest = next((o[1] for o in inst.operands if o[0] == "Reg" and o[1]), None)
            for reg in written:
                if reg in GPR and GPR[reg][0] == "RSP" and (push or pop):
                    continue
                if handled and reg == dest:
                    state.set(reg, value)
                elif reg in GPR:
                    state.set(reg, None)
            if push or pop:
                rsp = state.get("RSP")
                state.regs["RSP"] = None if rsp is None else rsp + (-8 if push else 8)
    return sorted(deps.values(), key=lambda d: d.load)


def _stored_value(inst: Instruction, state: _State) -> int | None:
    """The value a plain MOV store writes (register or immediate), else None."""
    op = inst.opcode
    if not re.fullmatch(r"MOV(64|32|16|8)m[ri](32)?", op):
        return None
    last = inst.operands[-1]
    if last[0] == "Imm":
        return int(last[1]) & MASK64
    return state.get(last[1]) if last[0] == "Reg" else None


def _store(
    state: _State,
    writer: dict[int, tuple[int, int]],
    span: dict[tuple[int, int], tuple[int, int]],
    who: tuple[int, int],
    addr: int,
    size: int,
    value: int | None,
) -> None:
    state.store(addr, size, value)
    for k in range(size):
        writer[(addr + k) % PAGE] = who
    span[who] = (addr, size)
