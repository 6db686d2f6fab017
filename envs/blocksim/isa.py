"""x86-64 operand semantics for blocksim: which registers an instruction reads and writes.

llvm-mc's ``-show-inst`` gives each instruction's LLVM opcode and its MCInst operand
list, but not which operands are definitions, nor the implicit registers (EFLAGS, RSP,
RAX/RDX, CL). This module recovers them from the operand list and the opcode name with
a small rule set that follows LLVM's X86 instruction definitions:

- MCInst operands list the explicit definitions first (tied sources appear again as
  separate operands), then the uses; a memory reference is 5 operands
  (base reg, scale imm, index reg, displacement, segment reg).
- Instructions that define no explicit operand: compares/tests, stores and other
  memory-destination forms, pushes, branches, one-operand MUL/DIV (implicit RAX/RDX).
- Implicit registers come from opcode-name rules (:data:`_FLAG_WRITERS`, ...).

Registers are folded into *families* (``rax``/``eax``/``ax``/``al``/``ah`` are one
family; ``xmm3``/``ymm3``/``zmm3`` are one), the unit of dependency tracking. Writes to
8/16-bit GPRs are *partial*: on CPUs whose LLVM model renames GPRs as 64-bit registers
(znver2/3) they carry a false dependency on the family's previous value.

Register numbers are LLVM 14's X86 register enum; the map from number to name is read
from llvm-mc itself (:func:`register_names`), never hard-coded.
"""

from __future__ import annotations

import functools
import re
import subprocess
from dataclasses import dataclass

from envs.x86.disasm import Instruction, llvm_tool

# --- register families -------------------------------------------------------------

_GPR64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi"] + [f"r{i}" for i in range(8, 16)]
_GPR32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"] + [f"r{i}d" for i in range(8, 16)]
_GPR16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"] + [f"r{i}w" for i in range(8, 16)]
_GPR8 = ["al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil"] + [f"r{i}b" for i in range(8, 16)]
_GPR8H = {"ah": 0, "ch": 1, "dh": 2, "bh": 3}

FAM_VEC = 16  # xmm/ymm/zmm N -> 16 + N
FAM_MASK = 48  # k0..k7
FAM_MMX = 56  # mm0..mm7
FAM_X87 = 64  # st(0)..st(7)
FAM_FLAGS = 72
N_FAMILIES = 73
FAM_RAX, FAM_RCX, FAM_RDX, FAM_RSP, FAM_RBP, FAM_RSI, FAM_RDI = 0, 1, 2, 4, 5, 6, 7


@dataclass(frozen=True)
class RegInfo:
    """A register: name, dependency family (-1: not tracked, e.g. rip), partial write."""

    name: str
    family: int
    partial: bool  # a write leaves part of the family unchanged (8/16-bit GPRs)


def reg_info(name: str) -> RegInfo:
    """Classify a register by its AT&T name (without ``%``); family -1 if untracked."""
    n = name.lower()
    if n in _GPR64:
        return RegInfo(n, _GPR64.index(n), False)
    if n in _GPR32:
        return RegInfo(n, _GPR32.index(n), False)
    if n in _GPR16:
        return RegInfo(n, _GPR16.index(n), True)
    if n in _GPR8:
        return RegInfo(n, _GPR8.index(n), True)
    if n in _GPR8H:
        return RegInfo(n, _GPR8H[n], True)
    m = re.fullmatch(r"[xyz]mm(\d+)", n)
    if m:
        return RegInfo(n, FAM_VEC + int(m.group(1)), False)
    m = re.fullmatch(r"k(\d)", n)
    if m:
        return RegInfo(n, FAM_MASK + int(m.group(1)), False)
    m = re.fullmatch(r"mm(\d)", n)
    if m:
        return RegInfo(n, FAM_MMX + int(m.group(1)), False)
    m = re.fullmatch(r"st\((\d)\)", n)
    if m:
        return RegInfo(n, FAM_X87 + int(m.group(1)), False)
    return RegInfo(n, -1, False)


