"""Drive the C timing helper over many blocks; append results to a CSV as they come.

Output CSV columns (one row per block, in measuring order):

- ``hex``: the block, lower-case hex machine code;
- ``cycles_per_100``: median over runs of core cycles per 100 iterations (empty when
  no run finished);
- ``spread``: (max - min) / median over the runs (a fraction, not a percent);
- ``runs``: number of runs (processes) that gave a value;
- ``status``: ``ok`` (spread <= 5%), ``noisy`` (spread > 5%, clock moved, or a run never
  got an unshared core), ``fault`` (SIGSEGV/SIGBUS on an address
  the mapper will not map, SIGILL, SIGFPE, SIGTRAP...), ``timeout``, ``crash`` (the
  helper's own code died, e.g. the block wrecked its state) or ``error``.

Re-running with the same output resumes: blocks already in the file are skipped, a
torn last line (from a kill mid-write) is dropped and measured again. A lock file stops
two processes from writing the same output. The JSON sidecar (``<stem>.json``) holds the
CPU, calibration, load average, compiler version and method.
"""

from __future__ import annotations

import csv
import datetime as _dt
import fcntl
import gzip
import io
import json
import math
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from envs.groundtruth.measure import build
from envs.groundtruth.measure.cpu import CpuIdentity, cpu_identity, mismatch
from harness.errors import UserError

COLUMNS = ("hex", "cycles_per_100", "spread", "runs", "status")
STATUSES = ("ok", "noisy", "fault", "timeout", "crash", "error")

METHOD = (
    "BHive method (Chen et al., IISWC 2019) with an rdtsc clock and contention-gated "
    "samples. Per run, a forked child maps every page the block touches (on SIGSEGV) to "
    "one physical page filled with the 64-bit value 0x2324000 (at most max_pages pages); "
    "all GPRs start at 0x2324000, rsp at 0x2324800, reset at the top of every loop trip; "
    "MXCSR FTZ|DAZ, x87 reset. The block is unrolled 100x and 200x inside a loop of L "
    "trips (lfence between trips, so trips never overlap), L chosen so one timed call "
    "lasts about target_us. Each of `samples` samples is: canary, 100x call, canary, 200x"
    " call, canary, where the canary is ~4 us of 4 independent add chains (1 cycle per "
    "line on an unshared core with >= 4 integer ALUs); a call counts only if the canaries"
    " on both sides ran within 1% of the run's typical fast canary, its 10th percentile "
    "(another hardware thread sharing the core, outside the VM, slows blocks up to 2x for"
    " 0.1-2 ms at a time, and the canary with them; the percentile, not the minimum, "
    "because a Golden Cove-class Intel core runs ~1% of canaries up to 13% faster than "
    "the rest). The minimum over the clean calls gives (t200 - t100) / L TSC ticks per "
    "100 iterations, converted to core cycles by the fastest dependent add-chain "
    "calibration (1 cycle per add) of the run (at the start after spinning until the "
    "clock is steady, after every 8th sample, at the end). A run with fewer than 4 clean "
    "samples (samples/4 if samples < 16), or whose typical fast canary is > 3% slower "
    "than the session's reference (the 25th percentile over its last 63 clean runs, at "
    "least 1 cycle per line), is contended and re-run after a pause (2 ms doubling to 128"
    " ms, at most 20 times); a run whose clock moved by > 1% between its halves is re-run"
    " (at most 3 times). cycles_per_100 is the median over `runs` independent processes; "
    "spread = (max - min) / median; status noisy if spread > noisy_spread, a run's clock "
    "still moved by more than 1%, or a run stayed contended after every retry."
)


