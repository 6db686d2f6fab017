"""Batch disassembly of x86-64 basic blocks (hex machine code) with LLVM's llvm-mc.

One llvm-mc process decodes thousands of blocks: blocks are joined with a ``ud2``
separator, one block per input line, and the output is cut back into blocks at the
separators. A batch in which llvm-mc warns about any byte, or whose separators do not
line up with its blocks, is bisected until the bad block stands alone, so a block
whose bytes do not decode is reported as ``None`` and never shifts its neighbours.
(llvm-mc re-encodes what it prints, so printed encodings cannot be compared with the
input bytes.) With ``ud2_blocks=True`` a block that itself holds ``ud2`` is decoded
alone, without a separator, instead of failing.

With ``fold_prefixes=True``, a LOCK / REP / REPNE prefix that the disassembler returns
as an instruction of its own is folded into the next instruction's text (``lock
cmpxchgl %ecx, (%rdi)``): llvm-mca reads that line as one instruction, while a lone
``lock`` line is an instruction of its own to it (100 micro-ops on znver3).

With ``reassemble=True``, each block's text is assembled again (llvm-mc's assembler,
as llvm-mca reads it) and the instructions are the assembler's: llvm-mca never sees the
bytes, only the text, and the assembler picks its own encoding (``rcll $1, %eax`` from
``c1 d0 01`` becomes RCL32r1, an EVEX ``vpsubsw`` on xmm0-15 becomes the VEX form,
``_REV`` forms become the usual ones). ``Instruction.encoding`` is then the
assembler's bytes. A block whose text does not assemble keeps the decoded instructions.

Register operands are given by name (``("Reg", "RDI")``; ``""`` for no register),
for LLVM 14 (which prints register numbers) through the shipped register table of
:mod:`envs.x86.llvmdesc`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from harness.errors import UserError

SEPARATOR_HEX = "0f0b"  # ud2, decoded by llvm-mc as the TRAP opcode
_BATCH_BLOCKS = 2000
_HEX_RE = re.compile(r"^(?:[0-9a-fA-F]{2})+$")
_INST_RE = re.compile(r"<MCInst #\d+ (\w+)")
_OPERAND_RE = re.compile(r"<MCOperand (\w+):([-\w.]*)>")
_PREFIXES = {"LOCK_PREFIX": "lock", "REP_PREFIX": "rep", "REPNE_PREFIX": "repne"}


@dataclass(frozen=True)
class Instruction:
    """One decoded instruction.

    Attributes:
        text: AT&T assembly text, as llvm-mc prints it (llvm-mca reads it back).
        opcode: LLVM's MCInst opcode name, e.g. ``ADD32mr``.
        operands: MCInst operands in order, e.g. ``(("Reg", "51"), ("Imm", "4"))``.
    """

    text: str
    opcode: str
    operands: tuple[tuple[str, str], ...]
    encoding: str = ""  # hex bytes, when known (reassembled instructions)


def llvm_tool(name: str, version: int = 14) -> str:
    """Path of an LLVM tool (``llvm-mc-14``, else ``llvm-mc``); UserError if absent."""
    for candidate in (f"{name}-{version}", name):
        path = shutil.which(candidate)
        if path:
            return path
    raise UserError(
        f"{name} (LLVM {version}) not found on PATH: install Debian's llvm-{version} package"
    )


def check_hex(block_hex: str) -> str:
    """Return ``block_hex`` lowercased, or raise UserError if it is empty or not hex bytes."""
    text = block_hex.strip()
    if not text:
        raise UserError("empty block: a block needs at least one instruction's bytes")
    if not _HEX_RE.match(text):
        raise UserError(f"block {text[:40]!r} is not an even-length hex string")
    return text.lower()


def disassemble(
    blocks_hex: Sequence[str],
    version: int = 14,
    fold_prefixes: bool = False,
    ud2_blocks: bool = False,
    reassemble: bool = False,
) -> list[tuple[Instruction, ...] | None]:
    """Decode each block; ``None`` for a block whose bytes do not decode exactly.

    Args:
        blocks_hex: n blocks as hex strings (validated with :func:`check_hex`).
        version: LLVM version of the llvm-mc to use (14 or 22).
        fold_prefixes: fold LOCK/REP/REPNE prefix instructions into the next one.
        ud2_blocks: decode a block holding ``ud2`` alone (else it is None).
        reassemble: the instructions llvm-mca reads from the text (module docstring).
    Returns:
        n entries: the block's instructions in order, or None if undecodable.
    """
    clean = [check_hex(h) for h in blocks_hex]
    opts = (version, fold_prefixes, ud2_blocks)
    out: list[tuple[Instruction, ...] | None] = []
    for start in range(0, len(clean), _BATCH_BLOCKS):
        part = _decode_bisect(clean[start : start + _BATCH_BLOCKS], opts)
        out.extend(_reassemble_bisect(part, version) if reassemble else part)
    return out


_ENC_RE = re.compile(r"encoding: \[([^\]]*)\]")


def _reassemble_bisect(
    blocks: list[tuple[Instruction, ...] | None], version: int
) -> list[tuple[Instruction, ...] | None]:
    """``blocks`` with each one's instructions replaced by the assembler's reading of
    its text; a block whose text does not assemble line for line keeps its own."""
    todo = [i for i, b in enumerate(blocks) if b]
    if not todo:
        return blocks
    lines = [inst.text for i in todo for inst in blocks[i]]  # type: ignore[union-attr]
    got = _assemble(lines, version)
    out = list(blocks)
    if got is not None:
        k = 0
        for i in todo:
            n = len(blocks[i])  # type: ignore[arg-type]
            out[i] = tuple(got[k : k + n])
            k += n
        return out
    if len(todo) == 1:
        return out  # keeps the decoded instructions
    mid = len(todo) // 2
    for part in (todo[:mid], todo[mid:]):
        sub = _reassemble_bisect([blocks[i] for i in part], version)
        for i, b in zip(part, sub, strict=True):
            out[i] = b
    return out


def _assemble(lines: list[str], version: int) -> list[Instruction] | None:
    """The assembler's instruction for each AT&T line, or None unless every line gives
    exactly one instruction."""
    proc = subprocess.run(
        [llvm_tool("llvm-mc", version), "-show-encoding", "-show-inst", "-triple=x86_64"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or "error" in proc.stderr:
        return None
    insts = _parse(proc.stdout, version)
    return insts if len(insts) == len(lines) else None


def _decode_bisect(
    blocks: list[str], opts: tuple[int, bool, bool]
) -> list[tuple[Instruction, ...] | None]:
    if not blocks:
        return []
    decoded = _decode_batch(blocks, opts)
    if decoded is not None:
        return decoded
    if len(blocks) == 1:
        if opts[2] and SEPARATOR_HEX in blocks[0]:
            return [_decode_alone(blocks[0], opts)]
        return [None]
    mid = len(blocks) // 2
    return _decode_bisect(blocks[:mid], opts) + _decode_bisect(blocks[mid:], opts)


def _run_mc(text_in: str, version: int) -> str | None:
    proc = subprocess.run(
        [llvm_tool("llvm-mc", version), "--disassemble", "-triple=x86_64", "-show-inst"],
        input=text_in,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or "invalid instruction encoding" in proc.stderr:
        return None
    return proc.stdout


def _hex_line(block: str) -> str:
    return " ".join("0x" + block[i : i + 2] for i in range(0, len(block), 2))


def _decode_batch(
    blocks: list[str], opts: tuple[int, bool, bool]
) -> list[tuple[Instruction, ...] | None] | None:
    """Decode a batch in one llvm-mc call; None if any block fails to match its bytes."""
    out = _run_mc("\n".join(_hex_line(b + SEPARATOR_HEX) for b in blocks), opts[0])
    if out is None:
        return None
    result: list[tuple[Instruction, ...] | None] = []
    current: list[Instruction] = []
    for inst in _parse(out, opts[0], opts[1]):
        if inst.opcode == "TRAP":
            result.append(tuple(current) if current else None)
            current = []
        else:
            current.append(inst)
    if current or len(result) != len(blocks):
        return None  # a block holding ud2 itself, or bytes eaten: bisect
    return result


def _decode_alone(block: str, opts: tuple[int, bool, bool]) -> tuple[Instruction, ...] | None:
    """Decode one block (which may hold ``ud2``) with no separator."""
    out = _run_mc(_hex_line(block), opts[0])
    if out is None:
        return None
    insts = tuple(_parse(out, opts[0], opts[1]))
    return insts or None


def _parse(asm: str, version: int = 14, fold_prefixes: bool = False) -> list[Instruction]:
    """Parse llvm-mc's ``-show-inst`` output into instructions (register operands by name)."""
    insts: list[Instruction] = []
    text = opcode = None
    operands: list[tuple[str, str]] = []
    names = _reg_names(version)
    prefix = ""
    encoding = ""

    def flush() -> None:
        nonlocal prefix
        if text is None or opcode is None:
            return
        ops = tuple(
            (kind, names.get(value, value) if kind == "Reg" else value) for kind, value in operands
        )
        if fold_prefixes and opcode in _PREFIXES:
            prefix += _PREFIXES[opcode] + " "
            return
        insts.append(Instruction(" ".join((prefix + text).split()), opcode, ops, encoding))
        prefix = ""

    for line in asm.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(".text"):
            continue
        if not stripped.startswith("#"):
            flush()
            operands = []
            code, _, comment = line.partition("#")
            text = code.strip().replace("\t", " ")
            enc = _ENC_RE.search(comment)
            encoding = "".join(b.strip()[2:] for b in enc.group(1).split(",")) if enc else ""
            m = _INST_RE.search(comment)
            opcode = m.group(1) if m else None
            operands = _OPERAND_RE.findall(comment)
            continue
        m = _INST_RE.search(stripped)
        if m:
            opcode = m.group(1)
        operands.extend(_OPERAND_RE.findall(stripped))
    flush()
    if prefix:  # a prefix with nothing after it stays an instruction of its own
        insts.append(Instruction(prefix.strip(), "PREFIX", ()))
    return insts


