"""``tunebench measure``: time basic blocks on this CPU (BHive method) into a CSV.

Examples::

    tunebench measure blocks.csv --out measured.csv            # a CSV with a hex column
    tunebench measure --hex 4801c0 480fafc0 --out chains.csv   # blocks on the command line
    tunebench measure ../shared/data/bhive/blocks.csv.gz --sample 16000 --seed 0 \\
        --stratify-by sources --skip-invalid --out runs/bhive_{uarch}.csv   # any CPU
    tunebench measure --self-check                            # is this machine measuring right?
    tunebench measure --compare bhive_znver4.csv.gz bhive_znver4_repeat.csv.gz  # noise floor

Also runnable as ``python -m envs.groundtruth.measure.cli ...``.
"""

from __future__ import annotations

import argparse
import sys

from envs.groundtruth.measure import runner
from harness.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``measure`` subcommand (its handler is :func:`main`)."""
    p = subparsers.add_parser(
        "measure",
        help="measure basic-block throughput on this CPU (cycles per 100 iterations)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    add_arguments(p)
    p.set_defaults(func=main)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``measure`` options (shared by the plugin and ``python -m``)."""
    p.add_argument("input", nargs="?", help="CSV (plain or .gz) with a 'hex' column")
    p.add_argument("--hex", nargs="+", metavar="HEX", help="blocks as hex machine code")
    p.add_argument(
        "--out",
        help="output CSV (appended to; re-running resumes); {uarch} in it becomes this CPU's "
        "microarchitecture (e.g. runs/bhive_{uarch}.csv -> runs/bhive_znver4.csv)",
    )
    p.add_argument("--runs", type=int, default=5, help="independent processes per block (median)")
    p.add_argument("--samples", type=int, default=64, help="timed calls per process (minimum)")
    p.add_argument("--target-us", type=float, default=100.0, help="duration of one timed call, us")
    p.add_argument("--timeout", type=float, default=2.0, help="limit per run (process), seconds")
    p.add_argument("--max-pages", type=int, default=512, help="most pages mapped for one block")
    p.add_argument("--limit", type=int, help="measure at most N new blocks in this call")
    p.add_argument("--sample", type=int, help="measure a seeded random sample of N input blocks")
    p.add_argument("--seed", type=int, default=0, help="seed of --sample")
    p.add_argument(
        "--stratify-by", metavar="COLUMN", help="stratify --sample by this column (e.g. sources)"
    )
    p.add_argument("--skip-invalid", action="store_true", help="drop empty or non-hex input rows")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument(
        "--self-check",
        action="store_true",
        help="time the shipped microbenchmark suite and compare with published cycle counts",
    )
    p.add_argument(
        "--compare",
        nargs=2,
        metavar=("FIRST", "REPEAT"),
        help="agreement of a repeat measurement with the first (MAPE, Kendall tau, within "
        "1/3/5%%) over blocks ok in both; stored in FIRST's sidecar (see --store-as)",
    )
    p.add_argument(
        "--store-as",
        default="noise_floor",
        metavar="KEY",
        help="sidecar key for --compare (noise_floor: same CPU only; e.g. cross_cpu otherwise)",
    )
    p.add_argument("--no-store", action="store_true", help="--compare: print only")


def main(args: argparse.Namespace) -> int:
    """Run ``tunebench measure``; returns the exit code (UserError propagates)."""
    if args.self_check:
        return _self_check(args)
    if args.compare:
        return _compare(args)
    if args.out is None:
        raise UserError("--out is required (the CSV to write), unless --self-check or --compare")
    if (args.input is None) == (args.hex is None):
        raise UserError("give either an input CSV or --hex HEX [HEX ...], not both or neither")
    if "{uarch}" in args.out:
        from envs.groundtruth.measure.cpu import cpu_identity

        args.out = args.out.replace("{uarch}", cpu_identity().uarch)
    if args.stratify_by and args.sample is None:
        raise UserError("--stratify-by needs --sample N")
    config = runner.MeasureConfig(
        runs=args.runs,
        samples=args.samples,
        target_us=args.target_us,
        timeout_s=args.timeout,
        max_pages=args.max_pages,
    )
    extra: dict[str, object] = {}
    if args.hex is not None:
        blocks = list(runner.iter_hex_args(args.hex))
        extra["input"] = "command line"
    else:
        rows = runner.read_input_csv(args.input, skip_invalid=args.skip_invalid)
        if not rows:
            raise UserError(f"{args.input}: no blocks")
        extra["input"] = str(args.input)
        if args.sample is not None:
            rows = runner.sample_rows(rows, args.sample, args.seed, args.stratify_by)
            extra["sample"] = {"n": args.sample, "seed": args.seed, "stratify_by": args.stratify_by}
        blocks = [r["hex"] for r in rows]
    if args.limit is not None and args.limit < 0:
        raise UserError(f"--limit must be >= 0, got {args.limit}")
    summary = runner.measure_blocks(
        blocks,
        args.out,
        config,
        limit=args.limit,
        progress=None if args.quiet else sys.stderr,
        extra_meta=extra,
    )
    if not args.quiet:
        counts = " ".join(f"{k} {v}" for k, v in sorted(summary.counts.items()))
        if summary.noisy_details:
            why = ", ".join(f"{k} {v}" for k, v in sorted(summary.noisy_details.items()))
            counts += f"; noisy because: {why}"
        print(
            f"measured {summary.measured} blocks ({counts or 'none'}), skipped {summary.skipped} "
            f"already in {args.out}, {summary.wall_s / max(summary.measured, 1):.3f} s/block",
            file=sys.stderr,
        )
    return 0


def _self_check(args: argparse.Namespace) -> int:
    """Print the self-check table; exit 1 if a checked bench is off or failed."""
    from envs.groundtruth.measure import selfcheck

    config = runner.MeasureConfig(runs=args.runs, samples=args.samples, target_us=args.target_us)
    report = selfcheck.run_self_check(config=config)
    print(selfcheck.format_report(report))
    return 1 if report.n_off else 0


def _compare(args: argparse.Namespace) -> int:
    """Print (and store in FIRST's sidecar) the agreement of REPEAT with FIRST."""
    from envs.groundtruth import noise

    first, repeat = args.compare
    if args.store_as == "noise_floor" and not args.no_store:
        why = noise.same_cpu(first, repeat)
        if why:
            raise UserError(f"a noise floor needs one CPU: {why} (use --store-as cross_cpu)")
    result = noise.compare(first, repeat)
    print(f"{args.store_as}: {result.describe()}")
    if not args.no_store:
        side = noise.store_noise_floor(first, result, key=args.store_as)
        print(f"stored under {args.store_as!r} in {side}")
    return 0


def _standalone(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m envs.groundtruth.measure.cli", description=__doc__
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return main(args)
    except UserError as exc:
        print(f"tunebench measure: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "tunebench measure: interrupted (re-run with the same --out to resume)", file=sys.stderr
        )
        return 130


if __name__ == "__main__":
    sys.exit(_standalone())