@dataclass(frozen=True)
class MeasureConfig:
    """Knobs of one measurement.

    Attributes:
        runs: independent processes per block (median over them), >= 1; 5 by default.
        samples: timed calls per process per unroll factor (minimum over them).
        target_us: wanted duration of one timed call, microseconds.
        timeout_s: wall-clock limit for one run (process), seconds.
        max_pages: most pages the mapper maps for one block.
        noisy_spread: spread (fraction) above which a block is ``noisy``.
        calibration_tolerance: relative change of the calibration that marks results.
    """

    runs: int = 5
    samples: int = 64
    target_us: float = 100.0
    timeout_s: float = 2.0
    max_pages: int = 512
    noisy_spread: float = 0.05
    calibration_tolerance: float = 0.01

    def __post_init__(self) -> None:
        if self.runs < 1 or self.samples < 1:
            raise UserError(f"--runs and --samples must be >= 1 (got {self.runs}, {self.samples})")
        if self.target_us <= 0 or self.timeout_s <= 0 or self.max_pages < 1:
            raise UserError("target_us, timeout_s and max_pages must be positive")


@dataclass
class BlockResult:
    """One output row plus details.

    Attributes:
        hex: the block (lower-case hex).
        cycles_per_100: median core cycles per 100 iterations (nan if no run ended).
        spread: (max - min) / median over runs, a fraction (nan if no value).
        runs: runs that gave a value.
        status: one of :data:`STATUSES`.
        detail: why a block is not ok (e.g. ``SIGSEGV 0x0``), for the sidecar counts.
        values: per-run cycles per 100 iterations.
        tsc_per_cycle: per-run calibration (TSC ticks per core cycle, start/end mean).
        contention_retries: runs re-run because another hardware thread shared the core.
    """

    hex: str
    cycles_per_100: float
    spread: float
    runs: int
    status: str
    detail: str = ""
    values: list[float] = field(default_factory=list)
    tsc_per_cycle: list[float] = field(default_factory=list)
    contention_retries: int = 0

    def row(self) -> list[str]:
        """The CSV row (cycles rounded to 0.001, spread to 1e-5)."""
        c = "" if math.isnan(self.cycles_per_100) else f"{self.cycles_per_100:.3f}"
        s = "" if math.isnan(self.spread) else f"{self.spread:.5f}"
        return [self.hex, c, s, str(self.runs), self.status]


def normalize_hex(text: str, where: str = "block") -> str:
    """Lower-case, validated hex of a block; UserError for empty, odd-length or non-hex."""
    h = text.strip().lower()
    if h.startswith("0x"):
        h = h[2:]
    if not h:
        raise UserError(f"{where}: empty block (no hex bytes)")
    if len(h) % 2:
        raise UserError(f"{where}: odd number of hex digits ({len(h)}) in {text.strip()[:40]!r}")
    try:
        bytes.fromhex(h)
    except ValueError:
        raise UserError(f"{where}: not hex: {text.strip()[:40]!r}") from None
    return h


# ---------------------------------------------------------------- the helper process


