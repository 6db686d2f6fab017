"""Use a tuned result outside the trial that made it.

- :func:`evaluate_run`: score every finished trial's chosen configuration of a run on
  another dataset (``tunebench evaluate RUN_DIR --dataset CSV``): the trial's task is
  rebuilt with the same options but that dataset, and the configuration is scored on
  all of its items (and on its test split alone).
- :func:`predict_with_record`: a trial's configuration's predictions for any inputs
  (``tunebench predict TRIAL_RECORD INPUTS.csv --out PRED.csv``), through the task's
  simulator (tasks that have one: the timing tasks).

Both rebuild the task from the record's ``task`` and ``task_options``, so they need
records written by this version (older ones lack the options).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.errors import UserError
from harness.metrics import timing_metrics
from harness.store import read_record, scan_records, write_atomic
from harness.task import TARGETS, Task
from harness.trial import build_task

SPLITS = ("train", "val", "test")


def _options(record: dict[str, Any]) -> dict[str, Any]:
    raw = record.get("task_options")
    if raw is None:
        raise UserError(
            f"trial {record['trial_id']} has no task_options (written by an older "
            "tunebench): re-run it"
        )
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


def _config(record: dict[str, Any]) -> dict[str, Any]:
    if record.get("status") != "ok" or not record.get("config"):
        raise UserError(f"trial {record['trial_id']} has no chosen configuration")
    return json.loads(record["config"])


def _all_costs(task: Task, config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    costs, targets = [], []
    for split in SPLITS:
        items = np.arange(task.n_items(split), dtype=np.int64)
        if len(items):
            costs.append(np.asarray(task.evaluate(config, split, items), dtype=np.float64))
            targets.append(task.targets(split, items))
    return np.concatenate(costs), np.concatenate(targets)


def evaluate_run(run_dir: str | Path, dataset: str) -> pd.DataFrame:
    """One row per ok trial of ``run_dir``: its configuration scored on ``dataset`` (all
    items: ``all_*`` metrics; its test split: ``test_*``). Writes
    ``RUN_DIR/evaluate_<dataset stem>.csv`` atomically and returns the frame."""
    records, _invalid = scan_records(Path(run_dir))
    ok = [r for r in records.values() if r["status"] == "ok" and r.get("config")]
    if not ok:
        raise UserError(f"no finished trial with a configuration in {run_dir}")
    rows = []
    tasks: dict[str, Task] = {}
    for rec in sorted(ok, key=lambda r: r["trial_id"]):
        opts = {**_options(rec), "dataset": dataset}
        key = json.dumps([rec["task"], opts], sort_keys=True)
        if key not in tasks:
            try:
                tasks[key] = build_task(rec["task"], opts)
            except TypeError:
                raise UserError(f"task {rec['task']} takes no dataset option") from None
        task = tasks[key]
        if not task.has(TARGETS):
            raise UserError(f"task {task.name} has no targets to score against")
        config = _config(rec)
        costs, targets = _all_costs(task, config)
        test_items = np.arange(task.n_items("test"), dtype=np.int64)
        test = task.score(task.evaluate(config, "test", test_items), "test", test_items)
        row: dict[str, Any] = {
            "trial_id": rec["trial_id"],
            "task_label": rec["task_label"],
            "agent": rec["agent"],
            "seed": rec["seed"],
            "budget_samples": rec["budget_samples"],
            "dataset": dataset,
            "n_items": len(costs),
        }
        if task.headline.name == "mape":
            row.update({f"all_{k}": v for k, v in timing_metrics(costs, targets).items()})
        row.update({f"test_{k}": v for k, v in test.items() if "/" not in k})
        rows.append(row)
    frame = pd.DataFrame(rows)
    stem = Path(dataset).name.split(".")[0]
    write_atomic(Path(run_dir) / f"evaluate_{stem}.csv", frame.to_csv(index=False))
    return frame


def read_inputs(path: str | Path) -> list[str]:
    """The ``hex`` (or ``input``) column of a CSV, plain or gzip."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"input file not found: {p}")
    raw = p.read_bytes()
    try:
        text = gzip.decompress(raw).decode() if raw[:2] == b"\x1f\x8b" else raw.decode()
        rows = list(csv.DictReader(io.StringIO(text)))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"cannot read {p} as CSV: {exc}") from None
    column = next((c for c in ("hex", "input") if rows and c in rows[0]), None)
    if column is None:
        raise UserError(f"{p}: needs a 'hex' (or 'input') column")
    return [r[column].strip().lower() for r in rows]


def predict_with_record(record_path: str | Path, inputs_csv: str | Path) -> pd.DataFrame:
    """Predictions of the record's configuration for the inputs of ``inputs_csv``:
    a frame with ``hex`` and ``prediction`` (NaN where the simulator failed)."""
    rec = read_record(Path(record_path))
    if rec is None:
        raise UserError(f"{record_path}: not a valid trial record")
    task = build_task(rec["task"], _options(rec))
    simulator = getattr(task, "simulator", None)
    if simulator is None:
        raise UserError(f"task {task.name} has no simulator to predict with")
    inputs = read_inputs(inputs_csv)
    config = task.param_space.validate(_config(rec))
    pred = np.asarray(simulator.predict(inputs, config), dtype=np.float64)
    return pd.DataFrame({"hex": inputs, "prediction": pred})
