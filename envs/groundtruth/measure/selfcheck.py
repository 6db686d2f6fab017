"""``tunebench measure --self-check``: time a canonical suite, compare with published values.

The suite (``selfcheck.toml`` beside this file) holds microbenchmarks whose cycles per
iteration are known for each supported microarchitecture (dependency chains, port-bound
blocks, loads, stores, store forwarding, FMAs, divides, zero idioms, eliminated moves),
with the source of every value. Running it says whether this machine measures what the
vendor's guide and the published instruction tables say, and whether it looks contended
right now (throughput canaries unstable, the clock calibration moving, runs re-run
because another hardware thread shared the core).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envs.groundtruth.measure import runner
from envs.groundtruth.measure.cpu import CpuIdentity, cpu_identity
from harness.errors import UserError

SUITE = Path(__file__).with_name("selfcheck.toml")
KINDS = (
    "latency",
    "throughput",
    "load",
    "store",
    "store-forward",
    "move-elimination",
    "zero-idiom",
    "fma-probe",
)
CANARY_SPREAD = 0.02  # run-to-run spread of a canary above which the machine looks contended
CLOCK_MOVE = 0.01  # relative change of the add-chain calibration that counts as a moving clock


@dataclass(frozen=True)
class Bench:
    """One microbenchmark of the suite.

    Attributes:
        name: unique identifier.
        kind: one of :data:`KINDS`.
        asm: the block in Intel syntax, one instruction per item (documentation).
        hex: the block's machine code (what is timed).
        expected: microarchitecture (``znver3``...) -> core cycles per iteration.
        tolerance: relative error still counted as agreeing.
        source: where the expected values come from.
        canary: a throughput canary (its stability says whether the core is shared).
        requires: an ISA flag (``avx512f``) the CPU must have, or None.
        note: free text.
    """

    name: str
    kind: str
    asm: tuple[str, ...]
    hex: str
    expected: dict[str, float]
    tolerance: float
    source: str
    canary: bool = False
    requires: str | None = None
    note: str = ""


@dataclass(frozen=True)
class CheckRow:
    """One bench measured on this machine.

    Attributes:
        bench: the benchmark.
        measured: core cycles per iteration (NaN if it did not run).
        spread: (max - min) / median over the runs (NaN if no value).
        expected: the expected value for this microarchitecture, or None.
        status: ``ok`` (within tolerance), ``off`` (outside), ``unchecked`` (no expected
            value), ``skipped`` (the CPU lacks the ISA) or ``failed`` (no value: fault,
            noisy or contended; see ``detail``).
        detail: the measurement status and detail when not ok.
    """

    bench: Bench
    measured: float
    spread: float
    expected: float | None
    status: str
    detail: str = ""

    @property
    def rel_error(self) -> float:
        """(measured - expected) / expected, NaN when there is nothing to compare."""
        if self.expected is None or math.isnan(self.measured):
            return math.nan
        return (self.measured - self.expected) / self.expected


@dataclass
class SelfCheckReport:
    """Everything the self-check found.

    Attributes:
        uarch: microarchitecture the expectations were taken for.
        cpu: this machine's identity.
        rows: one per bench, in suite order.
        calibration: TSC ticks per core cycle before and after the suite.
        run_tsc_per_cycle: (min, max) of the per-run calibrations.
        contention_retries: runs re-run because the core was shared.
        warnings: one line each; empty when the machine looked quiet.
    """

    uarch: str
    cpu: CpuIdentity
    rows: list[CheckRow]
    calibration: tuple[float, float]
    run_tsc_per_cycle: tuple[float, float]
    contention_retries: int
    warnings: list[str] = field(default_factory=list)

    @property
    def n_off(self) -> int:
        """Checked benches (not fma-probe) outside their tolerance or without a value."""
        return sum(
            1 for r in self.rows if r.bench.kind != "fma-probe" and r.status in ("off", "failed")
        )


def load_suite(path: str | Path = SUITE) -> list[Bench]:
    """Read and validate a suite TOML file (``[[bench]]`` tables, see selfcheck.toml).

    Raises UserError naming the file and bench on a missing or bad field.
    """
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"self-check suite {p}: {exc}") from None
    items = data.get("bench")
    if not isinstance(items, list) or not items:
        raise UserError(f"self-check suite {p}: no [[bench]] entries")
    out: list[Bench] = []
    seen: set[str] = set()
    for i, raw in enumerate(items, start=1):
        out.append(_parse_bench(p, i, raw))
        if out[-1].name in seen:
            raise UserError(f"self-check suite {p}: bench {out[-1].name!r} appears twice")
        seen.add(out[-1].name)
    return out


def _parse_bench(p: Path, i: int, raw: dict[str, Any]) -> Bench:
    where = f"self-check suite {p}, bench {raw.get('name', i)!r}"
    for key in ("name", "kind", "hex", "source"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise UserError(f"{where}: missing or empty {key!r}")
    if raw["kind"] not in KINDS:
        raise UserError(f"{where}: kind {raw['kind']!r} is not one of {', '.join(KINDS)}")
    expected = raw.get("expected", {})
    if not isinstance(expected, dict) or not all(
        isinstance(v, (int, float)) and v > 0 for v in expected.values()
    ):
        raise UserError(f"{where}: expected must map microarchitectures to positive numbers")
    tol = raw.get("tolerance", 0.03)
    if not isinstance(tol, (int, float)) or not 0 < tol < 1:
        raise UserError(f"{where}: tolerance must be a fraction in (0, 1), got {tol!r}")
    return Bench(
        name=raw["name"],
        kind=raw["kind"],
        asm=tuple(raw.get("asm", ())),
        hex=runner.normalize_hex(raw["hex"], where=where),
        expected={str(k): float(v) for k, v in expected.items()},
        tolerance=float(tol),
        source=raw["source"],
        canary=bool(raw.get("canary", False)),
        requires=raw.get("requires"),
        note=str(raw.get("note", "")),
    )


def compare(bench: Bench, uarch: str, result: runner.BlockResult | None) -> CheckRow:
    """Turn one measurement (``None``: not run, the CPU lacks ``bench.requires``) into a row.

    ``result.cycles_per_100`` is per 100 iterations; rows are per iteration.
    """
    expected = bench.expected.get(uarch)
    if result is None:
        return CheckRow(bench, math.nan, math.nan, expected, "skipped", f"needs {bench.requires}")
    measured = result.cycles_per_100 / 100.0
    if result.status != "ok" or math.isnan(measured):
        detail = f"{result.status} {result.detail}".strip()
        return CheckRow(bench, measured, result.spread, expected, "failed", detail)
    if expected is None:
        return CheckRow(bench, measured, result.spread, None, "unchecked")
    ok = abs(measured - expected) <= bench.tolerance * expected
    return CheckRow(bench, measured, result.spread, expected, "ok" if ok else "off")


def contention_warnings(
    rows: Sequence[CheckRow],
    calibration: tuple[float, float],
    run_tpc: tuple[float, float],
    retries: int,
    runs: int,
) -> list[str]:
    """Lines that say the machine looked contended while the suite ran (empty: quiet).

    Args:
        rows: the measured benches.
        calibration: TSC ticks per core cycle before and after the suite.
        run_tpc: (min, max) of the per-run calibrations.
        retries: runs re-run because another hardware thread shared the core.
        runs: runs made in all (for the retry share).
    """
    out: list[str] = []
    for r in rows:
        if not r.bench.canary:
            continue
        if r.status == "failed":
            out.append(f"throughput canary {r.bench.name} gave no stable value ({r.detail})")
        elif not math.isnan(r.spread) and r.spread > CANARY_SPREAD:
            out.append(
                f"throughput canary {r.bench.name} varied by {r.spread:.1%} between runs "
                f"(> {CANARY_SPREAD:.0%})"
            )
        elif r.status == "off":
            out.append(
                f"throughput canary {r.bench.name} measured {r.measured:.3f} cycles, expected "
                f"{r.expected:.3f}"
            )
    a, b = calibration
    if abs(b - a) > CLOCK_MOVE * min(a, b):
        out.append(
            f"the core clock moved: add-chain calibration {a:.4f} -> {b:.4f} TSC ticks per cycle"
        )
    lo, hi = run_tpc
    if lo > 0 and (hi - lo) > 2 * CLOCK_MOVE * lo:
        out.append(f"per-run calibrations ranged {lo:.4f}-{hi:.4f} TSC ticks per cycle (> 2%)")
    if runs and retries > 0.1 * runs:
        out.append(
            # a run can be re-run several times, so the re-runs can outnumber the runs
            f"{retries} re-runs over {runs} runs because another hardware thread shared the core"
        )
    return [f"the machine looks contended: {w}" for w in out]


def run_self_check(
    suite: Sequence[Bench] | None = None,
    config: runner.MeasureConfig | None = None,
    uarch: str | None = None,
) -> SelfCheckReport:
    """Time every bench of ``suite`` on this CPU and compare with ``uarch``'s values.

    Args:
        suite: benches (default: the shipped selfcheck.toml).
        config: measurement knobs (default: 5 runs, 64 samples).
        uarch: whose expected values to use (default: this CPU's microarchitecture).
    """
    benches = list(suite) if suite is not None else load_suite()
    cfg = config or runner.MeasureConfig()
    cpu = cpu_identity()
    arch = uarch or cpu.uarch
    cal0, _ = runner.calibrate(20)
    rows: list[CheckRow] = []
    tpcs: list[float] = []
    retries = runs = 0
    with runner.Helper(cfg) as helper:
        for bench in benches:
            if bench.requires and bench.requires not in cpu.isa:
                rows.append(compare(bench, arch, None))
                continue
            res = helper.measure(bench.hex)
            tpcs.extend(res.tsc_per_cycle)
            retries += res.contention_retries
            runs += cfg.runs
            rows.append(compare(bench, arch, res))
    cal1, _ = runner.calibrate(20)
    run_tpc = (min(tpcs), max(tpcs)) if tpcs else (math.nan, math.nan)
    report = SelfCheckReport(arch, cpu, rows, (cal0, cal1), run_tpc, retries)
    report.warnings = contention_warnings(rows, (cal0, cal1), run_tpc, retries, runs)
    if not any(arch in b.expected for b in benches):
        report.warnings.append(f"the suite has no expected values for {arch}: nothing checked")
    return report


def format_report(report: SelfCheckReport) -> str:
    """The table and the warnings as text (one bench per line)."""
    lines = [
        f"self-check on {report.cpu.describe()}, expected values for {report.uarch}",
        f"{'bench':<22} {'kind':<16} {'measured':>9} {'expected':>9} {'error':>7} "
        f"{'spread':>7}  status",
    ]
    for r in report.rows:
        meas = "-" if math.isnan(r.measured) else f"{r.measured:.3f}"
        exp = "-" if r.expected is None else f"{r.expected:.3f}"
        err = "-" if math.isnan(r.rel_error) else f"{r.rel_error:+.1%}"
        spr = "-" if math.isnan(r.spread) else f"{r.spread:.2%}"
        extra = f" ({r.detail})" if r.detail else ""
        lines.append(
            f"{r.bench.name:<22} {r.bench.kind:<16} {meas:>9} {exp:>9} {err:>7} {spr:>7}  "
            f"{r.status}{extra}"
        )
    a, b = report.calibration
    lines.append(
        f"calibration {a:.4f} -> {b:.4f} TSC ticks per cycle; per-run "
        f"{report.run_tsc_per_cycle[0]:.4f}-{report.run_tsc_per_cycle[1]:.4f}; "
        f"{report.contention_retries} runs re-run for a shared core"
    )
    checked = [r for r in report.rows if r.bench.kind != "fma-probe" and r.expected is not None]
    n_ok = sum(1 for r in checked if r.status == "ok")
    lines.append(f"{n_ok} of {len(checked)} checked benches within tolerance")
    for w in report.warnings:
        lines.append(f"WARNING: {w}")
    return "\n".join(lines)
