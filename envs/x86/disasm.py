"""Batch disassembly of x86-64 basic blocks (hex machine code) with LLVM's llvm-mc.

One llvm-mc process decodes thousands of blocks: blocks are joined with a ``ud2``
separator, one block per input line, and the output is cut back into blocks at the
separators. A batch in which llvm-mc warns about any byte, or whose separators do not
line up with its blocks, is bisected until the bad block stands alone, so a block
whose bytes do not decode is reported as ``None`` and never shifts its neighbours.
(llvm-mc re-encodes what it prints, so printed encodings cannot be compared with the
input bytes.)
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
_OPERAND_RE = re.compile(r"<MCOperand (\w+):([-\w.]+)>")


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


def disassemble(blocks_hex: Sequence[str]) -> list[tuple[Instruction, ...] | None]:
    """Decode each block; ``None`` for a block whose bytes do not decode exactly.

    Args:
        blocks_hex: n blocks as hex strings (validated with :func:`check_hex`).
    Returns:
        n entries: the block's instructions in order, or None if undecodable.
    """
    clean = [check_hex(h) for h in blocks_hex]
    out: list[tuple[Instruction, ...] | None] = []
    for start in range(0, len(clean), _BATCH_BLOCKS):
        out.extend(_decode_bisect(clean[start : start + _BATCH_BLOCKS]))
    return out


def _decode_bisect(blocks: list[str]) -> list[tuple[Instruction, ...] | None]:
    if not blocks:
        return []
    decoded = _decode_batch(blocks)
    if decoded is not None:
        return decoded
    if len(blocks) == 1:
        return [None]
    mid = len(blocks) // 2
    return _decode_bisect(blocks[:mid]) + _decode_bisect(blocks[mid:])


def _decode_batch(blocks: list[str]) -> list[tuple[Instruction, ...] | None] | None:
    """Decode a batch in one llvm-mc call; None if any block fails to match its bytes."""
    text_in = "\n".join(
        " ".join("0x" + line[i : i + 2] for i in range(0, len(line), 2))
        for line in (b + SEPARATOR_HEX for b in blocks)
    )
    proc = subprocess.run(
        [llvm_tool("llvm-mc"), "--disassemble", "-triple=x86_64", "-show-inst"],
        input=text_in,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or "invalid instruction encoding" in proc.stderr:
        return None
    result: list[tuple[Instruction, ...] | None] = []
    current: list[Instruction] = []
    for inst in _parse(proc.stdout):
        if inst.opcode == "TRAP":
            result.append(tuple(current) if current else None)
            current = []
        else:
            current.append(inst)
    if current or len(result) != len(blocks):
        return None  # a block holding ud2 itself, or bytes eaten: bisect
    return result


def _parse(asm: str) -> list[Instruction]:
    """Parse llvm-mc's ``-show-inst`` output into instructions."""
    insts: list[Instruction] = []
    text = opcode = None
    operands: list[tuple[str, str]] = []

    def flush() -> None:
        if text is not None and opcode is not None:
            insts.append(Instruction(text, opcode, tuple(operands)))

    for line in asm.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(".text"):
            continue
        if not stripped.startswith("#"):
            flush()
            operands = []
            code, _, comment = line.partition("#")
            text = code.strip().replace("\t", " ")
            m = _INST_RE.search(comment)
            opcode = m.group(1) if m else None
            operands = _OPERAND_RE.findall(comment)
            continue
        m = _INST_RE.search(stripped)
        if m:
            opcode = m.group(1)
        operands.extend(_OPERAND_RE.findall(stripped))
    flush()
    return insts
