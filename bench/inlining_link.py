"""Does every test module of the real corpus still compile and link under learned policies?

For every finished non-default ``inlining`` trial of the given runs on the Debian corpus
(and the -Oz heuristic as a reference), compiles each test module of the trial's task
under the trial's policy (opt -Oz with the interactive inliner, llc -O2 PIC), then links
the object on its own into a shared library (``clang-22 -shared``; a module's references
to the rest of its package stay undefined, as in any shared object; a module that does
not link alone under the heuristic either, because it refers to a hidden symbol of
another TU, is not counted as a failure) and checks that the object defines the same
global functions and variables as under the heuristic (a policy may inline a function
everywhere, but an external definition must stay).
``--random N`` adds N seeded random policies of the task's space (arbitrary decisions:
a stronger test than learned policies that stay near -Oz). A policy whose configuration
is the space's default (the heuristic, e.g. what inline-es returns when it finds nothing
smaller) is not compiled again. Prints per policy: modules, compile failures, link
failures, symbol-set differences.

    .venv/bin/python bench/inlining_link.py runs/inlining_debian [--max-modules 0]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from envs.inlining.host import CompileError, compile_with_policy, default_decider  # noqa: E402
from envs.inlining.policy import make_policy  # noqa: E402
from envs.inlining.tools import llvm_tools  # noqa: E402
from harness.store import finished_records  # noqa: E402
from harness.trial import build_task  # noqa: E402


def defined_globals(obj: Path) -> set[str]:
    """Global symbols ``obj`` defines (llvm-nm --defined-only --extern-only)."""
    nm = Path(llvm_tools().clang.replace("clang", "llvm-nm"))
    out = subprocess.run(
        [str(nm), "--defined-only", "--extern-only", "--format=just-symbols", str(obj)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def check(modules, decide, tmp: Path, reference: dict | None) -> dict:  # noqa: ANN001
    """Compile, link and read the symbols of every module under ``decide``; with a
    ``reference`` (the heuristic's result), a link failure counts only where the
    heuristic's object linked (a TU that refers to a hidden symbol of another TU, e.g.
    libxml2's ``*__internal_alias``, cannot link alone under any policy)."""
    clang = llvm_tools().clang
    counts = {
        "modules": 0,
        "compile_failed": 0,
        "link_failed": 0,
        "symbols_differ": 0,
        "linked": set(),
    }
    symbols: dict[str, set[str]] = {}
    for m in modules:
        counts["modules"] += 1
        obj, lib = tmp / "m.o", tmp / "m.so"
        try:
            compile_with_policy(m.ir_path, decide, keep_object=obj)
        except CompileError as exc:
            counts["compile_failed"] += 1
            print(f"  COMPILE FAILED {m.name}: {exc}")
            continue
        run = subprocess.run(
            [clang, "-shared", "-o", str(lib), str(obj)], capture_output=True, text=True
        )
        if run.returncode == 0:
            counts["linked"].add(m.name)
        elif reference is not None and m.name in reference["linked"]:
            counts["link_failed"] += 1
            print(f"  LINK FAILED {m.name}: {run.stderr.strip()[-300:]}")
        symbols[m.name] = defined_globals(obj)
        if reference is not None and symbols[m.name] != reference["symbols"].get(m.name):
            counts["symbols_differ"] += 1
            diff = symbols[m.name] ^ reference["symbols"].get(m.name, set())
            print(f"  SYMBOLS DIFFER {m.name}: {sorted(diff)[:6]}")
    counts["symbols"] = symbols
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dirs", nargs="+")
    ap.add_argument("--max-modules", type=int, default=0, help="test modules (hashed; 0 = all)")
    ap.add_argument("--random", type=int, default=0, help="seeded random policies added")
    args = ap.parse_args()
    by_task: dict[str, list[tuple[str, dict]]] = {}
    for run_dir in map(Path, args.run_dirs):
        for rec in finished_records(run_dir).values():
            if rec.get("status") != "ok" or rec.get("task") != "inlining":
                continue
            if json.loads(rec["task_options"]).get("corpus") != "debian":
                continue
            if rec.get("agent") != "default":
                by_task.setdefault(rec["task_options"], []).append(
                    (f"{run_dir.name}/{rec['trial_id']}", json.loads(rec["config"]))
                )
    with tempfile.TemporaryDirectory(prefix="inline-link-") as tmp_name:
        tmp = Path(tmp_name)
        for options, trials in by_task.items():
            task = build_task("inlining", json.loads(options))
            modules = [task.module("test", i) for i in range(task.n_items("test"))]
            if args.max_modules:
                modules = sorted(
                    modules, key=lambda m: hashlib.sha256(m.name.encode()).hexdigest()
                )[: args.max_modules]
            rng = np.random.default_rng(0)
            trials = trials + [
                (f"random-{k}", task.param_space.sample(rng)) for k in range(args.random)
            ]
            ref = check(modules, default_decider, tmp, None)
            print(
                f"-Oz heuristic: {ref['modules']} test modules, compile failed "
                f"{ref['compile_failed']}, {len(ref['linked'])} link alone as a shared object "
                "(the rest refer to hidden symbols of other TUs)"
            )
            for name, cfg in trials:
                config = task.param_space.validate(cfg)
                if config == task.param_space.default():
                    print(f"{name}: the -Oz heuristic's configuration (checked above)")
                    continue
                res = check(modules, make_policy(config, task.spec), tmp, ref)
                print(
                    f"{name}: {res['modules']} test modules, compile failed "
                    f"{res['compile_failed']}, link failed where -Oz's linked "
                    f"{res['link_failed']} (linked {len(res['linked'])}), defined "
                    f"global symbols differ from -Oz's in {res['symbols_differ']}"
                )


if __name__ == "__main__":
    main()