def calibrate(samples: int = 20) -> tuple[float, float]:
    """Return (TSC ticks per core cycle from a dependent add chain, TSC ticks per second)."""
    out = subprocess.run(
        [str(build.helper_path()), "calibrate", str(samples)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if len(out) != 3 or out[0] != "calibrate":
        raise RuntimeError(f"timing helper: unexpected calibration output {out!r}")
    return float(out[1]), float(out[2])


class Helper:
    """One long-lived timing helper process; ``measure(hex)`` times one block.

    The helper forks a fresh child per run, so a block that faults or hangs never takes
    the helper down; if the helper itself dies it is restarted and the block is ``crash``.
    """

    def __init__(self, config: MeasureConfig) -> None:
        self.config = config
        self.path = build.helper_path()
        self._proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        c = self.config
        args = [
            str(self.path),
            "measure",
            str(c.runs),
            str(c.samples),
            f"{c.target_us:g}",
            str(max(1, int(c.timeout_s * 1000))),
            str(c.max_pages),
        ]
        return subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )

    def close(self) -> None:
        """Stop the helper (it exits at end of input)."""
        if self._proc is not None:
            if self._proc.stdin:
                self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._proc.stdout:
                self._proc.stdout.close()
            self._proc = None

    def __enter__(self) -> Helper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def measure(self, hex_block: str) -> BlockResult:
        """Time one block (already normalized hex) over ``config.runs`` processes."""
        if self._proc is None or self._proc.poll() is not None:
            self._proc = self._start()
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        lines: list[list[str]] = []
        try:
            proc.stdin.write(hex_block + "\n")
            proc.stdin.flush()
            while True:
                line = proc.stdout.readline()
                if not line:
                    raise BrokenPipeError("helper ended")
                parts = line.split()
                if parts and parts[0] == "done":
                    break
                if parts and parts[0] == "run":
                    lines.append(parts[3:])
        except (BrokenPipeError, OSError):
            self.close()
            return BlockResult(hex_block, math.nan, math.nan, 0, "crash", "helper died")
        return summarize(hex_block, lines, self.config)


def summarize(hex_block: str, runs: Sequence[Sequence[str]], config: MeasureConfig) -> BlockResult:
    """Turn the helper's per-run lines (fields after ``run N I``) into one BlockResult."""
    values: list[float] = []
    tpcs: list[float] = []
    moved = False
    retries = 0
    for parts in runs:
        kind = parts[0] if parts else "error"
        if kind == "ok":
            cyc, tpc0, tpc1 = float(parts[1]), float(parts[2]), float(parts[3])
            values.append(cyc)
            tpcs.append(0.5 * (tpc0 + tpc1))
            if abs(tpc1 - tpc0) > config.calibration_tolerance * min(tpc0, tpc1):
                moved = True
            if len(parts) >= 11:  # certified canary retries
                retries += int(parts[10])
            continue
        if kind == "contended":  # still contended after every retry: no value
            med = float(np.median(values)) if values else math.nan
            return BlockResult(
                hex_block, med, math.nan, len(values), "noisy", "contended", values, tpcs, retries
            )
        detail = " ".join(parts[1:3]) if kind == "fault" else " ".join(parts[1:2])
        status = kind if kind in STATUSES else "error"
        med = float(np.median(values)) if values else math.nan
        return BlockResult(hex_block, med, math.nan, len(values), status, detail, values, tpcs)
    if not values:
        return BlockResult(hex_block, math.nan, math.nan, 0, "error", "no runs")
    med = float(np.median(values))
    spread = (max(values) - min(values)) / med if med > 0 else math.inf
    status = "ok"
    detail = ""
    if med <= 0 or spread > config.noisy_spread:
        status, detail = "noisy", "spread"
    elif moved:
        status, detail = "noisy", "calibration moved"
    return BlockResult(hex_block, med, spread, len(values), status, detail, values, tpcs, retries)


# ---------------------------------------------------------------- input blocks


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_input_csv(path: str | Path, skip_invalid: bool = False) -> list[dict[str, str]]:
    """Rows of a CSV (plain or .gz) with a ``hex`` column; ``hex`` normalized.

    Raises UserError if the file cannot be read, has no ``hex`` column or holds a bad
    block (unless ``skip_invalid``, which drops such rows). Duplicate blocks keep their
    first row.
    """
    p = Path(path)
    if not p.is_file():
        raise UserError(f"input file not found: {p}")
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    try:
        with _open_text(p) as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or "hex" not in [c.strip() for c in reader.fieldnames]:
                raise UserError(f"{p}: no 'hex' column in the header (got {reader.fieldnames})")
            for i, raw in enumerate(reader, start=2):
                row = {(k or "").strip(): (v or "") for k, v in raw.items()}
                try:
                    h = normalize_hex(row["hex"], where=f"{p} line {i}")
                except UserError:
                    if skip_invalid:
                        continue
                    raise
                if h in seen:
                    continue
                seen.add(h)
                row["hex"] = h
                rows.append(row)
    except (OSError, UnicodeDecodeError, csv.Error, EOFError) as exc:
        raise UserError(f"cannot read {p} as CSV: {exc}") from exc
    return rows


def application_of(sources: str, counts: dict[str, int] | None = None) -> str:
    """Stratum of a block from BHive's ``sources`` field (``;``-separated).

    ``openblas-*`` kernels count as one application, ``openblas``. A block found in
    several applications goes to the one with the fewest blocks in ``counts`` (so small
    applications keep all of theirs); ties and no counts: alphabetical.
    """
    apps = sorted({"openblas" if s.startswith("openblas") else s for s in sources.split(";") if s})
    if not apps:
        return "unknown"
    if counts:
        return min(apps, key=lambda a: (counts.get(a, 0), a))
    return apps[0]


def sample_rows(
    rows: Sequence[dict[str, str]], n: int, seed: int, stratify_by: str | None = None
) -> list[dict[str, str]]:
    """Sample ``n`` rows without replacement, in a seeded random order.

    With ``stratify_by`` (a column, e.g. ``sources``), each stratum (see
    :func:`application_of`) gets an equal share, capped by its size, the rest shared
    among the larger strata; the result is shuffled so any prefix is stratified too.
    """
    if n < 1:
        raise UserError(f"--sample must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    if n >= len(rows):
        order = rng.permutation(len(rows))
        return [rows[i] for i in order]
    if not stratify_by:
        idx = rng.choice(len(rows), size=n, replace=False)
        return [rows[i] for i in idx]
    if rows and stratify_by not in rows[0]:
        raise UserError(f"--stratify-by {stratify_by!r}: no such column")
    counts: Counter[str] = Counter()
    for r in rows:
        for a in {
            "openblas" if s.startswith("openblas") else s for s in r[stratify_by].split(";") if s
        }:
            counts[a] += 1
    strata: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        strata.setdefault(application_of(r[stratify_by], counts), []).append(i)
    names = sorted(strata)
    quota = {k: 0 for k in names}
    left = n
    open_ = [k for k in names if strata[k]]
    while left > 0 and open_:
        share = max(1, left // len(open_))
        for k in list(open_):
            take = min(share, len(strata[k]) - quota[k], left)
            quota[k] += take
            left -= take
            if quota[k] >= len(strata[k]):
                open_.remove(k)
            if left == 0:
                break
    picked: list[int] = []
    for k in names:
        picked.extend(rng.choice(strata[k], size=quota[k], replace=False).tolist())
    order = rng.permutation(len(picked))
    return [rows[picked[i]] for i in order]


# ---------------------------------------------------------------- output CSV + sidecar


def sidecar_path(out: str | Path) -> Path:
    """``x.csv`` / ``x.csv.gz`` -> ``x.json`` beside it."""
    p = Path(out)
    name = p.name
    for suffix in (".csv.gz", ".csv", ".gz"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return p.with_name(name + ".json")


def read_done(out: Path) -> dict[str, str]:
    """hex -> status of the rows already in ``out``; drops a torn last line in place."""
    if not out.exists():
        return {}
    data = out.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with open(out, "r+b") as f:
            f.truncate(cut)
        data = data[:cut]
    text = data.decode("utf-8")
    lines = text.splitlines()
    if not lines:
        return {}
    if lines[0].split(",") != list(COLUMNS):
        raise UserError(
            f"{out} exists but is not a tunebench measure CSV (header {lines[0][:60]!r})"
        )
    done: dict[str, str] = {}
    for row in csv.reader(lines[1:]):
        if len(row) == len(COLUMNS):
            done[row[0]] = row[4]
    return done


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


@dataclass
class Summary:
    """What one ``measure_blocks`` call did.

    Attributes:
        measured: blocks measured in this call.
        skipped: blocks already in the output (resume).
        counts: status -> number of blocks measured in this call.
        noisy_details: why the noisy ones were (spread, contended, calibration moved)
            -> number of blocks.
        wall_s: seconds spent measuring.
        calibration_start / calibration_end: TSC ticks per core cycle.
        calibration_moved: the two differ by more than the tolerance.
    """

    measured: int = 0
    skipped: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    noisy_details: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    calibration_start: float = math.nan
    calibration_end: float = math.nan
    calibration_moved: bool = False


class _Progress:
    """A progress line on stderr (blocks done / total, counts by status, rate)."""

    def __init__(self, total: int, stream: IO[str] | None, every_s: float = 2.0) -> None:
        self.total = total
        self.stream = stream
        self.every_s = every_s
        self.t0 = time.monotonic()
        self.last = 0.0
        self.tty = bool(stream is not None and stream.isatty())

    def update(self, done: int, counts: Counter[str], final: bool = False) -> None:
        if self.stream is None:
            return
        now = time.monotonic()
        if not final and now - self.last < (self.every_s if self.tty else 30.0):
            return
        self.last = now
        el = max(now - self.t0, 1e-9)
        other = sum(v for k, v in counts.items() if k not in ("ok", "noisy", "fault"))
        msg = (
            f"measure: {done}/{self.total} blocks  ok {counts['ok']} noisy {counts['noisy']} "
            f"fault {counts['fault']} other {other}  {done / el:.1f} blocks/s  "
            f"{el / max(done, 1):.3f} s/block"
        )
        end = "\n" if (final or not self.tty) else ""
        self.stream.write(("\r" if self.tty else "") + msg + end)
        self.stream.flush()


def measure_blocks(
    blocks: Iterable[str],
    out: str | Path,
    config: MeasureConfig | None = None,
    limit: int | None = None,
    progress: IO[str] | None = sys.stderr,
    extra_meta: dict[str, Any] | None = None,
    on_result: Callable[[BlockResult], None] | None = None,
) -> Summary:
    """Measure ``blocks`` (normalized hex), appending one row per block to ``out``.

    Blocks already in ``out`` are skipped; at most ``limit`` new blocks are measured.
    Each row is flushed as soon as it is known, so an interrupted run loses at most the
    block in progress. Writes/updates the sidecar (see :func:`sidecar_path`) at the start
    and the end of the call.
    """
    cfg = config or MeasureConfig()
    build.check_cpu()
    outp = Path(out)
    if outp.suffix == ".gz":
        raise UserError(
            "--out must be a plain .csv (compress it after measuring); resume needs appends"
        )
    outp.parent.mkdir(parents=True, exist_ok=True)
    lock_path = outp.with_name(outp.name + ".lock")
    lock_f = open(lock_path, "w")
    try:
        try:
            fcntl.flock(lock_f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UserError(
                f"another tunebench measure is writing {outp} (lock {lock_path})"
            ) from None
        return _measure_locked(
            list(blocks), outp, cfg, limit, progress, extra_meta or {}, on_result
        )
    finally:
        lock_f.close()
        try:
            lock_path.unlink()
        except OSError:
            pass


def _measure_locked(
    blocks: list[str],
    outp: Path,
    cfg: MeasureConfig,
    limit: int | None,
    progress: IO[str] | None,
    extra_meta: dict[str, Any],
    on_result: Callable[[BlockResult], None] | None,
) -> Summary:
    done = read_done(outp)
    todo: list[str] = []
    seen = set(done)
    for h in blocks:
        if h not in seen:
            seen.add(h)
            todo.append(h)
    skipped = sum(1 for h in set(blocks) if h in done)
    if limit is not None:
        todo = todo[: max(0, limit)]
    summary = Summary(skipped=skipped)
    here = cpu_identity()
    meta = _load_sidecar(outp)
    if done:
        why = mismatch(meta.get("cpu"), here)
        if why:
            raise UserError(f"refusing to add timings to {outp}: {why}; measure into a new file")
    tpc0, tsc_hz = calibrate()
    summary.calibration_start = tpc0
    session: dict[str, Any] = {
        "started": _now(),
        "loadavg_start": list(os.getloadavg()),
        "calibration_start_tsc_per_cycle": tpc0,
        "tsc_hz": tsc_hz,
        "affinity": sorted(os.sched_getaffinity(0)),
        "blocks_requested": len(todo),
        "cpu": here.to_json(),
        "core_clock_mhz": round(tsc_hz / tpc0 / 1e6, 1),
    }
    _update_static_meta(meta, cfg, extra_meta, here)
    meta.setdefault("sessions", []).append(session)
    _write_json(sidecar_path(outp), meta)

    counts: Counter[str] = Counter()
    details: Counter[str] = Counter()
    # why blocks were noisy (spread, contended, calibration moved): a machine's state a
    # user wants to see before re-measuring
    noisy_details: Counter[str] = Counter()
    tpcs: list[float] = []
    retries = 0
    prog = _Progress(len(todo), progress)
    t0 = time.monotonic()
    new_file = not outp.exists() or outp.stat().st_size == 0
    try:
        with Helper(cfg) as helper, open(outp, "a", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            if new_file:
                writer.writerow(COLUMNS)
                f.flush()
            for h in todo:
                res = helper.measure(h)
                writer.writerow(res.row())
                f.flush()
                counts[res.status] += 1
                if res.status == "noisy":
                    noisy_details[res.detail] += 1
                elif res.status != "ok":
                    details[f"{res.status} {res.detail}".split(" 0x")[0].strip()] += 1
                tpcs.extend(res.tsc_per_cycle)
                retries += res.contention_retries
                summary.measured += 1
                if on_result is not None:
                    on_result(res)
                prog.update(summary.measured, counts)
    finally:
        summary.wall_s = time.monotonic() - t0
        summary.counts = dict(counts)
        summary.noisy_details = dict(noisy_details)
        prog.update(summary.measured, counts, final=True)
        tpc1, _ = calibrate()
        summary.calibration_end = tpc1
        summary.calibration_moved = abs(tpc1 - tpc0) > cfg.calibration_tolerance * min(tpc0, tpc1)
        session.update(
            {
                "ended": _now(),
                "loadavg_end": list(os.getloadavg()),
                "calibration_end_tsc_per_cycle": tpc1,
                "calibration_moved": summary.calibration_moved,
                "blocks_measured": summary.measured,
                "counts": dict(counts),
                "not_ok_details": dict(details),
                "noisy_details": summary.noisy_details,
                "contention_retries": retries,
                "wall_s": round(summary.wall_s, 3),
                "s_per_block": round(summary.wall_s / max(summary.measured, 1), 4),
                "run_tsc_per_cycle_min": min(tpcs) if tpcs else None,
                "run_tsc_per_cycle_max": max(tpcs) if tpcs else None,
                "core_clock_mhz_end": round(tsc_hz / tpc1 / 1e6, 1),
            }
        )
        meta["calibration_moved"] = any(s.get("calibration_moved") for s in meta["sessions"])
        meta["counts"] = _count_file(outp)
        _write_json(sidecar_path(outp), meta)
        if summary.calibration_moved and progress is not None:
            progress.write(
                f"measure: WARNING: calibration moved from {tpc0:.4f} to {tpc1:.4f} TSC ticks "
                f"per cycle (> {cfg.calibration_tolerance:.0%}); the sidecar marks this session\n"
            )
    return summary


def _count_file(outp: Path) -> dict[str, int]:
    return dict(Counter(read_done(outp).values())) if outp.exists() else {}


def _load_sidecar(outp: Path) -> dict[str, Any]:
    p = sidecar_path(outp)
    if p.is_file():
        try:
            return json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            pass
    return {}


def _update_static_meta(
    meta: dict[str, Any], cfg: MeasureConfig, extra: dict[str, Any], cpu: CpuIdentity
) -> None:
    from harness import __version__

    meta.update(
        {
            "format": "tunebench-measure-2",
            "unit": "cycles_per_100 = core cycles per 100 iterations of the block",
            "cpu": cpu.to_json(),
            "uarch": cpu.uarch,
            "cpu_model": cpu.model_name,
            "machine": os.uname().machine,
            "kernel": os.uname().release,
            "cc_version": build.compiler_version(),
            "helper_hash": build.source_hash(),
            "tunebench_version": __version__,
            "method": METHOD,
            "config": asdict(cfg),
            "runs": cfg.runs,
        }
    )
    meta.update(extra)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def iter_hex_args(values: Iterable[str]) -> Iterator[str]:
    """Normalize hex given on the command line (UserError on a bad one)."""
    for i, v in enumerate(values, start=1):
        yield normalize_hex(v, where=f"--hex argument {i}")