def _probe_lines() -> list[tuple[str, str]]:
    """(register name, an instruction whose *last* Reg operand is that register)."""
    lines: list[tuple[str, str]] = []
    lines += [(r, f"movq %{r}, %rax") for r in _GPR64]
    lines += [(r, f"movl %{r}, %eax") for r in _GPR32]
    lines += [(r, f"movw %{r}, %ax") for r in _GPR16]
    lines += [(r, f"movb %{r}, %al") for r in _GPR8 + list(_GPR8H)]
    lines += [(f"xmm{i}", f"vmovaps %xmm{i}, %xmm0") for i in range(32)]
    lines += [(f"ymm{i}", f"vmovaps %ymm{i}, %ymm0") for i in range(32)]
    lines += [(f"zmm{i}", f"vmovaps %zmm{i}, %zmm0") for i in range(32)]
    lines += [(f"k{i}", f"kmovw %k{i}, %k0") for i in range(8)]
    lines += [(f"mm{i}", f"movq %mm{i}, %mm0") for i in range(8)]
    lines += [(f"st({i})", f"fld %st({i})") for i in range(8)]
    lines += [(s, f"movw %{s}, %ax") for s in ("cs", "ds", "es", "fs", "gs", "ss")]
    return lines


@functools.lru_cache(maxsize=1)
def register_names() -> dict[int, str]:
    """LLVM 14 X86 register number -> AT&T name, read from ``llvm-mc -show-inst``.

    ``rip`` is added from ``leaq (%rip), %rax``. Unknown numbers (e.g. control
    registers) are absent; :func:`reg_family` treats them as untracked.
    """
    probes = _probe_lines()
    text = "\n".join(line for _, line in probes) + "\nleaq (%rip), %rax\n"
    proc = subprocess.run(
        [llvm_tool("llvm-mc"), "-show-inst", "-mattr=+avx512f,+avx512vl,+avx512bw"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    )
    blocks = re.split(r"\n\t(?=\S)", proc.stdout)
    regs_per_inst = [
        [int(x) for x in re.findall(r"<MCOperand Reg:(\d+)>", b)] for b in blocks if "<MCInst" in b
    ]
    names: dict[int, str] = {}
    for (name, _), regs in zip(probes, regs_per_inst, strict=False):
        names[regs[-1]] = name
    names[regs_per_inst[len(probes)][1]] = "rip"
    return names


@functools.lru_cache(maxsize=4096)
def reg_family(num: int) -> RegInfo:
    """RegInfo of LLVM register number ``num`` (0 = no register -> family -1)."""
    if num == 0:
        return RegInfo("", -1, False)
    return reg_info(register_names().get(num, f"reg{num}"))


# --- opcode rules ------------------------------------------------------------------

_W = r"(?:8|16|32|64)"
_FLAG_WRITERS = re.compile(
    r"^(?:LOCK_)?(?:ADD|ADC|SUB|SBB|AND|OR|XOR|CMP|TEST|INC|DEC|NEG|SHL|SHR|SAR|ROL|ROR|RCL|RCR"
    r"|SHLD|SHRD|IMUL|MUL|DIV|IDIV|BT|BTS|BTR|BTC|BSF|BSR|LZCNT|TZCNT|POPCNT|ANDN|BLSI|BLSR"
    r"|BLSMSK|BEXTR|BEXTRI|BZHI|CMPXCHG|XADD|ADCX|ADOX|SAR|NEG)"
    + _W
    + r"|^V?U?COMIS[SD]|^VU?COMIS|^V?PTEST|^VTESTP|^(?:STC|CLC|CMC|SAHF|POPF|CMPS|SCAS)"
    r"|^(?:VUCOMI|VCOMI)"
)
_FLAG_READERS = re.compile(
    r"^(?:ADC|SBB|RCL|RCR|ADCX|ADOX)" + _W + r"|^CMOV|^SETCC|^JCC|^LAHF|^PUSHF|^CMC|^SALC"
)
_NO_EXPLICIT_DEFS = re.compile(
    r"^(?:CMP|TEST|BT)" + _W + r"|^V?U?COMIS|^VU?COMIS|^V?PTEST|^VTESTP|^PUSH|^JCC|^JMP|^CALL"
    r"|^RET|^NOOP|^NOP|^PREFETCH|^CLFLUSH|^[LMS]FENCE|^TRAP|^INT|^UD|^VZERO|^EMMS|^PAUSE"
    r"|^(?:I?MUL|I?DIV)" + _W + r"[rm]$|^LD_F|^ST_F|^FCOM|^UCOM_F|^COM_F|^LDMXCSR|^VLDMXCSR"
    r"|^FLDCW|^ST_FP"
)
_STACK = re.compile(r"^(?:PUSH|POP|CALL|RET|LEAVE)")
_SHIFT_CL = re.compile(r"CL$")
_LEA = re.compile(r"^LEA(?:16|32|64|64_32)r$")
_CMOV_SET = re.compile(r"^(?:CMOV|SETCC)")

# Same-register forms whose register reads are ignored by llvm-mca when the two source
# registers are equal (zero idioms and dependency-breaking idioms of LLVM's X86 models).
DEP_BREAKING = frozenset(
    f"{base}{suffix}"
    for base in (
        "XOR32rr",
        "XOR64rr",
        "SUB32rr",
        "SUB64rr",
        "SBB32rr",
        "SBB64rr",
        "XORPSrr",
        "XORPDrr",
        "ANDNPSrr",
        "ANDNPDrr",
        "PXORrr",
        "PANDNrr",
        "PSUBBrr",
        "PSUBWrr",
        "PSUBDrr",
        "PSUBQrr",
        "PSUBSBrr",
        "PSUBSWrr",
        "PSUBUSBrr",
        "PSUBUSWrr",
        "PCMPGTBrr",
        "PCMPGTWrr",
        "PCMPGTDrr",
        "PCMPGTQrr",
        "PCMPEQBrr",
        "PCMPEQWrr",
        "PCMPEQDrr",
        "PCMPEQQrr",
        "MMX_PXORrr",
        "MMX_PCMPEQBrr",
        "MMX_PCMPEQWrr",
        "MMX_PCMPEQDrr",
        "VXORPSrr",
        "VXORPDrr",
        "VANDNPSrr",
        "VANDNPDrr",
        "VPXORrr",
        "VPANDNrr",
        "VPSUBBrr",
        "VPSUBWrr",
        "VPSUBDrr",
        "VPSUBQrr",
        "VPSUBSBrr",
        "VPSUBSWrr",
        "VPSUBUSBrr",
        "VPSUBUSWrr",
        "VPCMPGTBrr",
        "VPCMPGTWrr",
        "VPCMPGTDrr",
        "VPCMPGTQrr",
        "VPCMPEQBrr",
        "VPCMPEQWrr",
        "VPCMPEQDrr",
        "VPCMPEQQrr",
        "VXORPSYrr",
        "VXORPDYrr",
        "VANDNPSYrr",
        "VANDNPDYrr",
        "VPXORYrr",
        "VPANDNYrr",
        "VPSUBBYrr",
        "VPSUBWYrr",
        "VPSUBDYrr",
        "VPSUBQYrr",
        "VPSUBSBYrr",
        "VPSUBSWYrr",
        "VPSUBUSBYrr",
        "VPSUBUSWYrr",
        "VPCMPGTBYrr",
        "VPCMPGTWYrr",
        "VPCMPGTDYrr",
        "VPCMPGTQYrr",
        "VPCMPEQBYrr",
        "VPCMPEQWYrr",
        "VPCMPEQDYrr",
        "VPCMPEQQYrr",
        "CMP8rr",
        "CMP16rr",
        "CMP32rr",
        "CMP64rr",
    )
    for suffix in ("", "_REV")
)
# CMP same-register is dependency-breaking only in the znver3 model.
CMP_SAME = frozenset(f"CMP{w}rr{s}" for w in (8, 16, 32, 64) for s in ("", "_REV"))


@dataclass(frozen=True)
class InstInfo:
    """Dependency view of one instruction.

    Attributes:
        key: table key: the LLVM opcode, plus a ``#variant`` suffix where LLVM's
            scheduling models resolve the opcode differently by operands
            (``#same``: equal source registers; ``#lea_bi``: LEA address shape;
            ``#cc``: CMOVcc/SETcc on conditions A/BE).
        reads: (family, advance) per register read; ``advance`` is True for explicit
            register sources, to which the opcode's ReadAdvance applies, and False for
            address registers of a memory operand and implicit EFLAGS/RSP reads.
        writes: (family, partial) per register written.
        has_mem: the instruction has a memory operand (LEA excluded).
        mem_first: the memory operand comes first (store / read-modify-write form).
    """

    key: str
    reads: tuple[tuple[int, bool], ...]
    writes: tuple[tuple[int, bool], ...]
    has_mem: bool
    mem_first: bool


def _mem_span(ops: tuple[tuple[str, str], ...]) -> int:
    """Index of a 5-operand memory reference in ``ops``, or -1."""
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


def analyze(inst: Instruction, cmp_same_breaks: bool = True) -> InstInfo:
    """Registers read/written by ``inst`` and its table key (see :class:`InstInfo`)."""
    op = inst.opcode
    ops = inst.operands
    text_ops = inst.text.split(None, 1)[1] if " " in inst.text else ""
    mem = _mem_span(ops) if ("(" in text_ops or _looks_absolute(text_ops)) else -1
    is_lea = bool(_LEA.match(op))
    mem_idx = set(range(mem, mem + 5)) if mem >= 0 else set()

    reg_pos = [i for i, (kind, _) in enumerate(ops) if kind == "Reg" and i not in mem_idx]
    n_defs = 0
    if not _NO_EXPLICIT_DEFS.match(op) and not (mem == 0 and not is_lea):
        if reg_pos and reg_pos[0] == 0:
            n_defs = 2 if op.startswith(("XCHG", "XADD")) and len(reg_pos) >= 3 else 1
    def_pos = reg_pos[:n_defs]
    use_pos = reg_pos[n_defs:]

    reads: list[tuple[int, bool]] = []
    writes: list[tuple[int, bool]] = []
    for i in def_pos:
        ri = reg_family(int(ops[i][1]))
        if ri.family >= 0:
            writes.append((ri.family, ri.partial))
    use_regs = [int(ops[i][1]) for i in use_pos]
    for num in use_regs:
        ri = reg_family(num)
        if ri.family >= 0:
            reads.append((ri.family, True))
    if mem >= 0:
        for j in (mem, mem + 2):  # base, index: address reads
            ri = reg_family(int(ops[j][1]))
            if ri.family >= 0:
                reads.append((ri.family, False))

    # Variant key.
    key = op
    variant_regs = [r for r in use_regs if r != 0]
    if op in DEP_BREAKING and len(variant_regs) >= 2 and len(set(variant_regs[:2])) == 1:
        if cmp_same_breaks or op not in CMP_SAME:
            key = op + "#same"
            # Dependency-breaking: register inputs are ignored (SBB still reads CF).
            reads = [r for r in reads if not r[1]]
    elif is_lea and mem >= 0:
        has_base = ops[mem][1] != "0" and reg_family(int(ops[mem][1])).name != "rip"
        has_index = ops[mem + 2][1] != "0"
        has_disp = ops[mem + 3] != ("Imm", "0")
        scaled = ops[mem + 1][1] != "1"
        shape = ("b" if has_base else "") + ("i" if has_index else "")
        shape += ("d" if has_disp else "") + ("s" if scaled else "")
        key = f"{op}#lea_{shape or 'd'}"
    elif _CMOV_SET.match(op) and ops and ops[-1][0] == "Imm" and ops[-1][1] in ("6", "7"):
        key = op + "#cc"

    # Implicit registers.
    if _FLAG_READERS.match(op) and not key.endswith("#same") or op.startswith("SBB"):
        # Implicit EFLAGS reads carry no ReadAdvance in LLVM's X86 models.
        reads.append((FAM_FLAGS, False))
    if _FLAG_WRITERS.match(op):
        writes.append((FAM_FLAGS, False))
    if _STACK.match(op):
        reads.append((FAM_RSP, False))
        writes.append((FAM_RSP, False))
        if op.startswith("LEAVE"):
            reads.append((FAM_RBP, False))
            writes.append((FAM_RBP, False))
    if _SHIFT_CL.search(op) and re.match(r"^(?:SH[LR]|SAR|RO[LR]|RC[LR])", op):
        reads.append((FAM_RCX, True))
    m = re.match(r"^(I?MUL|I?DIV)(8|16|32|64)[rm]$", op)
    if m:
        reads.append((FAM_RAX, True))
        writes.append((FAM_RAX, m.group(2) in ("8", "16")))
        if m.group(2) != "8":
            writes.append((FAM_RDX, m.group(2) == "16"))
            if m.group(1).endswith("DIV"):
                reads.append((FAM_RDX, True))
    if op in ("CDQ", "CQO", "CWD"):
        reads.append((FAM_RAX, True))
        writes.append((FAM_RDX, op == "CWD"))
    if op in ("CDQE", "CWDE", "CBW"):
        reads.append((FAM_RAX, True))
        writes.append((FAM_RAX, op == "CBW"))
    if op.startswith("MULX"):
        reads.append((FAM_RDX, True))
    if op.startswith("CMPXCHG"):
        reads.append((FAM_RAX, True))
        writes.append((FAM_RAX, False))

    return InstInfo(
        key=key,
        reads=tuple(dict.fromkeys(reads)),
        writes=tuple(dict.fromkeys(writes)),
        has_mem=mem >= 0 and not is_lea,
        mem_first=mem == 0,
    )


def _looks_absolute(text_ops: str) -> bool:
    """True if an AT&T operand is a bare address (``0x10`` / ``-8``, no ``$`` or ``%``)."""
    for part in text_ops.split(","):
        p = part.strip()
        if p and p[0] not in "$%" and re.fullmatch(r"-?(?:0x[0-9a-f]+|\d+)", p):
            return True
    return False
