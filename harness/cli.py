"""``tunebench`` command line: run, report, list, and plugin commands (e.g. measure)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from harness import registry
from harness.errors import UserError


def _cmd_run(args: argparse.Namespace) -> int:
    from harness.runner import run_suite

    summary = run_suite(
        args.config,
        out_dir=args.out,
        workers=args.workers,
        executor=args.executor,
        address=args.address,
        force=args.force,
    )
    print(summary.run_dir)
    return 0 if summary.failed == 0 and not summary.lost else 1


def _cmd_report(args: argparse.Namespace) -> int:
    from harness.report import write_report

    if not os.path.isdir(args.run_dir):
        raise UserError(f"run directory not found: {args.run_dir}")
    print(write_report(args.run_dir, args.out))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from harness.transfer import evaluate_run

    if not os.path.isdir(args.run_dir):
        raise UserError(f"run directory not found: {args.run_dir}")
    frame = evaluate_run(args.run_dir, args.dataset)
    metric = "all_mape" if "all_mape" in frame else "test_loss"
    table = frame.groupby(["task_label", "budget_samples", "agent"])[metric].median()
    print(table.to_string())
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from harness.store import write_atomic
    from harness.transfer import predict_with_record

    frame = predict_with_record(args.record, args.inputs)
    write_atomic(Path(args.out), frame.to_csv(index=False))
    failed = int(frame.prediction.isna().sum())
    print(f"{args.out}: {len(frame)} predictions ({failed} failed)")
    return 0


def _summary(obj: object) -> str:
    """The first paragraph of ``obj``'s docstring on one line, without reST markup."""
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return " ".join(doc.split("\n\n")[0].split()).replace("``", "")


def _list_line(name: str, desc: str) -> str:
    """``name`` and ``desc`` wrapped to 100 columns, continuation lines under ``desc``."""
    return textwrap.fill(
        desc, width=100, initial_indent=f"  {name:<16} ", subsequent_indent=" " * 19
    )


def _cmd_list(args: argparse.Namespace) -> int:
    print("tasks:")
    for name in registry.task_names():
        try:
            desc = _summary(registry.task_factory(name))
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not hide the others
            desc = f"(cannot load: {exc})"
        print(_list_line(name, desc))
    print("agents:")
    for name in registry.agent_names():
        try:
            desc = registry.agent_class(name).description
        except Exception as exc:  # noqa: BLE001
            desc = f"(cannot load: {exc})"
        print(_list_line(name, desc))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tunebench",
        description="Benchmark optimizers of performance models on equal sample budgets.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run (or resume) a suite of trials")
    p.add_argument("config", help="suite TOML file, e.g. configs/quick.toml")
    p.add_argument("--out", help="run directory (default runs/<suite name>)")
    p.add_argument("--workers", type=int, default=1, help="trials at once (default 1)")
    p.add_argument("--executor", default="local", choices=["local", "ray"], help="where trials run")
    p.add_argument("--address", help="Ray cluster address (with --executor ray)")
    p.add_argument(
        "--force", action="store_true", help="add to a run directory that holds another suite"
    )
    p.set_defaults(func=_cmd_run)
    p = sub.add_parser("report", help="write the HTML/Markdown report of a run")
    p.add_argument("run_dir", help="run directory written by 'tunebench run'")
    p.add_argument("--out", help="report directory (default reports/<run name>)")
    p.set_defaults(func=_cmd_report)
    p = sub.add_parser(
        "evaluate", help="score every finished trial's configuration on another dataset"
    )
    p.add_argument("run_dir", help="run directory written by 'tunebench run'")
    p.add_argument("--dataset", required=True, help="measured CSV (or a shipped dataset name)")
    p.set_defaults(func=_cmd_evaluate)
    p = sub.add_parser("predict", help="a trial's configuration's predictions for any inputs")
    p.add_argument("record", help="trial record, RUN_DIR/trials/<trial>.jsonl")
    p.add_argument("inputs", help="CSV with a 'hex' column (plain or .gz)")
    p.add_argument("--out", required=True, help="output CSV: hex,prediction")
    p.set_defaults(func=_cmd_predict)
    p = sub.add_parser("list", help="list tasks and agents")
    p.set_defaults(func=_cmd_list)
    for name, module in sorted(registry.command_modules().items()):
        try:
            importlib.import_module(module).register(sub)
        except ImportError as exc:
            sub.add_parser(name, help=f"(unavailable: {exc})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (1 for a user error, printed as one line)."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not hasattr(args, "func"):
            raise UserError(f"command {args.command!r} is unavailable")
        return int(args.func(args))
    except UserError as exc:
        print(f"tunebench: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (e.g. `tunebench list | head`): not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(
            "tunebench: interrupted; finished trials are saved, run again to resume",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
