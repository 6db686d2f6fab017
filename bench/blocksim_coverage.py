"""Opcode coverage of blocksim's shipped tables: opcodes each scheduling model defines
vs opcodes in the table.

    .venv/bin/python bench/blocksim_coverage.py [--cpus znver3 ...] [--examples 8]

Per CPU (LLVM 14: znver3, znver2, haswell, skylake; LLVM 22: znver4, znver5):

- ``defined``: non-pseudo opcodes whose scheduling class in the CPU's model is valid
  (llvm-mca accepts them; variant classes included), from ``mcoracle sched``;
- ``in table``: those with at least one key in the shipped table;
- the rest, by reason: LLVM's encoder makes no 64-bit instance that decodes back to the
  opcode (``no instance``: 32-bit-only forms, disassembler-only or codegen-only forms;
  ``encodes as X``: alternative encodings such as ``_REV`` that the decoder reads as
  another opcode), or an instance that reads back as another opcode once its text is
  assembled again, as llvm-mca reads it (``reassembles as another``), or llvm-mca
  rejects the instance (``rejected``).

Also printed: table opcodes the model does not define (should be none).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envs.blocksim.tables import CPU_LLVM, load_default_table  # noqa: E402
from envs.x86 import oracle  # noqa: E402
from envs.x86.llvmdesc import load_desc  # noqa: E402


def coverage(cpu: str, rows: list[dict], examples: int) -> dict:
    """Coverage figures of ``cpu``'s shipped table (``rows``: oracle.opcodes)."""
    version = CPU_LLVM[cpu]
    table = load_default_table(cpu)
    desc = load_desc(version)
    sched = oracle.sched(cpu, version)
    defined = {r["opcode"] for r in sched if r["valid"] and not r["pseudo"]}
    variant = {r["opcode"] for r in sched if r["variant"] and not r["pseudo"]}
    in_table = {k.split("#")[0] for k in table.opcodes}
    by_opcode = {r["opcode"]: r for r in rows}
    instances = set(desc.instances)
    reasons: dict[str, list[str]] = {}
    for op in sorted(defined - in_table):
        r = by_opcode.get(op, {})
        if r.get("hex"):
            why = "reassembles as another opcode or rejected"
        elif r.get("decodes_as") and r["decodes_as"] != op:
            why = "encodes as another opcode (alternative encoding)"
        else:
            why = "no 64-bit instance from the encoder"
        reasons.setdefault(why, []).append(op)
    return {
        "cpu": cpu,
        "llvm": version,
        "opcodes_total": len(sched),
        "defined": len(defined),
        "defined_variant": len(variant),
        "in_table": len(defined & in_table),
        "coverage": len(defined & in_table) / max(1, len(defined)),
        "table_keys": len(table.opcodes),
        "table_opcodes_not_defined": sorted(in_table - defined)[:examples],
        "n_table_opcodes_not_defined": len(in_table - defined),
        "with_instance": len(defined & instances),
        "missing_by_reason": {k: len(v) for k, v in reasons.items()},
        "missing_examples": {k: v[:examples] for k, v in reasons.items()},
        "missing_prefixes": {
            k: Counter(op.rstrip("0123456789").split("_")[0][:6] for op in v).most_common(6)
            for k, v in reasons.items()
        },
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--cpus",
        nargs="+",
        default=["znver3", "znver2", "haswell", "skylake", "znver4", "znver5"],
    )
    ap.add_argument("--examples", type=int, default=8)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rows_by_version: dict[int, list[dict]] = {}
    out = []
    for cpu in args.cpus:
        v = CPU_LLVM[cpu]
        if v not in rows_by_version:
            rows_by_version[v] = oracle.opcodes(v)
        c = coverage(cpu, rows_by_version[v], args.examples)
        out.append(c)
        print(
            f"{cpu:8s} LLVM {v}: model defines {c['defined']} opcodes ({c['defined_variant']} "
            f"variant) of {c['opcodes_total']}; in table {c['in_table']} "
            f"({c['coverage']:.1%}); table keys {c['table_keys']}; table opcodes the model "
            f"does not define: {c['n_table_opcodes_not_defined']}",
            flush=True,
        )
        for why, n in c["missing_by_reason"].items():
            print(f"    missing, {why}: {n}  e.g. {', '.join(c['missing_examples'][why])}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
