"""Does every test module of the real corpus still compile and link under learned policies?

For every finished non-default ``inlining`` trial of the given runs on the Debian corpus
(and the -Oz heuristic as a reference), compiles each test module of the trial's task
under the trial's policy (opt -Oz with the interactive inliner, llc -O2 PIC), then links
the object on its own into a shared library (``clang-22 -shared``; a module's references
to the rest of its package stay undefined, as in any shared object) and checks that the
object defines the same global functions and variables as under the heuristic (a
policy may inline a function everywhere, but an external definition must stay).
Prints per policy: modules, compile failures, link failures, symbol-set differences.

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


def check(modules, decide, tmp: Path, reference: dict[str, set[str]] | None) -> dict:  # noqa: ANN001
    clang = llvm_tools().clang
    counts = {"modules": 0, "compile_failed": 0, "link_failed": 0, "symbols_differ": 0}
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
        if run.returncode != 0:
            counts["link_failed"] += 1
            print(f"  LINK FAILED {m.name}: {run.stderr.strip()[-300:]}")
        symbols[m.name] = defined_globals(obj)
        if reference is not None and symbols[m.name] != reference.get(m.name):
            counts["symbols_differ"] += 1
            diff = symbols[m.name] ^ reference.get(m.name, set())
            print(f"  SYMBOLS DIFFER {m.name}: {sorted(diff)[:6]}")
    counts["symbols"] = symbols
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dirs", nargs="+")
    ap.add_argument("--max-modules", type=int, default=0, help="test modules (hashed; 0 = all)")
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
            ref = check(modules, default_decider, tmp, None)
            print(
                f"-Oz heuristic: {ref['modules']} test modules, compile failed "
                f"{ref['compile_failed']}, link failed {ref['link_failed']}"
            )
            for name, cfg in trials:
                config = task.param_space.validate(cfg)
                res = check(modules, make_policy(config, task.spec), tmp, ref["symbols"])
                print(
                    f"{name}: {res['modules']} test modules, compile failed "
                    f"{res['compile_failed']}, link failed {res['link_failed']}, defined "
                    f"global symbols differ from -Oz's in {res['symbols_differ']}"
                )


if __name__ == "__main__":
    main()
