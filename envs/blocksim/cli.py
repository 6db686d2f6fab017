"""``blocksim-tables``: regenerate blocksim's default tables from llvm-mca 14.

    python -m envs.blocksim.cli blocksim-tables [--cpus znver3 haswell] [--limit N]

Decodes BHive's block list once, picks one representative instruction per table key,
runs ``llvm-mca -instruction-tables -json`` per CPU and writes
``envs/blocksim/tables/<cpu>.json.gz`` (atomically).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.errors import UserError

DEFAULT_BLOCKS = Path(__file__).resolve().parents[3] / "shared" / "data" / "bhive" / "blocks.csv.gz"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``blocksim-tables`` subcommand."""
    from envs.blocksim.tables import DEFAULT_CPUS, TABLE_DIR

    p = subparsers.add_parser(
        "blocksim-tables", help="regenerate blocksim default tables from llvm-mca 14"
    )
    p.add_argument("--cpus", nargs="+", default=list(DEFAULT_CPUS), help="llvm-mca -mcpu names")
    p.add_argument("--blocks", default=str(DEFAULT_BLOCKS), help="BHive blocks.csv.gz (column hex)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N blocks")
    p.add_argument("--out-dir", default=str(TABLE_DIR), help="where <cpu>.json.gz go")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Run the extraction; 0 on success."""
    from envs.blocksim.tables import extract_tables

    if not Path(args.blocks).exists():
        raise UserError(f"block list {args.blocks} not found (pass --blocks)")
    extract_tables(args.cpus, args.blocks, args.limit, args.out_dir, log=sys.stdout)
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