def _reg_names(version: int) -> dict[str, str]:
    """Register number (as llvm-mc prints it) -> name; "" for no register."""
    out = {"0": "", "": ""}
    if version < 15:  # LLVM 14 prints numbers; later versions print names
        from envs.x86.llvmdesc import load_desc

        try:
            out.update({str(k): v for k, v in load_desc(version).reg_names.items()})
        except UserError:
            pass  # no shipped description yet (while it is being built): numbers stay
    return out


def explain_undecodable(block_hex: str, version: int = 14) -> str:
    """One line saying why ``block_hex`` does not decode as x86-64 code."""
    h = check_hex(block_hex)

    def decode(triple: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [llvm_tool("llvm-mc", version), "--disassemble", f"-triple={triple}"],
            input=_hex_line(h),
            capture_output=True,
            text=True,
            check=False,
        )

    proc = decode("x86_64")
    m = re.search(r":1:(\d+): warning: invalid instruction encoding", proc.stderr)
    offset = (int(m.group(1)) - 1) // 5 if m else None  # "0xNN " is 5 characters per byte
    where = f" at byte {offset}" if offset is not None else ""
    i386 = decode("i386")
    if i386.returncode == 0 and "invalid instruction encoding" not in i386.stderr:
        lines = [
            ln.strip() for ln in i386.stdout.splitlines() if ln.strip() and "." != ln.strip()[0]
        ]
        return (
            f"block {h[:40]!r} is 32-bit x86 code, not valid in 64-bit mode{where} "
            f"(as 32-bit code: {'; '.join(lines)[:120]})"
        )
    return f"block {h[:40]!r} does not decode as x86-64{where}"
