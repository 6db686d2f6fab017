"""Refine the fastest schedules of every shape: re-time them with more repeats.

Selection is decided among a shape's fastest schedules, and the exhaustive minimum over
1,296 noisy medians is biased low (the winner's curse: the schedule whose noise came out
lowest wins). A second pass re-times the ``top`` fastest schedules of each shape with
``repeats`` samples (same method otherwise); the table then uses the refined medians for
those pairs (``<stem>.refine.csv``: shape, config, first_us, refined_us, spread; the
summary goes to the sidecar under ``refine``).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np

from envs.gemm.build import KernelLibrary
from envs.gemm.collect import Progress, add_to_sidecar, stem_of
from envs.gemm.table import load_table
from envs.gemm.timing import TimingSettings, retime, retiming_settings
from envs.groundtruth.measure.cpu import cpu_identity, mismatch
from harness.errors import UserError
from harness.store import write_atomic


def refine(out: Path, top: int, timing: TimingSettings, quiet: bool = False) -> str:
    """Re-time the ``top`` fastest schedules of every shape of the table at ``out`` with
    ``timing``; returns a one-line summary."""
    stem = stem_of(out)
    path = stem.with_name(stem.name + ".csv.gz")
    refine_csv = stem.with_name(stem.name + ".refine.csv")
    if refine_csv.is_file():
        raise UserError(f"{refine_csv} exists: the table is refined already")
    load_table.cache_clear()
    table = load_table(str(path))
    timing = retiming_settings(table.meta, timing, str(out))  # the table's clock and method
    why = mismatch(table.meta.get("cpu"), cpu_identity())
    if why:
        raise UserError(f"cannot refine {out}: {why}")
    if not 1 <= top <= table.n_configs:
        raise UserError(f"--refine needs 1..{table.n_configs} schedules per shape, not {top}")
    lib = KernelLibrary(table.configs)
    progress = Progress(top * len(table.shapes), "refining", quiet=quiet)
    lines = ["shape,config,first_us,refined_us,spread"]
    first_best, refined_best, changed = [], [], 0
    for row, shape in enumerate(table.shapes):
        ids = np.argsort(table.times_us[row], kind="stable")[:top]
        med, spread, _, _ = retime(lib, table, row, ids, timing, seed=row, on_done=progress)
        first = table.times_us[row, ids]
        for cid, a, b, s in zip(ids, first, med, spread, strict=True):
            lines.append(f"{shape.name},{table.meta['configs'][cid]},{a:.5g},{b:.5g},{s:.3g}")
        first_best.append(first[0])
        refined_best.append(med.min())
        changed += int(np.argmin(med) != 0)
    write_atomic(refine_csv, ("\n".join(lines) + "\n").encode())
    fb, rb = np.array(first_best), np.array(refined_best)
    summary = {
        "top": top,
        "timing": timing.to_json(),
        "when": _dt.datetime.now(_dt.UTC).isoformat(),
        "best_refined_over_first_geomean": float(np.exp(np.mean(np.log(rb / fb)))),
        "shapes_whose_best_changed": changed,
        "shapes": len(table.shapes),
    }
    add_to_sidecar(stem, "refine", summary)
    return (
        f"refined the top {top} of {len(table.shapes)} shapes: the best's refined time / first "
        f"{summary['best_refined_over_first_geomean']:.3f} (geomean), best schedule changed on "
        f"{changed} shapes"
    )
