"""Re-time a random subset of a table's (shape, configuration) pairs: the agreement of a
second measurement, later, with the first (the ground truth's noise floor).

Writes ``<stem>.remeasure.csv`` (shape, config, first_us, second_us) and records the
summary in the table's sidecar under ``remeasure``: pairs, the fraction within 5% and
10%, the median absolute relative difference, and the mean Kendall tau of the
configurations' order within each shape that has >= 5 re-timed pairs.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import kendalltau

from envs.gemm.build import KernelLibrary
from envs.gemm.collect import Progress, add_to_sidecar, stem_of
from envs.gemm.table import load_table
from envs.gemm.timing import TimingSettings, retime, retiming_settings
from envs.groundtruth.measure.cpu import cpu_identity, mismatch
from harness.errors import UserError
from harness.store import write_atomic


def agreement(first: np.ndarray, second: np.ndarray, shape_ids: np.ndarray) -> dict[str, Any]:
    """Agreement figures of two timings of the same pairs (float64 [n] each, us)."""
    rel = np.abs(second - first) / first
    taus = []
    for s in np.unique(shape_ids):
        sel = shape_ids == s
        if sel.sum() >= 5:
            taus.append(kendalltau(first[sel], second[sel]).statistic)
    return {
        "pairs": int(len(first)),
        "within_5pct": float(np.mean(rel <= 0.05)),
        "within_10pct": float(np.mean(rel <= 0.10)),
        "median_abs_rel_diff": float(np.median(rel)),
        "mean_ratio_second_over_first": float(np.exp(np.mean(np.log(second / first)))),
        "kendall_tau_within_shape": float(np.mean(taus)) if taus else float("nan"),
        "shapes_for_tau": len(taus),
    }


def remeasure(out: Path, n: int, timing: TimingSettings, seed: int = 0, quiet: bool = False) -> str:
    """Re-time ``n`` random pairs of the table at ``out``; returns a one-line summary."""
    stem = stem_of(out)
    table = load_table(str(stem.with_name(stem.name + ".csv.gz")))
    timing = retiming_settings(table.meta, timing, str(out))  # the table's clock and method
    why = mismatch(table.meta.get("cpu"), cpu_identity())
    if why:
        raise UserError(f"cannot re-measure {out}: {why}")
    rng = np.random.default_rng(seed)
    valid = np.argwhere(np.isfinite(table.times_us))
    if n < 1 or n > len(valid):
        raise UserError(f"--remeasure needs 1..{len(valid)} pairs, not {n}")
    pick = valid[np.sort(rng.choice(len(valid), n, replace=False))]
    lib = KernelLibrary(table.configs)
    progress = Progress(n, "re-timing", quiet=quiet)
    second = np.empty(n)
    for s in np.unique(pick[:, 0]):
        sel = np.flatnonzero(pick[:, 0] == s)
        second[sel] = retime(
            lib, table, int(s), pick[sel, 1], timing, seed=seed, on_done=progress
        ).median_us
    first = table.times_us[pick[:, 0], pick[:, 1]]
    lines = ["shape,config,first_us,second_us"]
    for (s, c), a, b in zip(pick, first, second, strict=True):
        key = "-".join(str(x) for x in [table.shapes[s].name])
        lines.append(f"{key},{table.meta['configs'][c]},{a:.5g},{b:.5g}")
    write_atomic(stem.with_name(stem.name + ".remeasure.csv"), ("\n".join(lines) + "\n").encode())
    summary = agreement(first, second, pick[:, 0])
    summary["when"] = _dt.datetime.now(_dt.UTC).isoformat()
    summary["seed"] = seed
    add_to_sidecar(stem, "remeasure", summary)
    return (
        f"{n} pairs re-timed: {summary['within_5pct']:.1%} within 5%, "
        f"{summary['within_10pct']:.1%} within 10%, median |diff| "
        f"{summary['median_abs_rel_diff']:.1%}, Kendall tau within shape "
        f"{summary['kendall_tau_within_shape']:.3f}"
    )
