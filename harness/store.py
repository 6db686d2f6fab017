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


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import (os.umask can only be read by setting it, which is not thread-safe).
_UMASK = _read_umask()


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder and a rename; the
    file gets the usual mode (0666 minus the umask, 0644 typically), not mkstemp's 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb" if isinstance(text, bytes) else "w") as fh:
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
    """The record in ``path`` if it is readable and valid, else None."""
    try:
        rec = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return rec if validate_record(rec, Path(path).stem) is None else None


_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "trial_id": str,
    "status": str,
    "task_label": str,
    "agent": str,
    "seed": int,
    "budget_samples": int,
    "samples_used": int,
}


def validate_record(rec: Any, expected_id: str | None = None) -> str | None:
    """Why ``rec`` is not a valid trial record (one line), or None if it is.

    Checked: a JSON object with the required keys and types; the trial id matching
    its file name; status ``ok`` or ``failed``; 0 <= samples_used <= budget_samples
    (and labels likewise); curve lists of equal length with samples within the budget;
    for ``ok`` records, a finite ``test_loss`` and headline metric and finite
    ``test_*`` metrics (or null), since a report must not rank impossible values.
    """
    if not isinstance(rec, dict):
        return f"not a JSON object ({type(rec).__name__})"
    for key, kind in _REQUIRED.items():
        if key not in rec:
            return f"missing {key!r}"
        if not isinstance(rec[key], kind) or isinstance(rec[key], bool):
            return f"{key!r} has the wrong type ({type(rec[key]).__name__})"
    if expected_id is not None and rec["trial_id"] != expected_id:
        return f"trial_id {rec['trial_id']!r} does not match its file name"
    if rec["status"] not in ("ok", "failed"):
        return f"unknown status {rec['status']!r}"
    budget, used = rec["budget_samples"], rec["samples_used"]
    if budget < 0 or not 0 <= used <= budget:
        return f"samples_used {used} outside [0, budget {budget}]"
    labels, labels_used = rec.get("budget_labels"), rec.get("labels_used", 0)
    if labels is not None and (not isinstance(labels_used, int) or not 0 <= labels_used <= labels):
        return f"labels_used {labels_used} outside [0, label budget {labels}]"
    curves = [rec.get(c, []) for c in CURVE_COLUMNS]
    if not all(isinstance(c, list) for c in curves) or len({len(c) for c in curves}) > 1:
        return "curve columns are not lists of one length"
    if any(not isinstance(x, int) or x < 0 or x > budget for x in curves[0]):
        return "curve samples outside [0, budget]"
    if rec["status"] == "ok":
        headline = rec.get("headline_metric", "test_loss")
        for key in {"test_loss", headline}:
            value = rec.get(key)
            if not isinstance(value, int | float) or not math.isfinite(value):
                return f"ok record without a finite {key!r}"
        for key, value in rec.items():
            if key.startswith("test_") and value is not None:
                if not isinstance(value, int | float) or not math.isfinite(value):
                    return f"{key!r} is not a finite number"
        if rec.get("test_mape") is not None and rec["test_mape"] < 0:
            return "negative test_mape"
    return None


def scan_records(run_dir: Path) -> tuple[dict[str, dict[str, Any]], list[tuple[Path, str]]]:
    """(trial_id -> valid record, [(path, why invalid)]) for every file of the run."""
    valid: dict[str, dict[str, Any]] = {}
    invalid: list[tuple[Path, str]] = []
    folder = Path(run_dir) / TRIALS_DIR
    if not folder.is_dir():
        return valid, invalid
    for path in sorted(folder.glob("*.jsonl")):
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            invalid.append((path, f"unreadable: {str(exc).splitlines()[0][:80]}"))
            continue
        why = validate_record(rec, path.stem)
        if why is not None:
            invalid.append((path, why))
        else:
            valid[rec["trial_id"]] = rec
    return valid, invalid


def finished_records(run_dir: Path) -> dict[str, dict[str, Any]]:
    """trial_id -> record for every valid record in the run directory."""
    return scan_records(Path(run_dir))[0]


def load_trials(run_dir: str | Path) -> pd.DataFrame:
    """One row per valid trial record (curve columns dropped); empty frame if none."""
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
