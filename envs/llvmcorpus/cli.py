"""``tunebench corpus``: build the real-world LLVM bitcode corpus, or list what is built.

Examples::

    tunebench corpus build                       # every package (downloads, then builds)
    tunebench corpus build --packages zlib lz4 --jobs 2
    tunebench corpus list                        # modules and skips per package and split

Also runnable as ``python -m envs.llvmcorpus.cli ...``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter

from envs.llvmcorpus.corpus import SPLITS, Corpus, load_corpus
from envs.llvmcorpus.store import corpus_root


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``corpus`` subcommand with ``build`` and ``list``."""
    p = subparsers.add_parser(
        "corpus",
        help="real-world LLVM bitcode corpus from Debian sources (build, list)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    add_arguments(p)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``corpus`` subcommands (shared by the plugin and ``python -m``)."""
    sub = p.add_subparsers(dest="corpus_command", required=True)
    b = sub.add_parser("build", help="download and build missing packages (cached)")
    b.add_argument("--packages", nargs="+", metavar="NAME", help="Debian source packages")
    b.add_argument("--jobs", type=int, help="parallel compiles (default: CPU count)")
    b.add_argument("--keep-work", action="store_true", help="keep scratch build trees")
    b.set_defaults(func=main_build)
    ls = sub.add_parser("list", help="per-package modules and skips (builds nothing)")
    ls.add_argument("--packages", nargs="+", metavar="NAME", help="Debian source packages")
    ls.add_argument("--skips", action="store_true", help="print every skipped TU and why")
    ls.set_defaults(func=main_list)


def print_table(corpus: Corpus, skips: bool = False) -> None:
    """Per-package lines (split, status, version, modules, skips by stage) and totals."""
    print(f"corpus folder: {corpus_root()}")
    print(f"{'package':<12} {'split':<5} {'status':<9} {'modules':>7}  {'skipped':<32} version")
    for info in corpus.packages.values():
        stages = Counter(s["stage"] for s in info.skips)
        skipped = ", ".join(f"{n} {k}" for k, n in sorted(stages.items())) or "-"
        print(
            f"{info.name:<12} {info.split:<5} {info.status:<9} {info.modules:>7}  "
            f"{skipped:<32} {info.version}"
        )
        if info.note and info.status != "ok":
            print(f"{'':<12} {info.note}")
        for s in info.skips if skips else ():
            print(f"{'':<12} {s['stage']:<9} {s['source'] or '(package)'}: {s['reason']}")
    split = corpus.split()
    for name in SPLITS:
        mods = split[name]
        print(
            f"{name:<5}: {len(mods):>5} modules, {sum(m.instructions for m in mods):>9} "
            f"instructions, {len(split.packages[name])} packages: "
            f"{' '.join(split.packages[name])}"
        )
    if split.dropped:
        print(f"dropped from train/val as copies of val/test modules: {len(split.dropped)}")
    print(f"total: {len(corpus.modules)} modules")


def main_build(args: argparse.Namespace) -> int:
    """Build (or find cached) the selected packages, then print the table."""
    corpus = load_corpus(args.packages, jobs=args.jobs, keep_work=args.keep_work)
    print_table(corpus)
    failed = [p for p, i in corpus.packages.items() if i.status == "failed"]
    return 1 if failed and not corpus.modules else 0


def main_list(args: argparse.Namespace) -> int:
    """Print what is built; downloads and builds nothing."""
    print_table(load_corpus(args.packages, build=False), skips=args.skips)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m envs.llvmcorpus.cli``: the same commands without the tunebench CLI."""
    from harness.errors import UserError

    parser = argparse.ArgumentParser(prog="corpus")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UserError as exc:
        print(f"corpus: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `... list | head`: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
