"""How much smaller than -Oz can inlining decisions make a module? A per-module search.

For each module of a seeded sample of the Debian task's train split: start from the
-Oz heuristic's decisions, then flip one call-site decision at a time (by its position
in the order opt asks; the rest answer as the heuristic, or as already accepted
flips), keeping every flip that makes ``.text`` smaller; ``--passes`` sweeps. This is
a per-module oracle no policy reaches (it sees the size of each choice), so its geomean
bounds what call-site policies can gain on these modules with local changes. Prints
each module's best ratio and the geomean, and the compilations used.

    .venv/bin/python bench/inlining_headroom.py --modules 20 --seed 0 --max-decisions 60
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from envs.inlining.host import DEFAULT_INDEX, CompileError, compile_with_policy  # noqa: E402
from envs.inlining.task import make_inlining_task  # noqa: E402


class Replay:
    """Answers the heuristic's decision, flipped at the call-site positions ``flips``."""

    def __init__(self, flips: set[int]) -> None:
        self.flips, self.at = flips, 0

    def __call__(self, raw: np.ndarray) -> bool:
        decision = bool(raw[DEFAULT_INDEX] != 0) != (self.at in self.flips)
        self.at += 1
        return decision


def search(ir: Path, base: int, n_decisions: int, passes: int) -> tuple[float, int]:
    """(best size / base, compilations) of the flip search on one module."""
    best, flips, used = base, set(), 0
    for _ in range(passes):
        improved = False
        for i in range(n_decisions):
            trial = flips ^ {i}
            try:
                size = compile_with_policy(ir, Replay(trial)).text_bytes
            except CompileError:
                continue
            finally:
                used += 1
            if size < best:
                best, flips, improved = size, trial, True
        if not improved:
            break
    return best / base, used


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--modules", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--passes", type=int, default=1)
    p.add_argument("--max-decisions", type=int, default=60, help="skip larger modules")
    p.add_argument("--packages", nargs="+", help="corpus packages (default: all; builds)")
    p.add_argument("--split", default="train", choices=["train", "val", "test"])
    args = p.parse_args()
    task = make_inlining_task(corpus="debian", max_instructions=20000, packages=args.packages)
    split = args.split
    rng = np.random.default_rng(args.seed)
    pool = [
        task.module(split, i)
        for i in range(task.n_items(split))
        if task.module(split, i).n_decisions <= args.max_decisions
    ]
    picks = [pool[i] for i in rng.choice(len(pool), min(args.modules, len(pool)), replace=False)]
    ratios, total = [], 0
    for m in picks:
        ratio, used = search(m.ir_path, m.heuristic_text_bytes, m.n_decisions, args.passes)
        ratios.append(ratio)
        total += used
        print(f"{m.name}: {m.n_decisions} call sites, best {ratio:.4f} ({used} compilations)")
    print(
        f"{len(picks)} modules: geomean best ratio {np.exp(np.mean(np.log(ratios))):.4f}, "
        f"{np.mean(np.array(ratios) < 1):.0%} improvable, {total} compilations"
    )


if __name__ == "__main__":
    main()
