"""A zygote for agent processes: imports the suite's agent code once, then forks one
clean process per trial.

Why: an isolated agent (harness/isolation.py) must start in a process whose memory
never held a task, which ``spawn`` gives at the price of a fresh interpreter and fresh
imports per trial (torch and stable-baselines3 take seconds). The zygote is spawned by
the runner *before* any task is built, imports the agents' modules, and listens on a
Unix socket; a trial connects, and the zygote forks a child that takes over the
connection and runs the agent. Children share the zygote's imported modules and
nothing else.

The runner publishes the zygote's address in ``TUNEBENCH_ZYGOTE`` (inherited by the
trial processes it forks); without it (e.g. trials on Ray workers) agents are spawned.

Any module the agents' code loads may define ``zygote_warm_up()``: work every forked
agent would otherwise repeat, done once here (agents/torchutil.py: torch's first-use
initialization, ~1.7 s of CPU per process).
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import secrets
import signal
import sys
import tempfile
from collections.abc import Sequence
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any

ENV_VAR = "TUNEBENCH_ZYGOTE"


class Zygote:
    """A running zygote: its process, address and key; :meth:`stop` ends it."""

    def __init__(self, modules: Sequence[str]) -> None:
        self._dir = tempfile.mkdtemp(prefix="tunebench-zygote-")
        self.address = str(Path(self._dir) / "agents.sock")
        self.authkey = secrets.token_bytes(16)
        ctx = mp.get_context("spawn")
        ready_r, ready_w = ctx.Pipe(duplex=False)
        self.process = ctx.Process(
            target=_zygote_main,
            args=(list(modules), self.address, self.authkey, ready_w, os.getpid()),
            daemon=True,
            name="tb-zygote",
        )
        self.process.start()
        ready_w.close()
        try:
            ready_r.recv()  # the listener exists
        except EOFError:
            raise RuntimeError("the agent zygote died while starting") from None
        finally:
            ready_r.close()

    def publish(self) -> None:
        """Tell processes forked from here (the trials) where the zygote is."""
        os.environ[ENV_VAR] = f"{self.address}|{self.authkey.hex()}"

    def stop(self) -> None:
        if os.environ.get(ENV_VAR, "").startswith(self.address):
            del os.environ[ENV_VAR]
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        for name in os.listdir(self._dir):
            os.unlink(os.path.join(self._dir, name))
        os.rmdir(self._dir)


def _zygote_main(
    modules: list[str], address: str, authkey: bytes, ready: Connection, parent: int
) -> None:
    from harness.procs import die_with_parent

    die_with_parent(parent)
    for name in modules:  # a module that fails to import fails its trials, not the zygote
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001
            pass
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    listener = Listener(address, family="AF_UNIX", authkey=authkey)
    ready.send(True)
    ready.close()
    _warm_up()  # while the runner builds its tasks; trials connect after it
    while True:
        try:
            conn = listener.accept()
        except (OSError, EOFError):
            continue
        pid = os.fork()
        if pid == 0:
            listener.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            code = 0
            try:
                from harness.isolation import _agent_main, recv, send

                send(conn, ("pid", os.getpid()))
                job = recv(conn)
                job.parent_pid = os.getppid()
                _agent_main(job, conn)
            except BaseException:  # noqa: BLE001 - the trial sees the channel close
                code = 1
            finally:
                os._exit(code)
        conn.close()


def _warm_up() -> None:
    """Call every loaded module's ``zygote_warm_up()`` once (a failing one is skipped:
    its agents then pay the cost themselves)."""
    for module in list(sys.modules.values()):
        hook = getattr(module, "zygote_warm_up", None)
        if callable(hook):
            try:
                hook()
            except Exception:  # noqa: BLE001
                pass


class ForkedAgent:
    """A handle on an agent forked by the zygote (the trial is not its parent)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.exitcode: int | None = None

    def is_alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def join(self, timeout: float | None = None) -> None:
        import time

        end = None if timeout is None else time.monotonic() + timeout
        while self.is_alive() and (end is None or time.monotonic() < end):
            time.sleep(0.01)

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def connect_to_zygote(job: Any) -> tuple[Connection, ForkedAgent] | None:
    """Ask the published zygote for an agent process running ``job``; None when there
    is no zygote (or it cannot be reached: the caller spawns instead)."""
    from harness.isolation import recv, send

    value = os.environ.get(ENV_VAR)
    if not value or "|" not in value:
        return None
    address, key = value.rsplit("|", 1)
    try:
        conn = Client(address, family="AF_UNIX", authkey=bytes.fromhex(key))
        kind, pid = recv(conn)
        send(conn, job)
    except (OSError, EOFError, ValueError):
        return None
    return conn, ForkedAgent(int(pid))
