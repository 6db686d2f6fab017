"""Extract blocksim's default tables from LLVM's scheduling models (llvm-mca's own view).

For each LLVM version (14: znver3, znver2, haswell, skylake; 22: znver4, znver5):

1. every decodable opcode gets an instance from LLVM's encoder (:mod:`envs.x86.oracle`),
   plus instances for the variant keys: equal source registers (``#same``), every
   LEA address shape, condition codes A/BE, zero immediates; the shipped opcode
   description (:mod:`envs.x86.llvmdesc`) is rebuilt from the same run;
2. each instance is read as BlockSim reads blocks (decoded by llvm-mc, prefixes folded,
   the text assembled again as llvm-mca reads it) and keyed with
   :func:`envs.blocksim.isa.analyze`; an opcode the assembler never produces from text
   (``_REV`` forms, EVEX forms of VEX-encodable operands, ...) gets no key: llvm-mca
   cannot see it;
3. per CPU, llvm-mca's InstrBuilder describes one instance per key: latency, write
   latencies, micro-ops, resources (the model's own, with llvm-mca's subtraction of
   cycles that sub-resources already account for), scheduler buffers, ReadAdvance
   per use, idiom-independent reads, move elimination, load / store flags. A key whose
   instances llvm-mca resolves to different scheduling classes is reported
   (``meta.inconsistent_keys``): the key function would merge distinct behaviours.

Coverage per CPU (``meta.coverage``): keys in the table, opcodes with an instance,
and opcodes llvm-mca rejects for that CPU (e.g. AVX-512 on znver3).
"""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from envs.blocksim.isa import analyze
from envs.blocksim.tables import CPU_LLVM, TABLE_DIR, Table
from envs.x86 import llvmdesc, oracle
from envs.x86.disasm import disassemble, llvm_tool
from harness.errors import UserError

VERSION_CPUS = {14: ("znver3", "znver2", "haswell", "skylake"), 22: ("znver4", "znver5")}

_CONDS = "o no b ae e ne be a s ns p np l ge le g".split()


def _lea_probes() -> list[str]:
    out = []
    for op, dst, regs in (("leaq", "%rax", ("%rsi", "%rdi")), ("leal", "%eax", ("%rsi", "%rdi"))):
        for base in (regs[0], ""):
            for index in ("," + regs[1], ""):
                for scale in ("", ",4"):
                    for disp in ("", "8"):
                        if (not index and scale) or (not base and not index):
                            continue
                        out.append(f"{op} {disp}({base}{index}{scale if index else ''}), {dst}")
        out.append(f"{op} 8(%rip), {dst}")
    out += ["leaw 8(%rsi,%rdi,4), %ax", "leaw (%rsi), %ax"]
    return out


def variant_probes() -> list[str]:
    """AT&T lines that exercise every LEA shape, condition code and zero immediate."""
    lines = _lea_probes()
    for c in _CONDS:
        lines += [f"cmov{c}l %ecx, %eax", f"cmov{c}q (%rdi), %rax", f"set{c} %al",
                  f"set{c} (%rdi)", f"cmov{c}w %cx, %ax", f"cmov{c}q %rcx, %rax",
                  f"cmov{c}l (%rdi), %eax", f"cmov{c}w (%rdi), %ax"]  # fmt: skip
    for op in ("adc", "sbb"):
        for imm in (0, 1):
            lines += [f"{op}l ${imm}, %ecx", f"{op}q ${imm}, %rcx", f"{op}w ${imm}, %cx"]
    return lines


