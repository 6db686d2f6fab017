"""Screen the pass-ordering action list: every pass alone and after -Oz on csmith programs
and corpus modules. A pass is a candidate for ``SCREENED_OUT`` (envs/passes/actions.py)
when it

- crashes, fails to parse, breaks the verifier or runs over the time limit;
- changes a csmith program's output (checksum);
- is not deterministic: the module it produces (bitcode hash) differs between fresh
  server processes, or between a fresh one and a long-lived one with other requests
  behind it (a pass whose result depends on memory addresses makes a "deterministic"
  task cache wrong answers and the stock-opt validation disagree).

Also prints what each pass does to the instruction count after -Oz (geomean ratio vs
-Oz over the corpus modules): which passes can beat -Oz.

    .venv/bin/python bench/passes_screen.py [--csmith 4] [--corpus 8] [--fresh 2]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

import numpy as np

from envs.passes.actions import OZ_PIPELINE, PASSES, element
from envs.passes.csmith import output_of_bitcode, reference_output
from envs.passes.modules import corpus_modules, csmith_modules
from envs.passes.server import PassServer, ServerPool


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--csmith", type=int, default=4, help="csmith programs (seeds 1..N)")
    ap.add_argument("--corpus", type=int, default=8, help="corpus modules (built ones)")
    ap.add_argument("--fresh", type=int, default=2, help="fresh server processes per check")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--only", nargs="*", help="screen only these passes")
    args = ap.parse_args()
    pool = ServerPool()
    cs = csmith_modules(range(1, args.csmith + 1), 0, 0, pool)["train"] if args.csmith else []
    built = [m for mods in corpus_modules(build=False).values() for m in mods]
    built = [m for m in built if m.instructions <= 20000]
    mods = sorted(built, key=lambda m: hashlib.sha256(m.name.encode()).hexdigest())[: args.corpus]
    passes = args.only or PASSES
    print(f"{len(cs)} csmith programs, {len(mods)} corpus modules, {len(passes)} passes")
    long_lived = PassServer(timeout_s=args.timeout)
    expected = {m.name: reference_output(m.source) for m in cs if m.source is not None}
    bad: dict[str, str] = {}
    gains: dict[str, float] = {}
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for action in passes:
            el = element(action)
            worst_s, ratios = 0.0, []
            for m in cs + mods:
                for prefix in ([], [OZ_PIPELINE]):
                    where = f"{m.name}{' after -Oz' if prefix else ''}"
                    out = Path(tmp) / "o.bc"
                    r = long_lived.run(
                        m.bitcode, [*prefix, el], out=out if m.source else None, digest=True
                    )
                    worst_s = max(worst_s, r.wall_s)
                    if not r.ok:
                        bad.setdefault(action, f"{where}: {r.error}")
                        continue
                    digests = {r.digest}
                    for _ in range(args.fresh):
                        fresh = PassServer(timeout_s=args.timeout)
                        digests.add(fresh.run(m.bitcode, [*prefix, el], digest=True).digest)
                        fresh.close()
                    if len(digests) > 1:
                        bad.setdefault(action, f"{where}: not deterministic")
                    if m.source is not None and expected.get(m.name) is not None:
                        if output_of_bitcode(out) != expected[m.name]:
                            bad.setdefault(action, f"{where}: output differs")
                    elif prefix and m.source is None:
                        ratios.append(r.instructions / m.oz_instructions)
            gains[action] = float(np.exp(np.mean(np.log(ratios)))) if ratios else float("nan")
            flag = "  BAD: " + bad[action] if action in bad else ""
            print(
                f"{action:60s} after -Oz {gains[action]:.4f}  worst {worst_s:6.2f} s{flag}",
                flush=True,
            )
    print(f"screen took {time.perf_counter() - t_all:.0f} s")
    print("helps after -Oz:", sorted((round(g, 4), a) for a, g in gains.items() if g < 1.0))
    print("SCREENED_OUT candidates:", bad)


if __name__ == "__main__":
    main()
