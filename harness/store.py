"""Trial records on disk: one JSON-lines file per finished trial, written atomically.

Layout of a run directory::

    RUN_DIR/suite.toml            the suite as run (copy)
    RUN_DIR/trials/<trial_id>.jsonl   one line: the trial's record (pandas-loadable)

``load_trials`` gives one row per trial; ``load_curves`` one row per curve point.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

TRIALS_DIR = "trials"
CURVE_COLUMNS = ("curve_samples", "curve_wall_s", "curve_train_loss", "curve_val_loss")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def trial_path(run_dir: Path, trial_id: str) -> Path:
    return Path(run_dir) / TRIALS_DIR / f"{trial_id}.jsonl"


def save_record(run_dir: Path, record: dict[str, Any]) -> Path:
    """Store one trial record; returns its path."""
    path = trial_path(run_dir, record["trial_id"])
    # Key order is kept: the task's metrics appear in the report in the order it gives.
    write_atomic(path, json.dumps(_json_safe(record)) + "\n")
    return path


def read_record(path: Path) -> dict[str, Any] | None:
    """The record in ``path``, or None if it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def finished_records(run_dir: Path) -> dict[str, dict[str, Any]]:
    """trial_id -> record for every readable record in the run directory."""
    out: dict[str, dict[str, Any]] = {}
    folder = Path(run_dir) / TRIALS_DIR
    if folder.is_dir():
        for path in sorted(folder.glob("*.jsonl")):
            rec = read_record(path)
            if rec is not None:
                out[rec["trial_id"]] = rec
    return out


def load_trials(run_dir: str | Path) -> pd.DataFrame:
    """One row per trial (curve columns dropped); empty frame if there are none."""
    records = list(finished_records(Path(run_dir)).values())
    frame = pd.DataFrame(records)
    return frame.drop(columns=[c for c in CURVE_COLUMNS if c in frame.columns])


def load_curves(run_dir: str | Path) -> pd.DataFrame:
    """One row per curve point: trial keys + samples, wall_s, train_loss, val_loss."""
    rows = []
    for rec in finished_records(Path(run_dir)).values():
        keys = {
            k: rec[k]
            for k in ("trial_id", "task_label", "agent", "seed", "budget_samples", "status")
        }
        for s, w, tr, va in zip(*(rec.get(c, []) for c in CURVE_COLUMNS), strict=True):
            rows.append({**keys, "samples": s, "wall_s": w, "train_loss": tr, "val_loss": va})
    return pd.DataFrame(rows)


def _json_safe(value: Any) -> Any:
    """Replace NaN/inf by None (strict JSON), recursively; numpy scalars to Python."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
