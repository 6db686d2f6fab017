"""Where blocksim's kernel spends its time, by part of the kernel (perf + gdb).

    .venv/bin/python bench/blocksim_profile_lines.py --cpu znver5 --seconds 10

A child process (pinned to ``--core``) compiles the kernel with debug line info
(``NUMBA_DEBUGINFO=1``, its own numba cache so the normal cache is untouched) and
predicts the same 2,000 BHive blocks as ``bench/blocksim_bench.py`` in a loop; once it
is warm, ``perf record`` samples it for ``--seconds``; gdb, attached to it, maps the most
frequent instruction addresses to lines of ``envs/blocksim/_kernel_unsigned.py``
(numba registers its JIT code with gdb), and the lines are grouped into the kernel's
parts (retire, dispatch, resource check, ...), located by marker lines in the generated
file. Prints each part's share of all samples. Needs ``perf`` and ``gdb`` and
permission to attach (ptrace); cProfile (``blocksim_bench.py --profile``) only sees the
whole kernel as one call.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KERNEL = ROOT / "envs" / "blocksim" / "_kernel_unsigned.py"

_CHILD = """
import sys, time
sys.path.insert(0, {root!r})
import numpy as np
from envs.blocksim.simulator import BlockSim
from envs.blocksim.tables import read_bhive_hex
hexes = read_bhive_hex({blocks!r})
pick = np.random.default_rng(0).choice(len(hexes), size=min(2000, len(hexes)), replace=False)
hexes = [hexes[i] for i in sorted(pick)]
sim = BlockSim({cpu!r})
table = sim.default_table()
sim.predict(hexes, table)
print("ready", flush=True)
t0 = time.time()
while time.time() - t0 < {limit}:
    sim.predict(hexes, table)
"""

# (marker text in simulate_block's body, the part that starts there), in file order; the
# last marker only ends the one before it.
_BODY_PARTS = [
    ("def simulate_block(", "per-block set-up"),
    ("if steady and nd >= next_check", "steady-state check"),
    ("while ret < nd and issue[", "retire"),
    ("ncur = 0", "timers: heap pop, sorting the cycle's entries"),
    ("while icur < ncur:", "check: entries, proxies, operand timers"),
    ("for j in range(res_ptr[", "check: free units and llvm-mca's unit selection"),
    ("for j in range(res_ptr[", "issue bookkeeping"),
    ("d = dep_head[", "waking parked dependents"),
    ("if carry > 0:", "dispatch"),
    ("if progressed or carry > 0 or wblk:", "advancing the cycle"),
    ("return float(last_retire + 1)", "(end)"),
]
_HELPERS = {
    "_operands": "operand resolution",
    "_state_vector": "steady-state check",
    "_same_state": "steady-state check",
    "_restore_state": "steady-state check",
    "_signature": "steady-state check",
    "_cal_push": "timers: heap pop, sorting the cycle's entries",
    "_tpush": "timers: heap pop, sorting the cycle's entries",
    "_refill": "calendar pool",
    "_purge_stale": "calendar pool",
}


def part_of_line() -> dict[int, str]:
    """Line number of the generated kernel -> the kernel part it belongs to."""
    lines = KERNEL.read_text().splitlines()
    out: dict[int, str] = {}
    func = ""
    starts: list[tuple[int, str]] = []
    want = 0
    for no, text in enumerate(lines, 1):
        m = re.match(r"def (\w+)\(", text)
        if m:
            func = m.group(1)
        if func == "simulate_block" and want < len(_BODY_PARTS):
            marker, part = _BODY_PARTS[want]
            if marker in text:
                starts.append((no, part))
                want += 1
        out[no] = _HELPERS.get(func, "other kernel helpers")
    if want < len(_BODY_PARTS):
        raise SystemExit(f"marker not found in {KERNEL.name}: {_BODY_PARTS[want][0]!r}")
    for (a, part), (b, _) in zip(starts, starts[1:], strict=False):
        for no in range(a, b):
            out[no] = part
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cpu", default="znver5")
    ap.add_argument("--seconds", type=float, default=10.0, help="perf sampling time")
    ap.add_argument("--core", type=int, default=1, help="core the child is pinned to")
    ap.add_argument("--top", type=int, default=1500, help="addresses mapped to lines")
    ap.add_argument(
        "--blocks", default=str(ROOT / "envs" / "groundtruth" / "data" / "bhive_znver3.csv.gz")
    )
    args = ap.parse_args()
    for tool in ("perf", "gdb", "taskset"):
        if shutil.which(tool) is None:
            print(f"error: {tool} not found", file=sys.stderr)
            return 2
    parts = part_of_line()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "child.py"
        script.write_text(
            _CHILD.format(root=str(ROOT), blocks=args.blocks, cpu=args.cpu, limit=600)
        )
        env = dict(os.environ, NUMBA_DEBUGINFO="1", NUMBA_CACHE_DIR=str(Path(tmp) / "numba"))
        child = subprocess.Popen(
            ["taskset", "-c", str(args.core), sys.executable, str(script)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            print("compiling the kernel with line info (a few minutes)...", flush=True)
            if child.stdout is None or child.stdout.readline().strip() != "ready":
                print("error: the child process did not start", file=sys.stderr)
                return 1
            time.sleep(1.0)
            data = Path(tmp) / "perf.data"
            subprocess.run(
                ["perf", "record", "-F", "5000", "-p", str(child.pid), "-o", str(data), "--",
                 "sleep", str(args.seconds)],
                check=True, capture_output=True,
            )  # fmt: skip
            ips = subprocess.run(
                ["perf", "script", "-i", str(data), "-F", "ip"],
                check=True, capture_output=True, text=True,
            ).stdout.split()  # fmt: skip
            counts = Counter(ips)
            top = counts.most_common(args.top)
            gdb_cmds = Path(tmp) / "lines.gdb"
            gdb_cmds.write_text("".join(f"info line *0x{ip}\n" for ip, _ in top))
            gdb = subprocess.run(
                ["gdb", "-p", str(child.pid), "-batch", "-x", str(gdb_cmds)],
                capture_output=True, text=True, timeout=600,
            ).stdout.splitlines()  # fmt: skip
        finally:
            child.kill()
    answers = [ln for ln in gdb if ln.startswith(("Line ", "No line"))]
    if len(answers) != len(top):
        print(f"error: gdb answered {len(answers)} of {len(top)} addresses", file=sys.stderr)
        return 1
    total = sum(counts.values())
    share: Counter[str] = Counter()
    for (_, n), ans in zip(top, answers, strict=True):
        m = re.match(r'Line (\d+) of "([^"]+)"', ans)
        if m and m.group(2).endswith(KERNEL.name):
            share[parts.get(int(m.group(1)), "other kernel helpers")] += n
        else:
            share["outside the kernel (Python, numpy, libc)"] += n
    share["addresses not mapped (the tail)"] = total - sum(n for _, n in top)
    print(f"{total} samples, {args.cpu} table, {args.seconds:g} s on core {args.core}:")
    for part, n in share.most_common():
        print(f"  {100 * n / total:5.1f}%  {part}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
