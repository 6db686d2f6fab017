"""Screen the pass-ordering action list: every pass alone and after -Oz on csmith programs
and corpus modules. A pass that crashes, breaks the verifier, changes a csmith program's
output or runs over the time limit is a candidate for ``SCREENED_OUT``
(envs/passes/actions.py). Also prints what each pass does to the instruction count
after -Oz (geomean ratio vs -Oz over the corpus modules).

    .venv/bin/python bench/passes_screen.py [--csmith 6] [--corpus-per-package 2]
"""

from __future__ import annotations

import argparse
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
    ap.add_argument("--csmith", type=int, default=6, help="csmith programs (seeds 1..N)")
    ap.add_argument("--corpus-per-package", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()
    pool = ServerPool()
    cs = csmith_modules(range(1, args.csmith + 1), 0, 0, pool)["train"] if args.csmith else []
    corpus = corpus_modules(build=False)
    per: dict[str, list] = {}
    for m in corpus["train"] + corpus["val"]:
        per.setdefault(m.package, [])
        if len(per[m.package]) < args.corpus_per_package:
            per[m.package].append(m)
    mods = [m for ms in per.values() for m in ms]
    print(f"{len(cs)} csmith programs, {len(mods)} corpus modules, {len(PASSES)} passes")
    server = PassServer(timeout_s=args.timeout)
    expected = {m.name: reference_output(m.source) for m in cs if m.source is not None}
    bad: dict[str, str] = {}
    gains: dict[str, float] = {}
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for action in PASSES:
            el = element(action)
            worst_s, ratios = 0.0, []
            for m in cs + mods:
                for prefix in ([], [OZ_PIPELINE]):
                    out = Path(tmp) / "o.bc"
                    r = server.run(m.bitcode, [*prefix, el], out=out if m.source else None)
                    worst_s = max(worst_s, r.wall_s)
                    if not r.ok:
                        bad.setdefault(
                            action, f"{m.name} {'after -Oz ' if prefix else ''}{r.error}"
                        )
                        continue
                    if m.source is not None and expected.get(m.name) is not None:
                        if output_of_bitcode(out) != expected[m.name]:
                            bad.setdefault(action, f"{m.name}: output differs")
                    elif prefix and m.source is None:
                        ratios.append(r.instructions / m.oz_instructions)
            gains[action] = float(np.exp(np.mean(np.log(ratios)))) if ratios else float("nan")
            flag = "  BAD: " + bad[action] if action in bad else ""
            print(f"{action:70s} after -Oz {gains[action]:.4f}  worst {worst_s:6.2f} s{flag}")
    print(f"screen took {time.perf_counter() - t_all:.0f} s")
    print("helps after -Oz:", sorted((g, a) for a, g in gains.items() if g < 1.0)[:25])
    print("SCREENED_OUT candidates:", bad)


if __name__ == "__main__":
    main()
