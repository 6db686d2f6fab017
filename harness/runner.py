"""Run a suite: skip finished trials, run the rest on an executor, store each record."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.store import finished_records, save_record, write_atomic
from harness.suite import check_specs, load_suite
from harness.trial import TrialSpec


@dataclass
class RunSummary:
    run_dir: Path
    total: int
    skipped: int
    ok: int = 0
    failed: int = 0
    lost: list[str] = field(default_factory=list)
    wall_s: float = 0.0


def make_executor(kind: str, workers: int, address: str | None = None) -> Any:
    """The executor named ``kind`` (``local`` or ``ray``)."""
    if kind == "local":
        from harness.executor_local import LocalExecutor

        return LocalExecutor(workers)
    if kind == "ray":
        try:
            from harness.executor_ray import RayExecutor
        except ImportError as exc:
            raise UserError(f"the ray executor needs Ray: pip install -e .[ray] ({exc})") from None
        return RayExecutor(workers=workers, address=address)
    raise UserError(f"unknown executor {kind!r}; use 'local' or 'ray'")


def pending_specs(specs: list[TrialSpec], run_dir: Path) -> list[TrialSpec]:
    """Specs without an ``ok`` record of the same fingerprint (failed ones re-run)."""
    done = finished_records(run_dir)
    todo = []
    for spec in specs:
        rec = done.get(spec.trial_id)
        if rec and rec.get("status") == "ok" and rec.get("fingerprint") == spec.fingerprint():
            continue
        todo.append(spec)
    return todo


def run_suite(
    config: str | Path,
    out_dir: str | Path | None = None,
    workers: int = 1,
    executor: str = "local",
    address: str | None = None,
    log: Callable[[str], None] | None = None,
) -> RunSummary:
    """Run (or resume) the suite in ``config``; records go to ``out_dir/trials``.

    ``out_dir`` defaults to ``runs/<suite name>``.
    """
    say = log or (lambda line: print(line, file=sys.stderr, flush=True))
    name, specs = load_suite(config)
    # Build each task setting and agent setting once up front: a missing dataset or
    # tool, a bad option or an agent that cannot work on its task fails here, before
    # anything is written (and forked local workers reuse the built tasks).
    check_specs(specs)
    run_dir = Path(out_dir) if out_dir else Path("runs") / name
    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(run_dir / "suite.toml", Path(config).read_text())
    todo = pending_specs(specs, run_dir)
    summary = RunSummary(run_dir=run_dir, total=len(specs), skipped=len(specs) - len(todo))
    say(
        f"suite {name}: {len(specs)} trials, {summary.skipped} already finished, "
        f"{len(todo)} to run with {workers} worker(s) [{executor}] -> {run_dir}"
    )
    t0 = time.perf_counter()
    done = 0

    def on_result(spec: TrialSpec, record: dict[str, Any] | None, why: str) -> None:
        nonlocal done
        done += 1
        elapsed = time.perf_counter() - t0
        eta = elapsed / done * (len(todo) - done)
        head = f"[{done:>{len(str(len(todo)))}}/{len(todo)}] {spec.trial_id}"
        tail = f"(elapsed {_hms(elapsed)}, eta {_hms(eta)})"
        if record is None:
            summary.lost.append(spec.trial_id)
            say(f"{head} LOST: {why.strip().splitlines()[-1] if why.strip() else why} {tail}")
            return
        save_record(run_dir, record)
        if record["status"] == "ok":
            summary.ok += 1
            say(
                f"{head} ok  test loss {record.get('test_loss', float('nan')):.4f}  "
                f"{record['samples_used']} samples  {record['wall_s']:.1f} s {tail}"
            )
        else:
            summary.failed += 1
            last = record["error"].strip().splitlines()[0] if record["error"].strip() else "?"
            say(f"{head} FAILED: {last} {tail}")

    if todo:
        make_executor(executor, workers, address).run(todo, on_result)
    summary.wall_s = time.perf_counter() - t0
    say(
        f"suite {name}: {summary.ok} ok, {summary.failed} failed, {len(summary.lost)} lost, "
        f"{summary.skipped} skipped in {_hms(summary.wall_s)}"
    )
    return summary


def _hms(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


__all__ = ["RunSummary", "make_executor", "pending_specs", "run_suite"]
