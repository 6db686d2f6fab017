"""``tunebench gemm-collect``: time every GEMM schedule on every shape on this CPU.

Examples::

    tunebench gemm-collect --out envs/gemm/data/gemm_znver4.csv.gz --cpu 1
    tunebench gemm-collect --out my_table.csv.gz --lognormal 40 --limit-shapes 5
    tunebench gemm-collect --out envs/gemm/data/gemm_znver4.csv.gz --remeasure 400 --cpu 1

Re-running with the same ``--out`` resumes (finished shapes are kept); parts measured on
another CPU or with other settings are refused. ``--remeasure N`` re-times N random
(shape, configuration) pairs of an existing table and records the agreement in its
sidecar. ``--refine N`` re-times the N fastest schedules of every shape with more
repeats (``--refine-repeats``); the table then uses those. Pin the process to one idle
core (``--cpu``) and keep the machine quiet.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from harness.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``gemm-collect`` subcommand."""
    p = subparsers.add_parser(
        "gemm-collect",
        help="time every GEMM schedule on every shape on this CPU (resumable)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument(
        "--out", required=True, help="table path, e.g. envs/gemm/data/gemm_znver4.csv.gz"
    )
    p.add_argument(
        "--lognormal", type=int, default=130, help="log-normal shapes (plus model shapes)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the log-normal draws / re-measure")
    p.add_argument("--no-model-shapes", action="store_true", help="leave out real models' shapes")
    p.add_argument("--limit-shapes", type=int, help="time at most N new shapes in this call")
    p.add_argument(
        "--max-minutes", type=float, help="start no new shape after N minutes (resumable)"
    )
    p.add_argument("--warmup", type=int, default=2, help="untimed calls before timing")
    p.add_argument("--repeats", type=int, default=5, help="timed samples per pair (median)")
    p.add_argument(
        "--min-sample-ms", type=float, default=0.3, help="least duration of a sample, ms"
    )
    p.add_argument(
        "--clock",
        choices=("thread-cpu", "monotonic"),
        help="what a sample reads: the timing thread's CPU time (default for a new table: "
        "preemption by other processes is not counted) or wall-clock time; --refine and "
        "--remeasure use the table's",
    )
    p.add_argument(
        "--reference",
        action="store_true",
        help="time each schedule between two timings of the shape's reference schedule and "
        "keep the ratio (cancels the machine's drift; twice the timing); --refine and "
        "--remeasure use the table's method",
    )
    p.add_argument("--cpu", type=int, help="pin this process to one CPU core")
    p.add_argument("--jobs", type=int, default=2, help="clang processes when compiling")
    p.add_argument("--remeasure", type=int, metavar="N", help="re-time N random pairs of --out")
    p.add_argument(
        "--refine", type=int, metavar="N", help="re-time the N fastest schedules of every shape"
    )
    p.add_argument("--refine-repeats", type=int, default=15, help="repeats of --refine")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Run ``tunebench gemm-collect``."""
    from envs.gemm.collect import collect
    from envs.gemm.remeasure import remeasure
    from envs.gemm.shapes import default_shapes, lognormal_shapes
    from envs.gemm.timing import TimingSettings

    if args.cpu is not None:
        try:
            os.sched_setaffinity(0, {args.cpu})
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot pin to CPU {args.cpu}: {exc}") from None
    for name in ("warmup", "repeats", "lognormal", "jobs"):
        if getattr(args, name) < (0 if name in ("warmup", "lognormal") else 1):
            raise UserError(f"--{name} is out of range: {getattr(args, name)}")
    out = Path(args.out)
    clock = args.clock or "thread-cpu"
    if args.refine is not None or args.remeasure is not None:
        clock = _table_clock(out, args.clock)
    timing = TimingSettings(
        warmup=args.warmup,
        repeats=args.repeats,
        min_sample_ms=args.min_sample_ms,
        clock=clock,
        reference=args.reference,
    )
    if args.refine is not None:
        from envs.gemm.refine import refine

        fine = TimingSettings(args.warmup, args.refine_repeats, args.min_sample_ms, clock)
        print(refine(out, args.refine, fine, quiet=args.quiet))
        return 0
    if args.remeasure is not None:
        summary = remeasure(out, args.remeasure, timing, seed=args.seed, quiet=args.quiet)
        print(summary)
        return 0
    if args.no_model_shapes:
        shapes = lognormal_shapes(args.lognormal, args.seed)
    else:
        shapes = default_shapes(args.lognormal, args.seed)
    table = collect(
        out,
        shapes,
        timing,
        limit_shapes=args.limit_shapes,
        max_minutes=args.max_minutes,
        jobs=args.jobs,
        quiet=args.quiet,
    )
    print(table)
    return 0


def _table_clock(out: Path, asked: str | None) -> str:
    """The clock the table at ``out`` was timed with; one clear error when ``asked``
    differs (a re-timing on another clock would not be comparable)."""
    from envs.gemm.collect import stem_of
    from envs.gemm.timing import retiming_clock

    sidecar = stem_of(out).with_name(stem_of(out).name + ".json")
    if not sidecar.is_file():
        raise UserError(f"{out}: no table to re-time ({sidecar} is missing)")
    return retiming_clock(json.loads(sidecar.read_text()), asked, str(out))


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(prog="gemm-collect")
    sub = parser.add_subparsers()
    register(sub)
    ns = parser.parse_args(["gemm-collect", *sys.argv[1:]])
    try:
        sys.exit(ns.func(ns))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
