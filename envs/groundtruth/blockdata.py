"""Load measured basic-block throughput into :class:`harness.dataset.Dataset`.

Two formats, plain or gzip-compressed (detected from the file's first bytes):

- tunebench's own (``tunebench measure``): a header ``hex,cycles_per_100,spread,runs,status``;
  only rows with status ``ok`` are kept. The JSON sidecar (``<file>.json`` or
  ``<stem>.json``, stem without ``.csv``/``.csv.gz``) becomes ``Dataset.meta``.
- BHive's original throughput files: ``hex,throughput`` rows without a header, the
  throughput in cycles per 100 iterations (a ``hex,throughput`` header is accepted too).

Targets are always cycles per 100 iterations of the block (float64).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from harness.dataset import Dataset

MEASURED_COLUMNS = ("hex", "cycles_per_100", "spread", "runs", "status")


def load_block_dataset(path: str | Path, name: str | None = None) -> Dataset:
    """Read a measured block file (either format above) into a Dataset.

    Args:
        path: the CSV, plain or ``.gz``.
        name: dataset name; default the file name without ``.csv``/``.csv.gz``.

    Returns:
        Dataset with ``inputs`` = lower-case hex blocks (unique; a repeated block keeps
        its first row), ``targets`` = cycles per 100 iterations, ``meta`` = the sidecar
        (if any) plus ``source_file``, ``format`` and ``rows_read``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not one of the two formats, or holds a bad row.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"block dataset not found: {p}")
    stem = _stem(p)
    try:
        text = _read_text(p)
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
        raise ValueError(f"{p}: cannot read as text or gzip: {exc}") from None
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows:
        raise ValueError(
            f"{p}: empty file, expected a tunebench measure CSV or BHive hex,throughput rows"
        )
    header = [c.strip().lower() for c in rows[0]]
    meta: dict[str, Any] = {}
    if header[: len(MEASURED_COLUMNS)] == list(MEASURED_COLUMNS):
        fmt = "tunebench-measure"
        inputs, targets = _parse_measured(p, rows[1:])
        meta.update(_read_sidecar(p, stem))
    elif len(header) >= 2 and header[0] == "hex" and header[1] == "throughput":
        fmt = "bhive-throughput"
        inputs, targets = _parse_bhive(p, rows[1:], first_line=2)
    elif len(rows[0]) == 2 and _is_float(rows[0][1]):
        fmt = "bhive-throughput"
        inputs, targets = _parse_bhive(p, rows, first_line=1)
    else:
        raise ValueError(
            f"{p}: unknown format (first row {','.join(rows[0])[:60]!r}); expected header "
            f"'{','.join(MEASURED_COLUMNS)}' or BHive 'hex,throughput' rows"
        )
    meta.update({"source_file": str(p), "format": fmt, "rows_read": len(rows)})
    return Dataset(
        name=name or stem,
        inputs=tuple(inputs),
        targets=np.asarray(targets, dtype=np.float64),
        meta=meta,
    )


def _stem(p: Path) -> str:
    n = p.name
    for suffix in (".csv.gz", ".csv", ".gz"):
        if n.endswith(suffix):
            return n[: -len(suffix)]
    return p.stem


def _read_text(p: Path) -> str:
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8")


def _read_sidecar(p: Path, stem: str) -> dict[str, Any]:
    for cand in (p.with_name(p.name + ".json"), p.with_name(stem + ".json")):
        if cand.is_file():
            try:
                data = json.loads(cand.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise ValueError(f"{cand}: sidecar is not valid JSON: {exc}") from None
            if not isinstance(data, dict):
                raise ValueError(f"{cand}: sidecar must be a JSON object")
            return data
    return {}


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _hex(p: Path, line: int, s: str) -> str:
    h = s.strip().lower()
    if not h or len(h) % 2:
        raise ValueError(f"{p} line {line}: bad block hex {s[:40]!r}")
    try:
        bytes.fromhex(h)
    except ValueError:
        raise ValueError(f"{p} line {line}: bad block hex {s[:40]!r}") from None
    return h


def _target(p: Path, line: int, s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise ValueError(f"{p} line {line}: not a number: {s[:40]!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise ValueError(
            f"{p} line {line}: cycles per 100 iterations must be finite and > 0, got {s!r}"
        )
    return v


def _parse_measured(p: Path, rows: list[list[str]]) -> tuple[list[str], list[float]]:
    for i, r in enumerate(rows, start=2):
        if len(r) < len(MEASURED_COLUMNS):
            raise ValueError(
                f"{p} line {i}: expected {len(MEASURED_COLUMNS)} columns, got {len(r)}"
            )
    ok = [(i, r) for i, r in enumerate(rows, start=2) if r[4].strip() == "ok"]
    return _unique_rows(p, ok)


def _parse_bhive(p: Path, rows: list[list[str]], first_line: int) -> tuple[list[str], list[float]]:
    for i, r in enumerate(rows, start=first_line):
        if len(r) < 2:
            raise ValueError(f"{p} line {i}: expected hex,throughput")
    return _unique_rows(p, list(enumerate(rows, start=first_line)))


def _unique_rows(p: Path, rows: list[tuple[int, list[str]]]) -> tuple[list[str], list[float]]:
    """(line, row) pairs with hex in column 0 and the target in column 1 -> inputs and
    targets; a repeated block keeps its first row."""
    inputs: list[str] = []
    targets: list[float] = []
    seen: set[str] = set()
    for i, r in rows:
        h = _hex(p, i, r[0])
        if h in seen:
            continue
        seen.add(h)
        inputs.append(h)
        targets.append(_target(p, i, r[1]))
    return inputs, targets
