"""``blocksim-tables``: regenerate blocksim's default tables from LLVM's scheduling models.

    python -m envs.blocksim.cli blocksim-tables [--cpus znver3 znver4]

Builds ``envs/x86/mcoracle.cpp`` against LLVM 14 / 22 (needs ``llvm-<v>-dev`` and g++),
rebuilds the shipped opcode descriptions (``envs/x86/data/llvm<v>.json.gz``) and
writes ``envs/blocksim/tables/<cpu>.json.gz`` (atomically) for every opcode each CPU's
model knows; see :mod:`envs.blocksim.extract`.
"""

from __future__ import annotations

import argparse
import sys

from harness.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``blocksim-tables`` subcommand."""
    from envs.blocksim.tables import DEFAULT_CPUS, TABLE_DIR

    p = subparsers.add_parser(
        "blocksim-tables",
        help="regenerate blocksim default tables from LLVM's scheduling models",
    )
    p.add_argument("--cpus", nargs="+", default=list(DEFAULT_CPUS), help="llvm-mca -mcpu names")
    p.add_argument("--out-dir", default=str(TABLE_DIR), help="where <cpu>.json.gz go")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Run the extraction; 0 on success."""
    from envs.blocksim.extract import extract_tables
    from envs.blocksim.tables import CPU_LLVM

    bad = [c for c in args.cpus if c not in CPU_LLVM]
    if bad:
        raise UserError(f"no LLVM model chosen for cpu(s) {bad}; known: {sorted(CPU_LLVM)}")
    extract_tables(args.cpus, args.out_dir, log=sys.stdout)
    return 0


def _entry(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m envs.blocksim.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(_entry())
