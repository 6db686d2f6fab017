"""Re-running a chosen sequence with the stock tools: the check every result passes.

For one module and one sequence: ``opt-22`` applies the elements (one process per
element, reading the previous one's bitcode: the server's semantics of one fresh
pipeline per element), then ``opt-22 -passes=verify,print<func-properties>`` verifies
the result and counts its instructions, which must equal the pass server's count; for
a csmith program the result is built (llc-22, clang-22) and run, and must print the
same checksum as the program built at -O0.

opt-22 itself is not always a function of its input: some passes (gvn-sink on pcre2's
pcre2_compile.c) order by hashes of heap addresses, which address-space randomisation
changes from run to run (two counts, 9,031 and 9,107, over four runs of one chain).
The server runs with a fixed layout and so gives one of them every time. So when the
counts differ, the stock chain is run up to :data:`STOCK_RUNS` times in all; the
server's count is accepted if opt-22 gives it in one of them (``stock_varies``).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from envs.llvmcorpus.store import find_tools
from envs.passes.actions import element
from envs.passes.csmith import output_of_bitcode, reference_output
from envs.passes.modules import PassModule
from envs.passes.server import PassServer

TIMEOUT_S = 300.0
# Runs of the stock chain when its count differs from the server's (see above).
STOCK_RUNS = 5
_COUNT = re.compile(r"^TotalInstructionCount: (\d+)$", re.M)


@dataclass(frozen=True)
class Validation:
    """Outcome for one (module, sequence).

    Attributes:
        verified: the stock opt-22 ran every element and the result verifies.
        stock_instructions / server_instructions: the counts (-1: not available); the
            stock count of the first run of the chain.
        output: ``same`` / ``differs`` (csmith programs: the checksum), ``no-run``
            (it does not build or finish), or ``n/a`` (corpus modules have no main).
        error: the first failure, one line.
        stock_varies: the stock chain gave more than one count over its runs (and
            one of them is the server's).
    """

    module: str
    sequence: tuple[str, ...]
    verified: bool
    stock_instructions: int
    server_instructions: int
    output: str
    error: str = ""
    stock_varies: bool = False

    @property
    def ok(self) -> bool:
        """Verified, counts agree (or opt-22 gives the server's in one of its runs),
        and (csmith) the same output."""
        return (
            self.verified
            and (self.stock_instructions == self.server_instructions or self.stock_varies)
            and self.output in ("same", "n/a")
        )


def stock_opt(bitcode: Path, sequence: Sequence[str], out: Path) -> str:
    """Apply ``sequence`` with opt-22, one process per element; '' or the error."""
    opt = find_tools().opt
    current = bitcode
    with tempfile.TemporaryDirectory(prefix="passes-val-") as tmp:
        for k, action in enumerate(sequence):
            nxt = Path(tmp) / f"s{k}.bc"
            run = subprocess.run(
                [opt, f"-passes={element(action)}", str(current), "-o", str(nxt)],
                capture_output=True,
                text=True,
                check=False,
                timeout=TIMEOUT_S,
            )
            if run.returncode != 0:
                lines = run.stderr.strip().splitlines()
                return f"opt-22 -passes={element(action)}: {lines[0] if lines else 'failed'}"
            current = nxt
        out.write_bytes(current.read_bytes())
    return ""


def stock_count(bitcode: Path) -> tuple[bool, int, str]:
    """(verifies, instructions over defined functions, error) by the stock opt-22."""
    run = subprocess.run(
        [
            find_tools().opt,
            "-passes=verify,print<func-properties>",
            "-disable-output",
            str(bitcode),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT_S,
    )
    if run.returncode != 0:
        return False, -1, run.stderr.strip().splitlines()[0] if run.stderr.strip() else "failed"
    return True, sum(int(n) for n in _COUNT.findall(run.stderr)), ""


def validate(module: PassModule, sequence: Sequence[str], server: PassServer) -> Validation:
    """Re-run ``sequence`` on ``module`` with the stock tools and compare (see the
    module docstring)."""
    seq = tuple(sequence)
    mine = server.run(module.bitcode, [element(a) for a in seq])
    server_count = mine.instructions if mine.ok else -1
    with tempfile.TemporaryDirectory(prefix="passes-val-") as tmp:
        out = Path(tmp) / "out.bc"
        err = stock_opt(module.bitcode, seq, out)
        if err:
            return Validation(module.name, seq, False, -1, server_count, "no-run", err)
        verified, count, err = stock_count(out)
        varies = False
        if verified and count != server_count and server_count >= 0:
            for _ in range(STOCK_RUNS - 1):
                again = Path(tmp) / "again.bc"
                if stock_opt(module.bitcode, seq, again):
                    break
                if stock_count(again)[1] == server_count:
                    varies = True
                    break
        output = "n/a"
        if module.source is not None:
            expected = reference_output(module.source)
            got = output_of_bitcode(out)
            output = (
                "no-run"
                if got is None or expected is None
                else ("same" if got == expected else "differs")
            )
        return Validation(module.name, seq, verified, count, server_count, output, err, varies)
