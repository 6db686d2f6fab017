"""Run a suite: skip finished trials, run the rest on an executor, store each record.

Before anything is written: the suite, its tasks, agents and options are checked
(:func:`harness.suite.check_specs`), the executor is created and checked (workers,
cluster address), the run directory is locked (a second ``tunebench run`` on it stops
with one line) and, if it holds another suite's run, refused unless ``force``. Then
``RUN_DIR/suite.toml`` and ``RUN_DIR/run.json`` (command, start time, host, versions:
the report's provenance) are written, and each finished trial's record as it arrives.
Invalid records (see :func:`harness.store.validate_record`) are re-run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import harness
from harness import registry
from harness.errors import UserError
from harness.store import save_record, scan_records, write_atomic
from harness.suite import check_specs, load_suite
from harness.trial import TrialSpec
from harness.zygote import Zygote


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
    """Specs without a valid ``ok`` record of the same fingerprint (failed, invalid and
    changed ones re-run)."""
    done, _invalid = scan_records(run_dir)
    todo = []
    for spec in specs:
        rec = done.get(spec.trial_id)
        if rec and rec.get("status") == "ok" and rec.get("fingerprint") == spec.fingerprint():
            continue
        todo.append(spec)
    return todo


@contextlib.contextmanager
def locked_run_dir(run_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``run_dir`` (UserError, one line, if another process
    holds it). The lock file ``RUN_DIR/.lock`` stays; the lock ends with the process."""
    run_dir.mkdir(parents=True, exist_ok=True)
    fh = open(run_dir / ".lock", "a+")  # noqa: SIM115 - held for the whole run
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise UserError(f"{run_dir} is in use by another tunebench run ({holder})") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        fh.flush()
        yield
    finally:
        fh.close()


def check_same_suite(run_dir: Path, name: str, force: bool) -> None:
    """UserError if ``run_dir`` holds a run of another suite (unless ``force``)."""
    meta = run_dir / "run.json"
    if force or not meta.is_file():
        return
    try:
        before = json.loads(meta.read_text()).get("suite")
    except ValueError:
        return
    if before and before != name:
        raise UserError(
            f"{run_dir} holds a run of suite {before!r}, not {name!r}: use another --out, "
            "or --force to add this suite's trials to it"
        )


def run_suite(
    config: str | Path,
    out_dir: str | Path | None = None,
    workers: int = 1,
    executor: str = "local",
    address: str | None = None,
    log: Callable[[str], None] | None = None,
    force: bool = False,
) -> RunSummary:
    """Run (or resume) the suite in ``config``; records go to ``out_dir/trials``.

    ``out_dir`` defaults to ``runs/<suite name>``.
    """
    say = log or (lambda line: print(line, file=sys.stderr, flush=True))
    name, specs = load_suite(config)
    # The agents' zygote starts before any task is built, so the agent processes it
    # forks never held a task (harness/zygote.py); local trials only.
    zygote = _start_zygote(specs) if executor == "local" else None
    try:
        return _run_suite(config, name, specs, out_dir, workers, executor, address, say, force)
    finally:
        if zygote is not None:
            zygote.stop()


def _start_zygote(specs: list[TrialSpec]) -> Zygote | None:
    modules = {"harness.isolation"}
    for spec in specs:
        target = registry.agent_target(spec.agent_name)
        if target:
            modules.add(target.partition(":")[0])
    try:
        zygote = Zygote(sorted(modules))
    except (OSError, RuntimeError):
        return None  # agents are spawned instead
    zygote.publish()
    return zygote


def _run_suite(
    config: str | Path,
    name: str,
    specs: list[TrialSpec],
    out_dir: str | Path | None,
    workers: int,
    executor: str,
    address: str | None,
    say: Callable[[str], None],
    force: bool,
) -> RunSummary:
    # Build each task setting and agent setting once up front: a missing dataset or
    # tool, a bad option or an agent that cannot work on its task fails here, before
    # anything is written (and forked local workers reuse the built tasks).
    check_specs(specs)
    runner = make_executor(executor, workers, address)
    runner.check()
    run_dir = Path(out_dir) if out_dir else Path("runs") / name
    existed = run_dir.exists()
    if existed:
        check_same_suite(run_dir, name, force)
    try:
        with locked_run_dir(run_dir):
            return _run_locked(config, name, specs, run_dir, runner, workers, executor, say)
    except BaseException:
        # A run that failed before writing anything leaves no directory behind.
        if not existed and not any(p.name != ".lock" for p in run_dir.iterdir()):
            (run_dir / ".lock").unlink(missing_ok=True)
            run_dir.rmdir()
        raise


def _run_locked(
    config: str | Path,
    name: str,
    specs: list[TrialSpec],
    run_dir: Path,
    runner: Any,
    workers: int,
    executor: str,
    say: Callable[[str], None],
) -> RunSummary:
    write_atomic(run_dir / "suite.toml", Path(config).read_text())
    write_atomic(
        run_dir / "run.json",
        json.dumps(
            {
                "suite": name,
                "command": " ".join(["tunebench", *sys.argv[1:]])
                if Path(sys.argv[0]).name in ("tunebench", "cli.py", "__main__.py")
                else f"run_suite({str(config)!r})",
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
                "host": socket.gethostname(),
                "tunebench": harness.__version__,
                "python": platform.python_version(),
                "executor": executor,
                "workers": workers,
            },
            indent=2,
        )
        + "\n",
    )
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
        runner.run(todo, on_result)
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
