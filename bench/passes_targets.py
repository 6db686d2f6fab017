"""The issue-21 targets on the whole corpus, as two suites run one after the other.

1. ``passes_general`` (generalization): sequence searchers (greedy from -Oz,
   seq-hillclimb; seq-shortlist when named in ``--general-agents``) and BC+PPO tune one
   policy on the training packages; the harness applies it to every test module
   without search. Target: >= 1.02x vs -Oz.
2. ``passes_permodule`` (CompilerGym's leaderboard setting): the per-module agent
   searches each test module's sequence, starting from stage 1's best sequence (what
   the training packages taught), within ``--per-module-budget`` compilations of test
   modules in all; each module first tries stage 1's other sequences (a portfolio) and
   ``SCREEN``'s passes appended to the best of them (``--no-portfolio``: not).
   Target: >= 1.05x with <= 10^4 compilations.
   ``--portfolio-file``: stage 1 is replaced by a portfolio learned on the training
   packages (bench/passes_portfolio.py): every module tries -Oz and its sequences,
   then the screen, then the search. With it, ``--together`` puts stage 1's
   generalization task (e.g. ``--general-agents default seq-shortlist``) into the same
   suite, so one ``tunebench run`` keeps the workers busy.

Writes the suites to ``runs/passes_targets/``, runs them with ``tunebench run`` (resumable)
and prints each trial's test figures; ``bench/passes_validate.py`` then re-checks every
chosen sequence. Hours on 2 cores; check ``/work/QUIET`` first.

    .venv/bin/python bench/passes_targets.py [--general-budget 4000] [--per-module-budget 10000]

A reduced run that keeps the per-module budget rate (10^4 compilations for the whole
test set's 485 modules = ~20.6 per module) on a hashed subset of the test modules:

    .venv/bin/python bench/passes_targets.py --packages <built packages> \
        --max-test-per-package 12 --per-module-budget 1240 --general-agents default greedy-oz
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from envs.passes.actions import actions
from harness.store import load_trials

OUT = Path("runs/passes_targets")
GENERAL_AGENTS = ("default", "greedy-oz", "seq-hillclimb", "seq-shortlist", "bc-oz+ppo")
# Passes stage 2 tries appending to each module's best start (single-pass screen).
SCREEN = ("iroutliner", "-Oz", "mergefunc", "gvn-sink", "newgvn", "gvn-hoist")
# The generalization agents' suite sections. seq-shortlist's options are for the whole
# corpus (agents/passes/shortlist.py): 100 small training modules searched with 40
# compilations each (inserts favour SCREEN's passes); the 20 best on a training sample
# compiled on the validation modules.
GENERAL_AGENT_SECTIONS = f"""
[agents.greedy-oz]
agent = "greedy"
options = {{ start = "default" }}

[agents."bc-oz+ppo"]
agent = "pass-bc+ppo"
options = {{ expert = "oz", bc_fraction = 0.05 }}

[agents.seq-shortlist]
options = {{ candidate_modules = 100, search_budget = 40, searches = 1, shortlist = 20, \
searcher_options = {{ prefer = {json.dumps(sorted(SCREEN))} }} }}
"""


def _run(suite: Path, workers: int, dry_run: bool = False) -> Path:
    run_dir = suite.parent / suite.stem
    if dry_run:
        print(f"--- {suite} (not run)\n{suite.read_text()}")
        raise SystemExit(0)
    cmd = [sys.executable, "-m", "harness.cli", "run", str(suite), "--out", str(run_dir)]
    subprocess.run([*cmd, "--workers", str(workers)], check=True)
    return run_dir


def _show(run_dir: Path) -> None:
    trials = load_trials(run_dir)
    for _, r in trials.iterrows():
        pk = {
            k[len("test_package/") :]: round(1 / v, 4)
            for k, v in r.items()
            if str(k).startswith("test_package/") and v == v
        }
        print(
            f"{r['trial_id']:55s} reduction {r['test_oz_reduction']:.4f}x  "
            f"text {1 / r.get('test_geomean_text_oz_ratio', float('nan')):.4f}x  "
            f"compilations {int(r['samples_used'])}  wall {r['wall_s']:.0f} s  per package {pk}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--general-budget", type=int, default=4000)
    ap.add_argument("--eval-items", type=int, default=40)
    ap.add_argument("--per-module-budget", type=int, default=10000)
    ap.add_argument("--max-len", type=int, default=16)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out", type=Path, default=OUT, help="folder of the two suites and runs")
    ap.add_argument("--packages", nargs="+", help="corpus packages (default: all; builds)")
    ap.add_argument("--max-per-package", type=int, help="train/val modules per package")
    ap.add_argument("--max-test-per-package", type=int, help="test modules per package")
    ap.add_argument("--max-instructions", type=int, help="train/val/test size cap")
    ap.add_argument(
        "--no-portfolio",
        dest="portfolio",
        action="store_false",
        help="stage 2 without the portfolio of stage-1 sequences and the pass screen",
    )
    ap.add_argument(
        "--portfolio-file",
        type=Path,
        help="portfolio.json of bench/passes_portfolio.py: stage 2 tries it (no stage 1)",
    )
    ap.add_argument("--dry-run", action="store_true", help="write and print the suite, run nothing")
    ap.add_argument(
        "--together",
        action="store_true",
        help="with --portfolio-file: the generalization task runs in the per-module suite "
        "(one tunebench run, so the workers stay busy)",
    )
    ap.add_argument(
        "--general-agents",
        nargs="+",
        default=[a for a in GENERAL_AGENTS if a != "seq-shortlist"],
        choices=GENERAL_AGENTS,
        help="stage-1 agents (default is always run)",
    )
    args = ap.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    seeds = list(range(args.seeds))
    extra = ""
    for key in ("packages", "max_per_package", "max_test_per_package", "max_instructions"):
        value = getattr(args, key)
        if value is not None:
            extra += f", {key} = {json.dumps(value)}"
    seq_agents = [
        a
        for a in ("default", "greedy-oz", "seq-hillclimb", "seq-shortlist")
        if a in args.general_agents
    ]
    seq_agents = ["default"] + [a for a in seq_agents if a != "default"]
    policy_section = ""
    if "bc-oz+ppo" in args.general_agents:
        policy_section = f"""