def assemble(lines: Sequence[str], version: int = 14) -> list[str]:
    """Hex encoding of each AT&T line (llvm-mc of LLVM ``version``)."""
    proc = subprocess.run(
        [llvm_tool("llvm-mc", version), "-show-encoding", "-triple=x86_64"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    encs = re.findall(r"encoding: \[([^\]]*)\]", proc.stdout)
    if proc.returncode != 0 or len(encs) != len(lines):
        raise UserError(f"llvm-mc could not assemble the probes: {proc.stderr[:300]}")
    return ["".join(b.strip()[2:] for b in enc.split(",")) for enc in encs]


def _model_layout(model: dict[str, Any]) -> tuple[list[str], list[str], list[tuple[int, ...]]]:
    """(units, resources, units per resource) of a scheduling model, resources in
    llvm-mca's allocation order: single resources (their own mask bit) in model order,
    then groups by number of members, then model order."""
    units: list[str] = []
    own: dict[str, tuple[int, ...]] = {}
    singles, groups = [], []
    for r in model["resources"]:
        if r["subs"]:
            groups.append(r)
            continue
        first = len(units)
        units += [r["name"]] if r["units"] == 1 else [f"{r['name']}.{k}" for k in range(r["units"])]
        own[r["name"]] = tuple(range(first, len(units)))
        singles.append(r["name"])
    order = sorted(range(len(groups)), key=lambda g: len(set(groups[g]["subs"])))
    names = list(singles)
    members = [own[n] for n in singles]
    for g in order:
        us: list[int] = []
        for sub in dict.fromkeys(groups[g]["subs"]):
            us += own.get(sub, ())
        names.append(groups[g]["name"])
        members.append(tuple(us))
        own[groups[g]["name"]] = tuple(us)
    return units, names, members


def _signature(row: dict[str, Any]) -> tuple:
    return (row["class"], row["zero_idiom"], row["dep_breaking"], row["opt_move"])


def build_table(
    cpu: str, version: int, reps: dict[str, list[str]], desc: llvmdesc.LLVMDesc
) -> tuple[Table, dict[str, Any]]:
    """``cpu``'s table from llvm-mca's view of the representative instances ``reps``
    (key -> hex instances, the first one used); (table, extraction report)."""
    _, model, regs = oracle.registers(cpu, version)
    units, res_names, members = _model_layout(model)
    rpos = {n: i for i, n in enumerate(res_names)}
    buffer_size = {r["name"]: r["buffer"] for r in model["resources"] if r["buffer"] > 0}
    keys = sorted(reps)
    flat = [(k, h) for k in keys for h in reps[k][:4]]
    rows = oracle.describe([h for _, h in flat], cpu, version)
    by_key: dict[str, list[dict[str, Any]]] = {}
    for (k, _), block in zip(flat, rows, strict=True):
        if len(block) == 1 and "error" not in block[0]:
            by_key.setdefault(k, []).append(block[0])
    rejected = sorted(k for k in keys if k not in by_key)
    inconsistent = sorted(k for k, rs in by_key.items() if len({_signature(r) for r in rs}) > 1)
    out_keys = sorted(by_key)
    n = len(out_keys)
    lat = np.zeros(n, np.int64)
    uops = np.zeros(n, np.int64)
    ra = np.zeros(n, np.int64)
    rc = np.zeros((n, len(res_names)), np.int64)
    ld = np.zeros(n, bool)
    st = np.zeros(n, bool)
    mv = np.zeros(n, bool)
    buffers = sorted({b for rs in by_key.values() for b in rs[0]["buffers"]})
    bpos = {b: j for j, b in enumerate(buffers)}
    buse = np.zeros((n, len(buffers)), bool)
    wofs, adv, fadv, indep, rsv = [], [], [], [], []
    reserved: list[str] = []
    for i, k in enumerate(out_keys):
        r = by_key[k][0]
        lat[i], uops[i] = r["lat"], r["uops"]
        ld[i], st[i], mv[i] = bool(r["load"]), bool(r["store"]), bool(r["opt_move"])
        held = []
        for name, cycles, _n_units, is_reserved in r["res"]:
            if is_reserved:  # a group reserved whole (DIV on the Intel models)
                reserved.append(k)
                held.append((rpos[name], int(cycles)))
                continue
            rc[i, rpos[name]] += cycles
        rsv.append(tuple(held))
        for b in r["buffers"]:
            buse[i, bpos[b]] = True
        wofs.append(tuple(int(w["lat"]) - int(r["lat"]) for w in r["writes"]))
        pos = sorted({x["adv"] for x in r["reads"] if x["adv"] > 0})
        ra[i] = pos[-1] if pos else 0
        adv.append(tuple(sorted({x["use"] for x in r["reads"] if x["adv"] > 0})))
        fadv.append(tuple(sorted({(x["use"], x["adv"]) for x in r["reads"] if x["adv"] < 0})))
        indep.append(tuple(sorted({x["use"] for x in r["reads"] if x["indep"]})))
    rename_as = {r["name"]: r["rename_as"] for r in regs if r["rename_as"]}
    move_elim = {r["name"] for r in regs if r["move_elim"]}
    lq = buffer_size.get(model["load_queue"], 0) if model["load_queue"] else 0
    sq = buffer_size.get(model["store_queue"], 0) if model["store_queue"] else 0
    table = Table(
        cpu=cpu,
        dispatch_width=int(model["issue_width"]),
        rob_size=int(model["rob"]),
        units=tuple(units),
        resources=tuple(res_names),
        resource_units=tuple(members),
        opcodes=tuple(out_keys),
        latency=lat,
        micro_ops=uops,
        read_advance=ra,
        resource_cycles=rc,
        may_load=ld,
        may_store=st,
        buffers=tuple(buffers),
        buffer_sizes=tuple(int(buffer_size[b]) for b in buffers),
        buffer_use=buse,
        load_queue=int(lq),
        store_queue=int(sq),
        llvm_version=version,
        write_offsets=tuple(wofs),
        advance_uses=tuple(adv),
        fixed_advance=tuple(fadv),
        independent_uses=tuple(indep),
        reserved=tuple(rsv),
        move=mv,
        rename_as=rename_as,
        move_elim=frozenset(move_elim),
        meta={
            "source": "llvm-mca InstrBuilder (envs/x86/mcoracle.cpp) on one instance per key",
            "llvm_version": desc.llvm,
            "representatives": {k: reps[k][0] for k in out_keys},
        },
    )
    report = {
        "keys": n,
        "rejected_keys": len(rejected),
        "inconsistent_keys": inconsistent,
        "reserved_group_keys": sorted(set(reserved)),
    }
    return table, report


def representatives(
    version: int, rows: list[dict[str, Any]], desc: llvmdesc.LLVMDesc
) -> dict[str, list[str]]:
    """key -> hex instances, read as BlockSim reads blocks (decoded, then the text
    assembled again, as llvm-mca reads it), for every key; the hex is the assembler's."""
    hexes = [r["hex"] for r in rows if r["hex"]]
    hexes += [r["hex_same"] for r in rows if r["hex"] and r["hex_same"]]
    hexes += assemble(variant_probes(), version)
    decoded = disassemble(hexes, version, fold_prefixes=True, ud2_blocks=True, reassemble=True)
    reps: dict[str, list[str]] = {}
    for h, insts in zip(hexes, decoded, strict=True):
        if insts is None or len(insts) != 1:
            continue
        key = analyze(insts[0], desc).key
        reps.setdefault(key, []).append(insts[0].encoding or h)
    return reps


def extract_tables(
    cpus: Sequence[str], out_dir: str | Path = TABLE_DIR, log: io.TextIOBase | None = None
) -> dict[str, Path]:
    """Rebuild the shipped LLVM descriptions and ``cpus``' tables; cpu -> table path."""
    paths: dict[str, Path] = {}
    for version in sorted({CPU_LLVM[c] for c in cpus}):
        rows = oracle.opcodes(version)
        desc_dict = llvmdesc.build_desc(version, VERSION_CPUS[version], rows)
        llvmdesc.save_desc(desc_dict, version)
        desc = llvmdesc.load_desc(version)
        reps = representatives(version, rows, desc)
        n_instances = sum(1 for r in rows if r["hex"])
        for cpu in [c for c in cpus if CPU_LLVM[c] == version]:
            table, report = build_table(cpu, version, reps, desc)
            opcodes = {k.split("#")[0] for k in table.opcodes}
            table.meta["coverage"] = {
                "keys": len(table.opcodes),
                "opcodes": len(opcodes),
                "decodable_opcodes": n_instances,
                "rejected_keys": report["rejected_keys"],
                "inconsistent_keys": report["inconsistent_keys"],
                "reserved_group_keys": report["reserved_group_keys"],
            }
            path = Path(out_dir) / f"{cpu}.json.gz"
            table.save(path)
            paths[cpu] = path
            if log is not None:
                log.write(
                    f"{cpu} (LLVM {desc.llvm}): {len(table.opcodes)} keys, {len(opcodes)} of "
                    f"{n_instances} decodable opcodes ({report['rejected_keys']} keys rejected by "
                    f"llvm-mca for this CPU), {len(table.resources)} resources, "
                    f"{len(report['inconsistent_keys'])} inconsistent keys -> {path}\n"
                )
    return paths
