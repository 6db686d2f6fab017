"""Collect the exhaustive table: every (shape, configuration) timed on this CPU.

Resumable: each finished shape is written atomically to ``<stem>.parts/<shape>.json``
(every configuration's median and spread, torch.matmul's, the load average and wall
time); a later run skips finished shapes and refuses parts measured on another CPU or
with other settings. Each run ends by assembling the parts done so far into the table
(``<stem>.csv.gz`` + ``<stem>.json``, see ``envs/gemm/table.py``), also atomically.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import io
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from envs.gemm.build import KernelLibrary, compiler_version
from envs.gemm.shapes import Shape, split_shapes
from envs.gemm.space import all_configs, config_key
from envs.gemm.table import load_table
from envs.gemm.timing import TimingSettings, table_clock, time_configs, time_torch
from envs.groundtruth.measure.cpu import cpu_identity, mismatch
from harness.errors import UserError
from harness.store import write_atomic

FORMAT = "tunebench-gemm-table-1"


def stem_of(out: Path) -> Path:
    """``dir/gemm_znver4.csv.gz`` -> ``dir/gemm_znver4`` (the files' common stem)."""
    name = out.name
    for suffix in (".csv.gz", ".csv", ".json"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return out.with_name(name)


def add_to_sidecar(stem: Path, key: str, summary: dict) -> None:
    """Store ``summary`` under ``key`` in the table's sidecar ``<stem>.json`` (a figure
    added after the collection: re-measure agreement, refinement) and drop the cached
    table so the next load sees it."""
    sidecar = stem.with_name(stem.name + ".json")
    meta = json.loads(sidecar.read_text())
    meta[key] = summary
    write_atomic(sidecar, json.dumps(meta, indent=1).encode())
    load_table.cache_clear()


class Progress:
    """A one-line progress bar on stderr: done/total, rate and time left."""

    def __init__(self, total: int, what: str, quiet: bool = False) -> None:
        self.total, self.what, self.quiet = max(1, total), what, quiet
        self.done = 0
        self._t0 = self._last = time.perf_counter()

    def __call__(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.quiet or (now - self._last < 0.5 and self.done < self.total):
            return
        self._last = now
        rate = self.done / max(now - self._t0, 1e-9)
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        width = 30
        fill = int(width * self.done / self.total)
        sys.stderr.write(
            f"\r{self.what} [{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} "
            f"{rate:.1f}/s, {left / 60:.1f} min left "
        )
        if self.done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


@dataclass(frozen=True)
class CollectSettings:
    """What a collection measures; parts made with other settings are refused."""

    timing: TimingSettings
    configs: tuple[str, ...]  # config keys, in config-id order

    def to_json(self) -> dict[str, Any]:
        return {"timing": self.timing.to_json(), "configs": list(self.configs)}


def _loadavg() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def _check_parts_meta(parts: Path, settings: CollectSettings) -> None:
    """Create or check ``parts/meta.json`` (CPU identity and settings)."""
    meta_path = parts / "meta.json"
    here = cpu_identity()
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        why = mismatch(meta.get("cpu"), here)
        if why:
            raise UserError(f"{parts}: cannot resume: {why}; collect into a new --out")
        if meta.get("settings") != settings.to_json():
            theirs = table_clock(meta.get("settings", {}))
            if theirs != settings.timing.clock:
                raise UserError(
                    f"{parts}: cannot resume: it was timed with --clock {theirs}; resume with "
                    "that clock or collect into a new --out"
                )
            raise UserError(
                f"{parts}: cannot resume: it was collected with other timing settings or "
                "configurations; collect into a new --out"
            )
        return
    meta = {
        "format": FORMAT,
        "cpu": here.to_json(),
        "compiler": compiler_version(),
        "settings": settings.to_json(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(),
    }
    write_atomic(meta_path, json.dumps(meta, indent=1).encode())


def collect(
    out: Path,
    shapes: Sequence[Shape],
    timing: TimingSettings,
    limit_shapes: int | None = None,
    max_minutes: float | None = None,
    jobs: int = 2,
    quiet: bool = False,
    configs: Sequence[dict[str, Any]] | None = None,
) -> Path:
    """Time every configuration on every shape not yet done; assemble the table.

    Args:
        out: the table's path (``.../gemm_<uarch>.csv.gz``); parts go beside it.
        shapes: the shapes to time (their split is decided when the table is assembled,
            from the shapes it holds: ``envs.gemm.shapes.split_shapes``).
        timing: how each (shape, configuration) is timed.
        limit_shapes: time at most this many new shapes in this call.
        max_minutes: start no new shape after this many minutes (a quiet window).
        jobs: clang processes when the kernels must be compiled first.
        quiet: no progress bar.
        configs: the configurations (default: the whole space, what tasks need; a
            subset makes a table only the collection tests read).

    Returns the path of the assembled table."""
    configs = all_configs() if configs is None else list(configs)
    settings = CollectSettings(timing, tuple(config_key(c) for c in configs))
    stem = stem_of(out)
    parts = stem.with_name(stem.name + ".parts")
    parts.mkdir(parents=True, exist_ok=True)
    _check_parts_meta(parts, settings)
    todo = [s for s in shapes if not (parts / f"{s.name}.json").is_file()]
    # A stable pseudo-random order, so a collection cut short still covers every split
    # and source in proportion.
    todo.sort(key=lambda s: _shape_seed(s) * 2654435761 % 2**32)
    if limit_shapes is not None:
        todo = todo[: max(0, limit_shapes)]
    if todo:
        t0 = time.perf_counter()
        lib = KernelLibrary(configs, jobs=jobs)
        if not quiet:
            sys.stderr.write(
                f"compiled {len(configs)} kernels in {time.perf_counter() - t0:.0f} s "
                f"({lib.path.name})\n"
            )
        progress = Progress(len(todo) * len(configs), "timing", quiet=quiet)
        ids = np.arange(len(configs))
        for shape in todo:
            if max_minutes is not None and time.perf_counter() - t0 > 60 * max_minutes:
                if not quiet:
                    sys.stderr.write(f"\nstopping: {max_minutes} minutes are up (resumable)\n")
                break
            started = time.perf_counter()
            load_before = _loadavg()
            timed = time_configs(
                lib,
                shape.m,
                shape.n,
                shape.k,
                ids,
                timing,
                seed=_shape_seed(shape),
                on_done=progress,
            )
            torch_us, torch_spread = time_torch(shape.m, shape.n, shape.k, timing)
            record = {
                "shape": shape.to_json(),
                "median_us": [round(float(x), 4) for x in timed.median_us],
                "spread": [round(float(x), 4) for x in timed.spread],
                "torch_us": round(torch_us, 4),
                "torch_spread": round(torch_spread, 4),
                "wall_s": round(time.perf_counter() - started, 2),
                "loadavg_before": load_before,
                "loadavg_after": _loadavg(),
                "finished": _dt.datetime.now(_dt.UTC).isoformat(),
            }
            if timing.reference:  # what later re-timings of this shape scale by
                record["reference_us"] = round(timed.reference_us, 4)
                record["reference_config"] = settings.configs[timed.reference_id]
            write_atomic(parts / f"{shape.name}.json", json.dumps(record).encode())
    return assemble(stem, parts)


def _shape_seed(shape: Shape) -> int:
    return (shape.m * 1_000_003 + shape.n * 1_009 + shape.k) % (2**31)


def assemble(stem: Path, parts: Path) -> Path:
    """Write ``<stem>.csv.gz`` (one row per (shape, configuration)) and ``<stem>.json``
    (CPU, compiler, settings, configurations, shapes with split and torch.matmul time,
    per-shape wall time and load) from the finished parts."""
    meta = json.loads((parts / "meta.json").read_text())
    keys = meta["settings"]["configs"]
    records = []
    for path in sorted(parts.glob("*.json")):
        if path.name == "meta.json":
            continue
        records.append(json.loads(path.read_text()))
    records.sort(
        key=lambda r: (r["shape"]["source"], r["shape"]["m"], r["shape"]["n"], r["shape"]["k"])
    )
    # The split depends on the whole set of shapes (fractions within each source).
    shapes = [Shape(**r["shape"]) for r in records]
    for r, split in zip(records, split_shapes(shapes), strict=True):
        r["split"] = split
    extra = {
        "cpu": meta["cpu"],
        "compiler": meta["compiler"],
        "cflags": list(_cflags()),
        "timing": meta["settings"]["timing"],
        "method": _method_text(),
    }
    return write_table(stem, keys, records, extra)


def write_table(
    stem: Path, keys: Sequence[str], records: Sequence[dict[str, Any]], extra: dict[str, Any]
) -> Path:
    """Write the table files for per-shape ``records`` (each: ``shape`` (Shape JSON),
    ``split``, ``median_us`` and ``spread`` [len(keys)], ``torch_us``, ``torch_spread``,
    ``wall_s``, ``loadavg_before``, ``loadavg_after``, ``finished``; ``reference_us`` and
    ``reference_config`` when timed against a reference); ``extra`` (with
    ``cpu``) goes into the sidecar. Returns the ``.csv.gz`` path."""
    buf = io.StringIO()
    buf.write("shape,config,median_us,spread\n")
    for r in records:
        s = r["shape"]
        name = f"{s['m']}x{s['n']}x{s['k']}"
        for key, med, spr in zip(keys, r["median_us"], r["spread"], strict=True):
            buf.write(f"{name},{key},{med:.5g},{spr:.3g}\n")
    table = stem.with_name(stem.name + ".csv.gz")
    write_atomic(table, gzip.compress(buf.getvalue().encode(), compresslevel=9, mtime=0))
    sidecar = {
        "format": FORMAT,
        **extra,
        "uarch": extra["cpu"]["uarch"],
        "configs": list(keys),
        "shapes": [
            {
                **r["shape"],
                "split": r["split"],
                "torch_us": r["torch_us"],
                "torch_spread": r["torch_spread"],
                "wall_s": r["wall_s"],
                "loadavg_before": r["loadavg_before"],
                "loadavg_after": r["loadavg_after"],
                "finished": r["finished"],
                **{key: r[key] for key in ("reference_us", "reference_config") if key in r},
            }
            for r in records
        ],
        "collection_wall_s": round(sum(r["wall_s"] for r in records), 1),
    }
    old = stem.with_name(stem.name + ".json")
    if old.is_file():  # keep what was added after the fact (re-measure agreement)
        prev = json.loads(old.read_text())
        for key in ("remeasure", "refine", "notes"):
            if key in prev:
                sidecar[key] = prev[key]
    write_atomic(old, json.dumps(sidecar, indent=1).encode())
    return table


def _cflags() -> tuple[str, ...]:
    from envs.gemm.build import CFLAGS

    return CFLAGS


def _method_text() -> str:
    from envs.gemm import timing

    return (timing.__doc__ or "").strip().replace("\n", " ")