[tasks.passes-policy]
task = "passes"
options = {{ setting = "generalize", policy = "mlp", max_len = {args.max_len}{extra} }}
budgets = [{args.general_budget}]
eval_items = {args.eval_items}
agents = ["default", "bc-oz+ppo"]
"""
    general_tasks = f"""
[tasks.passes-seq]
task = "passes"
options = {{ setting = "generalize", max_len = {args.max_len}{extra} }}
budgets = [{args.general_budget}]
eval_items = {args.eval_items}
agents = {json.dumps(seq_agents)}
{policy_section}"""
    if args.together and args.portfolio_file is None:
        sys.exit("error: --together needs --portfolio-file (stage 2 then needs no stage 1)")
    general = out / "passes_general.toml"
    general.write_text(
        f"""# written by bench/passes_targets.py
name = "passes_general"
seeds = {seeds}
{general_tasks}{GENERAL_AGENT_SECTIONS}"""
    )
    if args.portfolio_file is not None:
        # A portfolio learned on the training packages (bench/passes_portfolio.py)
        # replaces stage 1: every module starts from -Oz and tries it first.
        learned = json.loads(args.portfolio_file.read_text())["portfolio"]
        unknown = sorted({a for seq in learned for a in seq} - set(actions()))
        if unknown:  # learned before these actions left the set: learn it again
            sys.exit(
                f"error: {args.portfolio_file} uses actions no longer in the action set "
                f"({', '.join(unknown)}; see envs/passes/actions.py SCREENED_OUT): "
                "run bench/passes_portfolio.py again"
            )
        print(f"stage 2 tries {len(learned)} learned sequences from {args.portfolio_file}")
        start = ["-Oz"]
        portfolio = [list(seq) for seq in learned]
        hint = {a for cand in portfolio for a in cand}  # inserts favour the learned passes
    else:
        run1 = _run(general, args.workers, args.dry_run)
        _show(run1)
        trials = load_trials(run1)
        # The best stage-1 sequence by validation loss (a searcher's, else -Oz's).
        seq = trials[trials["task_label"] == "passes-seq"].sort_values("val_loss").iloc[0]
        start = json.loads(seq["config"])["passes"]
        print(
            f"stage 2 starts every module from {start} ({seq['trial_id']}, "
            f"val {seq['val_loss']:.4f})"
        )
        # Every module also tries the other stage-1 sequences (best val first; -Oz is
        # the default agent's), then the screen's passes appended to the best of them.
        portfolio = []
        for _, r in trials[trials["task_label"] == "passes-seq"].sort_values("val_loss").iterrows():
            cand = json.loads(r["config"])["passes"]
            if cand != start and cand not in portfolio:
                portfolio.append(cand)
        hint = set(start)
    prefer = sorted(hint | set(SCREEN))
    pm_options = f"searcher_options = {{ prefer = {json.dumps(prefer)} }}"
    if args.portfolio:
        pm_options += f", portfolio = {json.dumps(portfolio)}, screen = {json.dumps(list(SCREEN))}"
    per = out / "passes_permodule.toml"
    per.write_text(
        f"""# written by bench/passes_targets.py
name = "passes_permodule"
seeds = {seeds}
budgets = [{args.per_module_budget}]

[tasks.passes-per-module]
task = "passes"
options = {{ setting = "per-module", max_len = {args.max_len}{extra} }}
agents = ["default", "pm-hillclimb"]
{general_tasks if args.together else ""}
[agents.pm-hillclimb]
agent = "per-module"
options = {{ searcher = "seq-hillclimb", start = {json.dumps(start)}, {pm_options} }}
{GENERAL_AGENT_SECTIONS if args.together else ""}"""
    )
    run2 = _run(per, args.workers, args.dry_run)
    _show(run2)


if __name__ == "__main__":
    main()
