"""Which registers an x86 instruction reads and writes, as llvm-mca's InstrBuilder sees it.

Everything comes from LLVM's own instruction descriptions, shipped per LLVM version
(:mod:`envs.x86.llvmdesc`), applied to the decoded MCInst exactly as llvm-mca does:

- writes: the first ``n_defs`` MCInst operands (explicit definitions), then the
  opcode's implicit definitions (``EFLAGS``, ``RSP``, ``EDI``/``ESI`` of string
  instructions, ``XMM0`` of PCMPxSTRM, ...). Write *slot* j is the j-th of these, the
  index of its latency in the table;
- reads: every register operand from ``n_defs`` on (tied sources, address registers
  of memory operands, ...) with use index = operand index - ``n_defs``, then the
  implicit uses (``EFLAGS``, ``RSP``, ``RDX`` of MULX, ``AL``/``EBX`` of XLAT,
  ``EAX``/``EDX`` of PCMPESTRM, ``DF``, ``MXCSR``, ...) with use indices after the
  explicit ones. The use index selects the read's ReadAdvance in the table.

The table key is the LLVM opcode, plus a variant suffix where some CPU's scheduling
model resolves the opcode differently by its operands (the shape is recorded per
opcode in the shipped description):

- ``#same``: the first two register sources are the same register (zero idioms and
  dependency-breaking idioms: ``xorl %eax, %eax``, ``vpcmpeqd %xmm1, %xmm1, %xmm2``,
  ``cmpl %eax, %eax`` on znver3 ...); which of its reads are independent is per CPU,
  in the table;
- ``#lea_<shape>``: LEA by address shape (base ``b``, index ``i``, displacement
  ``d``, scale ``s``), e.g. ``LEA64r#lea_bis``;
- ``#cc``: CMOVcc / SETcc with condition A or BE (two flags read on Intel models);
- ``#imm0``: ADC / SBB with a zero 8-bit immediate (Haswell).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from envs.x86.disasm import Instruction
from envs.x86.llvmdesc import LLVMDesc

# llvm-mca from LLVM 22 on "pretends to have a stack engine" (X86InstrPostProcess::
# useStackEngine, llvm-project PR 153348): the RSP write of every instruction whose
# mnemonic is PUSH or POP (X86::isPUSH / X86::isPOP; not PUSHF/POPF, PUSHA/POPA) is
# dropped, so PUSH/POP chains carry no RSP dependence; their RSP read stays. The 16-bit
# forms (POP16r, PUSH16i8, ...) define ESP, not RSP: llvm-mca 22's search for the RSP
# write finds none and its (release-build) erase removes the last write, ESP, instead.
_STACK_ENGINE = re.compile(
    r"(PUSH|POP)(16|32|64)(r|rmr|rmm|i8|i|i32)$|(PUSH|POP)[CDEFGS]S(16|32|64)$"
)
STACK_ENGINE_LLVM = 22


def stack_engine_drops_rsp(opcode: str, version: int, stack_engine: bool = False) -> bool:
    """Whether ``opcode``'s RSP write is dropped: by llvm-mca of LLVM ``version``, or for
    any version when ``stack_engine`` (blocksim's opt-in stack engine for LLVM 14 tables,
    which chain every PUSH / POP through RSP where real cores rename it away)."""
    drops = stack_engine or version >= STACK_ENGINE_LLVM
    return drops and _STACK_ENGINE.match(opcode) is not None


@dataclass(frozen=True)
class InstInfo:
    """Dependency view of one instruction.

    Attributes:
        key: table key (LLVM opcode, plus a ``#variant`` suffix, see module docstring).
        reads: (register name, use index) per register read, in llvm-mca's order.
        writes: (register name, write slot, clears super-registers) per register
            written, in llvm-mca's order.
        has_mem: the instruction has a memory operand (LEA excluded).
        mem_first: the memory operand comes first (store / read-modify-write form).
        known: the opcode is in LLVM's description (False: no dependencies known).
    """

    key: str
    reads: tuple[tuple[str, int], ...]
    writes: tuple[tuple[str, int, bool], ...]
    has_mem: bool
    mem_first: bool
    known: bool = True


def mem_span(ops: tuple[tuple[str, str], ...]) -> int:
    """Index of a 5-operand memory reference (base, scale, index, disp, segment), or -1."""
    for i in range(len(ops) - 4):
        if (
            ops[i][0] == "Reg"
            and ops[i + 1][0] == "Imm"
            and ops[i + 1][1] in ("1", "2", "4", "8")
            and ops[i + 2][0] == "Reg"
            and ops[i + 3][0] in ("Imm", "Expr")
            and ops[i + 4][0] == "Reg"
        ):
            return i
    return -1


def variant_suffix(kind: str, ops: tuple[tuple[str, str], ...], n_defs: int, mem: int) -> str:
    """The key suffix of an instruction whose opcode's variant shape is ``kind``."""
    if kind == "same":
        srcs = [v for i, (k, v) in enumerate(ops) if i >= n_defs and k == "Reg" and v]
        return "#same" if len(srcs) >= 2 and srcs[0] == srcs[1] else ""
    if kind == "lea" and mem >= 0:
        base, scale, index, disp = ops[mem][1], ops[mem + 1][1], ops[mem + 2][1], ops[mem + 3]
        shape = "b" if base and base != "RIP" else ""
        shape += "i" if index else ""
        shape += "d" if disp != ("Imm", "0") else ""
        shape += "s" if scale != "1" else ""
        return f"#lea_{shape or 'd'}"
    if kind == "cc" and ops and ops[-1][0] == "Imm" and ops[-1][1] in ("6", "7"):
        return "#cc"  # condition codes BE / A
    if kind == "imm0" and ops and ops[-1] == ("Imm", "0"):
        return "#imm0"
    return ""


def analyze(inst: Instruction, desc: LLVMDesc, stack_engine: bool = False) -> InstInfo:
    """Registers read/written by ``inst`` and its table key (see :class:`InstInfo`);
    ``stack_engine``: drop PUSH / POP's RSP write whatever the LLVM version."""
    ops = inst.operands
    text_ops = inst.text.split(None, 1)[1] if " " in inst.text else ""
    mem = mem_span(ops) if "(" in text_ops or not text_ops.startswith(("$", "%")) else -1
    is_lea = inst.opcode.startswith("LEA")
    od = desc.opcode(inst.opcode)
    if od is None:
        return InstInfo(inst.opcode, (), (), mem >= 0 and not is_lea, mem == 0, known=False)
    writes: list[tuple[str, int, bool]] = []
    for i in range(min(od.n_defs, len(ops))):
        kind, reg = ops[i]
        if kind == "Reg" and reg:
            writes.append((reg, i, od.clears[i] if i < len(od.clears) else False))
    no_rsp = stack_engine_drops_rsp(inst.opcode, desc.version, stack_engine)
    for j, reg in enumerate(od.defs):
        slot = od.n_defs + j
        if no_rsp and reg in ("RSP", "ESP"):
            continue
        writes.append((reg, slot, od.clears[slot] if slot < len(od.clears) else False))
    reads: list[tuple[str, int]] = []
    for i in range(od.n_defs, min(od.n_ops, len(ops))):
        kind, reg = ops[i]
        if kind == "Reg" and reg:
            reads.append((reg, i - od.n_defs))
    n_explicit = od.n_ops - od.n_defs
    for j, reg in enumerate(od.uses):
        reads.append((reg, n_explicit + j))
    key = inst.opcode + (variant_suffix(od.variant, ops, od.n_defs, mem) if od.variant else "")
    return InstInfo(
        key=key,
        reads=tuple(reads),
        writes=tuple(writes),
        has_mem=mem >= 0 and not is_lea,
        mem_first=mem == 0,
    )
