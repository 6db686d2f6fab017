"""The Ray executor: each trial is a Ray task, so a suite can spread over a cluster.

Same contract as :class:`harness.executor_local.LocalExecutor`: ``run(specs,
on_result)`` calls ``on_result(spec, record, "")`` in the driver as each trial ends,
or ``on_result(spec, None, why)`` when the worker running it died. Records travel back
as task return values and the driver (the runner) writes them, so a run directory
looks the same whichever executor filled it, and resume and report work unchanged.

- Without an address a private local Ray instance is started (``num_cpus=workers``)
  and shut down at the end; with one, the driver joins that cluster
  (``ray start --head`` / ``ray start --address=...``) and leaves it running. If Ray
  is already initialised in this process, that connection is used as it is.
- At most ``workers`` trials are in flight; the next is submitted as one finishes, so
  results stream back in the order they finish.
- Each trial asks for one CPU. An agent class may declare more with a class attribute
  ``resources`` (Ray resource name -> amount per trial, e.g. ``{"GPU": 1}``); a
  resource that no node of the cluster has (a GPU on a CPU-only cluster) is dropped,
  so the trial runs without it rather than waiting forever.
- Trial tasks have ``max_retries=0``: a trial whose worker dies is reported lost
  (left unfinished, so the next run resumes it) instead of being run a second time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import ray
import ray.exceptions

from harness import registry
from harness.errors import UserError
from harness.trial import TrialSpec, run_trial

OnResult = Callable[[TrialSpec, dict[str, Any] | None, str], None]

log = logging.getLogger(__name__)

# The folder holding the harness package: plugins named in TUNEBENCH_PLUGINS may live
# beside it (the test suite's ``tests.toyfamily``), outside the installed packages.
_REPO_ROOT = Path(__file__).resolve().parent.parent

# Records are a few kB and come back inline; a small object store keeps a local
# instance light (Ray's default reserves ~30% of RAM in /dev/shm).
_LOCAL_OBJECT_STORE_BYTES = 128 * 1024**2

# Resources Ray takes as their own task options rather than in ``resources=``.
_BUILTIN = ("CPU", "GPU", "memory")


def _run_trial_task(spec: TrialSpec) -> dict[str, Any]:
    """Body of the Ray task: one trial in a Ray worker; returns its record.

    Ray names the worker process ``ray::_run_trial_task`` while it runs this (tests
    find the process to kill by that title). ``run_trial`` never raises for task or
    agent errors; anything else (the worker dying) surfaces in ``ray.get`` as a
    ``RayError``.
    """
    return run_trial(spec)


# max_retries=0: Ray would otherwise re-run a task whose worker died, and a trial
# must be recorded once; a lost trial is resumed by the next ``tunebench run``.
_trial_remote = ray.remote(max_retries=0)(_run_trial_task)


def worker_runtime_env() -> dict[str, Any]:
    """Ray ``runtime_env`` giving trial workers the driver's plugins and import path.

    Out: ``{"env_vars": {...}}`` with ``TUNEBENCH_PLUGINS`` (when set in the driver)
    and ``PYTHONPATH`` = the repository root and the driver's working directory ahead
    of the worker node's own ``PYTHONPATH`` (Ray expands ``${PYTHONPATH}`` there).
    Paths that do not exist on a node are harmless; nodes are expected to have
    tunebench installed (see the README), this only covers plugins outside it.
    """
    paths: list[str] = []
    for p in (str(_REPO_ROOT), os.getcwd()):
        if p not in paths:
            paths.append(p)
    env = {"PYTHONPATH": os.pathsep.join([*paths, "${PYTHONPATH}"])}
    plugins = os.environ.get("TUNEBENCH_PLUGINS")
    if plugins:
        env["TUNEBENCH_PLUGINS"] = plugins
    return {"env_vars": env}


def connect(address: str | None, num_cpus: int) -> bool:
    """Make sure this process is connected to Ray; True if this call started it.

    In: ``address`` of an existing cluster (``host:port``, ``auto``, ``ray://...``) or
    None for a private local instance with ``num_cpus`` CPUs. Already connected: kept
    as is (returns False). Raises ``UserError`` (one line) if ``address`` cannot be
    joined.
    """
    if ray.is_initialized():
        return False
    # Quiet: trial errors are in the records; worker output stays in the session's
    # logs/ folder (/tmp/ray/session_latest/logs) instead of the run's progress lines.
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
    if address is None:
        # No usage reporting: a local instance talks to nothing beyond this machine.
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(
            address="local",  # never attach to a cluster found via RAY_ADDRESS / `ray start`
            num_cpus=num_cpus,
            include_dashboard=False,
            object_store_memory=_LOCAL_OBJECT_STORE_BYTES,
            **quiet,
        )
    else:
        _check_reachable(address)
        try:
            # Ray's core prints a warning a second while it retries an address that
            # answers but is no Ray cluster (~20 s): kept out of the terminal, the
            # failure is one line below.
            with _stderr_to_file():
                ray.init(address=address, **quiet)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), "")
            raise UserError(
                f"cannot join the Ray cluster at {address}: {first} (is `ray start --head` "
                "running there, and do RAY_AUTH_MODE and the auth token match the cluster's?)"
            ) from None
    return True


@contextlib.contextmanager
def _stderr_to_file() -> Iterator[None]:
    """Send file descriptor 2 (C++ logs included) to a temporary file for a while."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _check_reachable(address: str, timeout_s: float = 10.0) -> None:
    """UserError unless a ``host:port`` address accepts a TCP connection.

    Ray retries an unreachable GCS address for ever (and ignores SIGTERM meanwhile),
    so a typo would hang the run; ``auto`` and ``ray://`` addresses are left to Ray.
    """
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise UserError(f"cannot reach the Ray cluster at {address}: {exc}") from None


def trial_resources(agent: str) -> dict[str, float]:
    """Ray resources one trial of ``agent`` asks for, before fitting to the cluster.

    Out: ``{"CPU": 1.0}`` updated with the agent class's ``resources`` attribute
    (resource name -> amount per trial), if it has one. An agent that cannot be loaded
    here gets the default (its trial will fail and be recorded in the worker).
    """
    wanted: dict[str, float] = {"CPU": 1.0}
    try:
        declared: Mapping[str, float] = getattr(registry.agent_class(agent), "resources", {}) or {}
    except Exception:  # noqa: BLE001 - the trial itself reports a broken agent
        return wanted
    wanted.update({str(k): float(v) for k, v in declared.items()})
    return wanted


def fit_to_cluster(
    wanted: Mapping[str, float], nodes: Sequence[Mapping[str, float]]
) -> dict[str, float]:
    """Cap a request at what one node can give, so the task is schedulable.

    In: the request and each alive node's total resources. Out: the request with
    resources no node has removed (e.g. ``GPU`` on a CPU-only cluster) and amounts
    above the largest node's capped to it (each resource on its own). Ray would
    otherwise queue the task for ever.
    """
    fitted: dict[str, float] = {}
    for name, amount in wanted.items():
        most = max((float(node.get(name, 0.0)) for node in nodes), default=0.0)
        if amount <= 0:
            continue
        if most <= 0:
            log.info("no node has resource %s; trials run without it", name)
            continue
        fitted[name] = min(amount, most)
    fitted.setdefault("CPU", 0.0)  # Ray's default for a task is 1 CPU; be explicit
    return fitted


def task_options(resources: Mapping[str, float]) -> dict[str, Any]:
    """Translate a resource dict into ``.options(...)`` keywords of a Ray task."""
    opts: dict[str, Any] = {
        "num_cpus": resources.get("CPU", 0.0),
        "num_gpus": resources.get("GPU", 0.0),
    }
    if resources.get("memory"):
        opts["memory"] = resources["memory"]
    custom = {k: v for k, v in resources.items() if k not in _BUILTIN}
    if custom:
        opts["resources"] = custom
    return opts


def _why_lost(exc: BaseException) -> str:
    """One line for the run log: the runner prints the last line of ``why``."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    # A task error's text is a traceback (its last line names the exception); a dead
    # worker's is a sentence (its first line says what happened).
    if not lines:
        head = ""
    elif isinstance(exc, ray.exceptions.RayTaskError):
        head = lines[-1]
    else:
        head = lines[0]
    return f"Ray task failed ({type(exc).__name__}): {head}"[:400]


class RayExecutor:
    """Runs trials as Ray tasks, at most ``workers`` at a time.

    Args:
        workers: trials in flight at once; also the CPU count of a local instance.
        address: cluster to join; None starts (and later stops) a local instance.
    """

    name = "ray"

    def __init__(self, workers: int = 1, address: str | None = None) -> None:
        if workers < 1:
            raise UserError(f"--workers must be >= 1, got {workers}")
        self.workers = workers
        self.address = address
        self._started = False

    def check(self) -> None:
        """Join (or start) Ray now: a cluster that cannot be joined fails here, in one
        line, before the run writes anything."""
        if self.address is not None:
            _check_reachable(self.address, timeout_s=3.0)
        self._started = connect(self.address, self.workers) or self._started

    def run(self, specs: Sequence[TrialSpec], on_result: OnResult) -> None:
        """Run ``specs``; call ``on_result(spec, record, "")`` as each finishes, or
        ``on_result(spec, None, why)`` for a trial whose Ray worker died."""
        started = connect(self.address, self.workers) or self._started
        self._started = False
        running: dict[ray.ObjectRef, TrialSpec] = {}
        try:
            nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
            runtime_env = worker_runtime_env()
            options: dict[str, dict[str, Any]] = {}  # per agent name
            pending = deque(specs)
            while pending or running:
                while pending and len(running) < self.workers:
                    spec = pending.popleft()
                    if spec.agent_name not in options:
                        fitted = fit_to_cluster(trial_resources(spec.agent_name), nodes)
                        options[spec.agent_name] = task_options(fitted)
                    ref = _trial_remote.options(
                        runtime_env=runtime_env, **options[spec.agent_name]
                    ).remote(spec)
                    running[ref] = spec
                ready, _ = ray.wait(list(running), num_returns=1)
                for ref in ready:
                    spec = running.pop(ref)
                    try:
                        record = ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        # Worker crash, killed process, lost node, OOM kill, or a
                        # BaseException escaping run_trial: the trial stays unfinished.
                        on_result(spec, None, _why_lost(exc))
                        continue
                    on_result(spec, record, "")
        finally:
            # Interrupted (Ctrl-C) or on_result raised: stop the trials still running,
            # or they would keep cluster CPUs busy with no driver to take their records.
            for ref in running:
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - best effort on the way out
                    pass
            if started:
                ray.shutdown()


__all__ = [
    "RayExecutor",
    "connect",
    "fit_to_cluster",
    "task_options",
    "trial_resources",
    "worker_runtime_env",
]
