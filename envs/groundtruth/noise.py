"""Between-run agreement of two measurements of the same blocks: the noise floor.

A repeat measurement on the same CPU (new processes, at least an hour later) says how
well the ground truth agrees with itself: the error a perfect simulator would score
against it. :func:`compare` computes it over the blocks ``ok`` in both files;
:func:`store_noise_floor` writes it into the first dataset's sidecar under
``"noise_floor"`` (what reports read as ``dataset.meta["noise_floor"]``), or under
another key (``"cross_cpu"``) for a comparison across CPUs, which is not a noise floor.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import kendalltau

from envs.groundtruth.blockdata import load_block_dataset
from harness.errors import UserError


@dataclass(frozen=True)
class Agreement:
    """Agreement of a repeat run B with a first run A over the blocks ok in both.

    APE = |B - A| / A per block (A is the reference: the shipped dataset).

    Attributes:
        mape: mean APE, a fraction (0.01 = 1%).
        median_ape: median APE, a fraction.
        kendall_tau: Kendall's tau-b between A's and B's cycles per 100 iterations.
        within_1pct, within_3pct, within_5pct: share of blocks with APE <= 1/3/5%.
        n_blocks: blocks ok in both files.
        repeat_file: B's file name.
        hours_between: hours from A's last measuring session's end to B's first
            session's start (from the sidecars; NaN if either lacks the times).
    """

    mape: float
    median_ape: float
    kendall_tau: float
    within_1pct: float
    within_3pct: float
    within_5pct: float
    n_blocks: int
    repeat_file: str
    hours_between: float

    def to_json(self) -> dict[str, Any]:
        """Plain dict, floats rounded to 1e-5 (NaN becomes None)."""
        out: dict[str, Any] = {}
        for k, v in asdict(self).items():
            if isinstance(v, float):
                out[k] = None if math.isnan(v) else round(v, 5)
            else:
                out[k] = v
        return out

    def describe(self) -> str:
        """One line for a terminal."""
        return (
            f"{self.n_blocks} blocks ok in both: MAPE {self.mape:.2%}, median APE "
            f"{self.median_ape:.2%}, Kendall tau {self.kendall_tau:.3f}, within 1/3/5%: "
            f"{self.within_1pct:.1%} / {self.within_3pct:.1%} / {self.within_5pct:.1%}, "
            f"{self.hours_between:.1f} h apart"
        )


def agreement(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """APE statistics of ``b`` against reference ``a`` (same length, both > 0).

    Returns mape, median_ape, kendall_tau, within_1pct/3pct/5pct (fractions).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise UserError(f"need two equal-length series of >= 2 blocks (got {a.shape}, {b.shape})")
    ape = np.abs(b - a) / a
    return {
        "mape": float(ape.mean()),
        "median_ape": float(np.median(ape)),
        "kendall_tau": float(kendalltau(a, b).statistic),
        "within_1pct": float(np.mean(ape <= 0.01)),
        "within_3pct": float(np.mean(ape <= 0.03)),
        "within_5pct": float(np.mean(ape <= 0.05)),
    }


def _session_times(meta: dict[str, Any]) -> tuple[str | None, str | None]:
    sessions = meta.get("sessions") or []
    starts = [s["started"] for s in sessions if s.get("started")]
    ends = [s["ended"] for s in sessions if s.get("ended")]
    return (min(starts) if starts else None, max(ends) if ends else None)


def hours_between(meta_a: dict[str, Any], meta_b: dict[str, Any]) -> float:
    """Hours from the end of A's last session to the start of B's first (NaN if unknown)."""
    _, end_a = _session_times(meta_a)
    start_b, _ = _session_times(meta_b)
    if end_a is None or start_b is None:
        return math.nan
    t_a = _dt.datetime.fromisoformat(end_a)
    t_b = _dt.datetime.fromisoformat(start_b)
    return (t_b - t_a).total_seconds() / 3600.0


def compare(first: str | Path, repeat: str | Path) -> Agreement:
    """Agreement of ``repeat`` with ``first`` (measured block files with sidecars).

    Raises UserError if a file cannot be read or fewer than 2 blocks are ok in both.
    """
    try:
        a = load_block_dataset(first)
        b = load_block_dataset(repeat)
    except (ValueError, FileNotFoundError) as exc:
        raise UserError(str(exc)) from None
    ib = {h: i for i, h in enumerate(b.inputs)}
    pairs = [(i, ib[h]) for i, h in enumerate(a.inputs) if h in ib]
    if len(pairs) < 2:
        raise UserError(f"{first} and {repeat} have {len(pairs)} ok blocks in common (need >= 2)")
    ia = np.array([p[0] for p in pairs])
    jb = np.array([p[1] for p in pairs])
    stats = agreement(a.targets[ia], b.targets[jb])
    return Agreement(
        **stats,
        n_blocks=len(pairs),
        repeat_file=Path(repeat).name,
        hours_between=hours_between(a.meta, b.meta),
    )


def store_noise_floor(
    first: str | Path, result: Agreement, key: str = "noise_floor", note: str | None = None
) -> Path:
    """Write ``result`` into the sidecar of ``first`` under ``key`` (atomically).

    For ``key == "noise_floor"`` the two files must come from the same CPU (vendor,
    family, model in their sidecars): a cross-CPU comparison is not a noise floor.
    Returns the sidecar's path.
    """
    from envs.groundtruth.measure.runner import sidecar_path

    side = sidecar_path(first)
    if not side.is_file():
        raise UserError(f"{first}: no sidecar {side.name} to store the comparison in")
    meta = json.loads(side.read_text())
    entry = result.to_json()
    entry["computed"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    if note:
        entry["note"] = note
    meta[key] = entry
    tmp = side.with_name(side.name + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, side)
    return side


def same_cpu(first: str | Path, repeat: str | Path) -> str | None:
    """None if both sidecars record the same CPU (vendor, family, model), else why not."""
    from envs.groundtruth.measure.cpu import CpuIdentity
    from envs.groundtruth.measure.runner import sidecar_path

    ids = []
    for f in (first, repeat):
        side = sidecar_path(f)
        cpu = json.loads(side.read_text()).get("cpu") if side.is_file() else None
        if not cpu:
            return f"{Path(f).name} records no CPU identity"
        ids.append(CpuIdentity.from_json(cpu))
    if ids[0].key() != ids[1].key():
        a, b = Path(first).name, Path(repeat).name
        return f"{a} is {ids[0].describe()}, {b} is {ids[1].describe()}"
    return None
