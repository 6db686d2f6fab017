"""The embedded executor: each trial in its own forked process, N at a time.

One process per trial (rather than a pool) means a trial that crashes or is killed
takes nothing else down: it is simply left unfinished and the next run resumes it.
The runner builds the suite's tasks before calling ``run`` (harness.runner), so the
forked trials reuse the loaded, decoded datasets without reloading them.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from harness.errors import UserError
from harness.procs import die_with_parent
from harness.trial import TrialSpec, run_trial

OnResult = Callable[[TrialSpec, dict[str, Any] | None, str], None]


def _child(spec: TrialSpec, conn: Connection, parent_pid: int) -> None:
    die_with_parent(parent_pid)
    try:
        conn.send(run_trial(spec))
    except BaseException:  # noqa: BLE001 - reported to the parent as a lost trial
        conn.send({"_lost": traceback.format_exc()})
    finally:
        conn.close()


class LocalExecutor:
    """Runs trials in up to ``workers`` concurrent child processes."""

    name = "local"

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise UserError(f"--workers must be >= 1, got {workers}")
        self.workers = workers

    def check(self) -> None:
        """Nothing to check for local processes."""

    def run(self, specs: Sequence[TrialSpec], on_result: OnResult) -> None:
        """Run ``specs``; call ``on_result(spec, record, "")`` as each finishes, or
        ``on_result(spec, None, why)`` for a trial whose process died."""
        ctx = mp.get_context("fork")
        pending = list(specs)
        # Keyed by the parent's end of each child's pipe. We wait on the pipes, not on
        # the processes: a big record fills the pipe's buffer, and the child can only
        # exit once the parent has read it. A child that dies closes its end (EOF).
        running: dict[Connection, tuple[TrialSpec, Any]] = {}
        while pending or running:
            while pending and len(running) < self.workers:
                spec = pending.pop(0)
                parent_conn, child_conn = ctx.Pipe(duplex=False)
                # Not daemonic: a trial spawns its agent's process; trials still die
                # with the runner (die_with_parent).
                proc = ctx.Process(
                    target=_child, args=(spec, child_conn, os.getpid()), daemon=False
                )
                proc.start()
                child_conn.close()
                running[parent_conn] = (spec, proc)
            for conn in wait(list(running)):
                assert isinstance(conn, Connection)
                spec, proc = running.pop(conn)
                record: dict[str, Any] | None
                try:
                    record = conn.recv()
                except (EOFError, OSError):
                    record = None
                conn.close()
                proc.join()
                why = ""
                if record is None:
                    why = f"trial process exited with code {proc.exitcode} before reporting"
                elif "_lost" in record:
                    why, record = record["_lost"], None
                on_result(spec, record, why)
