"""``tunebench export``: a trial's tuned blocksim table as a readable file.

``tunebench export RUN_DIR/trials/<trial>.jsonl --out tuned.json`` writes the full table
(every opcode and the globals, with the trial's configuration applied to the CPU's
default) as indented JSON (``.json``) or gzip-compressed JSON (``.json.gz``). The
blocksim task loads it back with ``options = { table = "tuned.json" }`` (it becomes the
default configuration), and ``tunebench predict`` on a record of such a task predicts
with it.
"""

from __future__ import annotations

import argparse
import gzip
import json
from dataclasses import replace
from pathlib import Path

from envs.blocksim.tables import Table
from harness.errors import UserError


def load_table_file(path: str | Path) -> Table:
    """A table written by :func:`write_table_file` (``.json`` or ``.json.gz``)."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"blocksim table file not found: {p}")
    try:
        raw = p.read_bytes()
        text = gzip.decompress(raw).decode() if raw[:2] == b"\x1f\x8b" else raw.decode()
        return Table.from_json(json.loads(text))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{p}: not a blocksim table file ({exc})") from None


def write_table_file(table: Table, path: str | Path) -> None:
    """Write ``table`` readably (indented JSON; gzip for ``.gz``), atomically."""
    from harness.store import write_atomic

    text = json.dumps(table.to_json(), indent=1, sort_keys=True) + "\n"
    p = Path(path)
    write_atomic(p, gzip.compress(text.encode(), mtime=0) if p.name.endswith(".gz") else text)


def export_record(record_path: str | Path, out: str | Path) -> Table:
    """Rebuild the record's blocksim task, apply its configuration, write the table."""
    from harness.store import read_record
    from harness.trial import build_task

    rec = read_record(Path(record_path))
    if rec is None:
        raise UserError(f"{record_path}: not a valid trial record")
    if rec.get("task") != "blocksim":
        raise UserError(f"{record_path}: a {rec.get('task')} trial, not a blocksim one")
    if rec.get("status") != "ok" or not rec.get("config") or rec.get("task_options") is None:
        raise UserError(f"{record_path}: no chosen configuration or task options to export")
    task = build_task("blocksim", json.loads(rec["task_options"]))
    config = task.param_space.validate(json.loads(rec["config"]))
    table = task.simulator.table(config)  # type: ignore[attr-defined]
    # The table alone does not say which model it was tuned under; the blocksim task
    # that loads it back compares these with its own stack_engine / differenced options.
    facts = task.facts()
    table = replace(
        table,
        meta={
            **table.meta,
            "stack_engine": bool(facts.get("stack_engine")),
            "differenced": bool(facts.get("differenced")),
        },
    )
    write_table_file(table, out)
    return table


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("export", help="write a trial's tuned blocksim table to a file")
    p.add_argument("record", help="trial record, RUN_DIR/trials/<trial>.jsonl")
    p.add_argument("--out", required=True, help="table file: .json (readable) or .json.gz")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    table = export_record(args.record, args.out)
    print(f"{args.out}: blocksim {table.cpu} table, {len(table.opcodes)} opcodes")
    return 0
