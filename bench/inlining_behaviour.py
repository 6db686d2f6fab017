"""Does any inlining policy change what a program prints? (It must never.)

Builds every corpus program at -O0 as the reference, then compiles it with the
interactive inliner under several policies (always / never / coin-flip inlining,
seeded random linear and mlp policies, and every policy chosen in the finished trials
of the given runs, whatever corpus they trained on: a policy reads call-site features
only), links, runs, and compares stdout. Prints the number of runs and mismatches.

    .venv/bin/python bench/inlining_behaviour.py [runs/inlining runs/inlining_debian ...]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from envs.inlining.corpus import CSMITH_INCLUDE
from envs.inlining.host import Decider, compile_with_policy
from envs.inlining.policy import FEATURE_SETS, make_policy, policy_space, spec_of_space
from envs.inlining.task import make_inlining_task
from envs.inlining.tools import llvm_tools
from harness.store import finished_records


def run_program(cmd: list[str], exe: Path) -> str:
    subprocess.run(cmd + ["-o", str(exe)], check=True, capture_output=True)
    return subprocess.run([str(exe)], capture_output=True, text=True, timeout=30).stdout


def main() -> None:
    task = make_inlining_task(per_module_metrics=False)
    clang = llvm_tools().clang
    rng = np.random.default_rng(0)
    coin = np.random.default_rng(1)
    policies: dict[str, Decider] = {
        "always": lambda raw: True,
        "never": lambda raw: False,
        "coin": lambda raw: bool(coin.random() < 0.5),
    }
    for kind in ("linear", "mlp"):
        space = policy_space(FEATURE_SETS["all"], kind, 16)
        for k in range(3):
            policies[f"random-{kind}-{k}"] = make_policy(space.sample(rng), spec_of_space(space))
    for run_dir in map(Path, sys.argv[1:]):
        for rec in finished_records(run_dir).values():
            if rec.get("status") != "ok" or rec.get("agent") == "default":
                continue
            opts = json.loads(rec["task_options"])
            space = policy_space(
                FEATURE_SETS[opts.get("features", "small")],
                opts.get("policy", "linear"),
                int(opts.get("hidden", 16)),
            )
            cfg = space.validate(json.loads(rec["config"]))
            policies[f"{run_dir.name}/{rec['trial_id']}"] = make_policy(cfg, spec_of_space(space))
    runs = changed = 0
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for m in task.modules:
            ref = run_program(
                [clang, "-O0", "-w", f"-I{CSMITH_INCLUDE}", str(m.source)], t / "ref.exe"
            )
            for name, policy in policies.items():
                obj = t / "p.o"
                compile_with_policy(m.ir_path, policy, keep_object=obj)
                out = run_program([clang, str(obj)], t / "p.exe")
                runs += 1
                if out != ref:
                    changed += 1
                    print(f"CHANGED: {m.name} under {name}: {out!r} vs {ref!r}")
    print(
        f"{len(task.modules)} programs x {len(policies)} policies = {runs} runs; "
        f"output changed in {changed}"
    )


if __name__ == "__main__":
    main()
