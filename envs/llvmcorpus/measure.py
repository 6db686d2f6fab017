"""Facts about one bitcode module: verifies?, functions and instructions before and after
``opt -Oz``, a structural hash, and ``.text`` bytes at -Oz.

One ``opt`` process does the verification, both counts, the hash and the -Oz pipeline
(the printers write to stderr, in pipeline order; the structural hash line separates
the before and after counts); one ``llc`` process makes the object, whose ``.text`` is
read here. Debian's LLVM is built without statistics, so ``-stats``/``instcount``
print nothing; ``print<func-properties>`` gives the counts instead.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from envs.llvmcorpus.elf import text_bytes

# The -Oz size reference, the same pipeline and llc flags as the inlining task's host
# (envs/inlining/host.py): clang's default on Debian is PIE, so code is position
# independent.
OPT_PIPELINE = "default<Oz>"
LLC_FLAGS: tuple[str, ...] = ("-O2", "-relocation-model=pic")
TIMEOUT_S = 600.0

_PASSES = (
    f"verify,print<func-properties>,print<structural-hash><detailed>,{OPT_PIPELINE},"
    "print<func-properties>"
)
_COUNT = re.compile(r"^TotalInstructionCount: (\d+)$", re.M)
_FUNC = re.compile(r"^Printing analysis results of CFA for function ", re.M)
_HASH = re.compile(r"^Module Hash: ([0-9a-f]+)$", re.M)


@dataclass(frozen=True)
class ModuleFacts:
    """Measured facts of one module (counts over defined functions only).

    Attributes:
        functions / instructions: defined functions and their IR instructions, as clang
            emitted them (what ``opt -Oz`` starts from).
        oz_functions / oz_instructions: the same after ``opt -passes=default<Oz>``.
        oz_text_bytes: bytes of ``.text`` in the object ``llc -O2`` makes from that.
        structural_hash: LLVM's detailed structural hash of the input module (equal
            for modules that differ only in names): finds copies across packages.
    """

    functions: int
    instructions: int
    oz_functions: int
    oz_instructions: int
    oz_text_bytes: int
    structural_hash: str


class MeasureError(Exception):
    """A module that does not verify, or that opt or llc fails on; message: one line."""


def _first_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for line in lines:
        if "error" in line.lower() or "assert" in line.lower():
            return line[:300]
    return lines[0][:300] if lines else "no message"


def _counts(text: str) -> tuple[int, int]:
    return len(_FUNC.findall(text)), sum(int(n) for n in _COUNT.findall(text))


def measure_module(bitcode: Path, opt: str, llc: str) -> ModuleFacts:
    """Measure ``bitcode`` with the given ``opt``/``llc`` binaries (LLVM 22).

    Raises MeasureError (verifier failure, crash, timeout) with the tool's first line.
    """
    with tempfile.TemporaryDirectory(prefix="corpus-measure-") as tmp:
        oz_bc, obj = Path(tmp) / "oz.bc", Path(tmp) / "oz.o"
        for cmd in (
            [opt, f"-passes={_PASSES}", str(bitcode), "-o", str(oz_bc)],
            [llc, *LLC_FLAGS, "-filetype=obj", str(oz_bc), "-o", str(obj)],
        ):
            try:
                run = subprocess.run(
                    cmd, capture_output=True, text=True, check=False, timeout=TIMEOUT_S
                )
            except subprocess.TimeoutExpired as exc:
                raise MeasureError(f"{Path(cmd[0]).name} ran over {TIMEOUT_S:.0f} s") from exc
            if run.returncode != 0:
                raise MeasureError(f"{Path(cmd[0]).name}: {_first_error(run.stderr)}")
            if cmd[0] == opt:
                printed = run.stderr
        match = _HASH.search(printed)
        if match is None:
            raise MeasureError("opt printed no structural hash")
        before, after = printed[: match.start()], printed[match.end() :]
        functions, instructions = _counts(before)
        oz_functions, oz_instructions = _counts(after)
        return ModuleFacts(
            functions=functions,
            instructions=instructions,
            oz_functions=oz_functions,
            oz_instructions=oz_instructions,
            oz_text_bytes=text_bytes(obj.read_bytes()),
            structural_hash=match.group(1),
        )
