"""Agents in their own process: they reach the task only through a narrow channel.

The trial process holds the task and the real :class:`~harness.budget.BudgetedObjective`
(the counters, the cache, the curve monitor). The agent runs in a freshly *spawned*
Python process (not forked: its memory never held the task, so scanning its own heap
finds nothing) and gets a :class:`RemoteObjective` with the objective's public methods.
Every call is a message over a pipe; the trial process answers it with the real
objective, so an agent cannot overwrite the counters (its copy of them is only a view),
read private attributes of the task (there is none in its process), or request the
test split (the real objective refuses, as in process).

Live policies (``evaluate_policy``): the task calls the policy in the trial process;
each call goes back over the channel to the agent's policy object, and the agent's
answer returns. While the trial process waits for such an answer it also serves the
agent's other requests (e.g. ``propose`` from another thread of the agent), so neither
side can deadlock.

Not covered: the agent's process can still read files (the datasets on disk). The
filesystem is not sandboxed; see the README.

Wire format: tuples ``(kind, request_id, payload)``. Agent -> harness: ``req``
(method, args) and ``ret`` (a policy call's answer); harness -> agent: ``resp`` (ok,
value, state), ``call`` (a policy call's arguments) and ``done``.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import pickle
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from harness.budget import BudgetedObjective
from harness.params import Config, ParamSpace
from harness.procs import die_with_parent
from harness.zygote import connect_to_zygote

# Methods of the objective an agent may call, and nothing else.
ALLOWED = frozenset(
    {
        "n_items",
        "inputs",
        "item_tokens",
        "targets",
        "label_cost",
        "evaluate",
        "reference_names",
        "evaluate_reference",
        "sample_cost",
        "loss",
        "loss_many",
        "evaluate_policy",
        "propose",
        "propose_predictor",
    }
)


def send(conn: Connection, message: Any) -> None:
    """Send with the plain pickle protocol. multiprocessing's own pickler would send
    torch tensors as shared-memory handles (torch registers that reduction), which do
    not survive this channel; plain pickle copies them."""
    conn.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def recv(conn: Connection) -> Any:
    """Receive what :func:`send` sent."""
    return pickle.loads(conn.recv_bytes())


def _state(obj: BudgetedObjective) -> dict[str, Any]:
    return {
        "samples_used": obj.samples_used,
        "budget_samples": obj.budget_samples,
        "labels_used": obj.labels_used,
        "budget_labels": obj.budget_labels,
        "evaluations": obj.evaluations,
        "stopped_by_time_limit": obj.stopped_by_time_limit,
    }


# ---- agent side ------------------------------------------------------------------
class _Channel:
    """The agent end: requests from any thread, answers routed by request id.

    No reader thread: the thread that waits for an answer reads the pipe itself
    (leader/follower), so a single-threaded agent's round trip wakes one thread in this
    process, not two. On a 2-core machine the extra hop through a reader thread cost
    more CPU than the pickling (bench/harness_overhead.py). A thread whose answer
    another thread read finds it in its box; the reader hands the pipe over on
    leaving."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._send_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._boxes: dict[int, list[tuple[str, Any]]] = {}
        self._cond = threading.Condition()  # guards _boxes, _reading, _closed
        self._reading = False
        self._closed = False

    def send(self, message: tuple[str, int, Any]) -> None:
        with self._send_lock:
            send(self.conn, message)

    def _next(self, rid: int) -> tuple[str, Any]:
        """The next message for request ``rid``: read by this thread, or by another."""
        cond = self._cond
        with cond:
            while True:
                box = self._boxes[rid]
                if box:
                    return box.pop(0)
                if self._closed:
                    return ("closed", None)
                if not self._reading:
                    self._reading = True
                    break
                cond.wait()
        try:
            while True:
                try:
                    kind, other, payload = recv(self.conn)
                except (EOFError, OSError):
                    with cond:
                        self._closed = True
                    return ("closed", None)
                if other == rid:
                    return (kind, payload)
                with cond:
                    if other in self._boxes:
                        self._boxes[other].append((kind, payload))
                        cond.notify_all()
        finally:
            with cond:
                self._reading = False
                cond.notify_all()  # a waiting thread takes over the pipe

    def request(self, method: str, args: tuple[Any, ...], policy: Callable | None = None) -> Any:
        rid = next(self._ids)
        with self._cond:
            self._boxes[rid] = []
        try:
            self.send(("req", rid, (method, args)))
            while True:
                kind, payload = self._next(rid)
                if kind == "call":  # the harness runs our live policy on these arguments
                    assert policy is not None
                    try:
                        self.send(("ret", rid, (True, policy(*payload))))
                    except BaseException as exc:  # noqa: BLE001 - handed to the task
                        self.send(("ret", rid, (False, exc)))
                    continue
                if kind == "closed":
                    raise ConnectionError("the trial process closed the channel")
                return payload
        finally:
            with self._cond:
                self._boxes.pop(rid, None)


class _Log:
    """What an agent may read of the trial's log: its own last proposal."""

    def __init__(self) -> None:
        self.incumbent: Config | None = None
        self.incumbent_predictor: Any = None


class RemoteObjective:
    """The agent's view of the budgeted objective (same public methods and counters).

    The counters are a copy refreshed by every answer: changing them changes nothing
    in the trial process, which keeps the real ones.
    """

    def __init__(
        self,
        channel: _Channel,
        space: ParamSpace,
        capabilities: frozenset[str],
        state: dict[str, Any],
    ) -> None:
        self._channel = channel
        self._space = space
        self._names = space.names
        self._caps = capabilities
        self._state = dict(state)
        self._log = _Log()

    # counters (views)
    @property
    def param_space(self) -> ParamSpace:
        return self._space

    @property
    def capabilities(self) -> frozenset[str]:
        return self._caps

    @property
    def samples_used(self) -> int:
        return int(self._state["samples_used"])

    @property
    def budget_samples(self) -> int:
        return int(self._state["budget_samples"])

    @property
    def samples_left(self) -> int:
        return self.budget_samples - self.samples_used

    @property
    def labels_used(self) -> int:
        return int(self._state["labels_used"])

    @property
    def budget_labels(self) -> int | None:
        return self._state["budget_labels"]

    @property
    def labels_left(self) -> int | None:
        b = self.budget_labels
        return None if b is None else b - self.labels_used

    @property
    def evaluations(self) -> int:
        return int(self._state["evaluations"])

    @property
    def stopped_by_time_limit(self) -> bool:
        return bool(self._state["stopped_by_time_limit"])

    @property
    def log(self) -> _Log:
        return self._log

    def _call(self, method: str, *args: Any, policy: Callable | None = None) -> Any:
        ok, value, state = self._channel.request(method, args, policy)
        self._state = state
        if not ok:
            raise value
        return value

    def _pack(self, config: Mapping[str, Any]) -> Any:
        # All-integer spaces (tables of thousands of entries) travel as one int64 array.
        if self._space._int_bounds is not None and len(config) == len(self._names):  # noqa: SLF001
            try:
                n = len(self._names)
                return np.fromiter(map(config.__getitem__, self._names), np.int64, count=n)
            except (KeyError, TypeError, ValueError, OverflowError):
                pass
        return dict(config)

    # the channel's methods
    def n_items(self, split: str = "train") -> int:
        return self._call("n_items", split)

    def inputs(self, split: str = "train", items: Any = None) -> list[str]:
        return self._call("inputs", split, items)

    def item_tokens(self, split: str = "train", items: Any = None) -> list[list[str]]:
        return self._call("item_tokens", split, items)

    def targets(self, split: str = "train", items: Any = None) -> np.ndarray:
        return self._call("targets", split, items)

    def label_cost(self, split: str, items: Any = None) -> int:
        return self._call("label_cost", split, items)

    def evaluate(
        self,
        config: Mapping[str, Any],
        split: str = "train",
        items: Any = None,
        reuse: bool = False,
    ) -> np.ndarray:
        return self._call("evaluate", self._pack(config), split, items, reuse)

    def reference_names(self) -> tuple[str, ...]:
        return self._call("reference_names")

    def evaluate_reference(self, name: str, split: str = "train", items: Any = None) -> np.ndarray:
        return self._call("evaluate_reference", name, split, items)

    def sample_cost(
        self,
        config: Mapping[str, Any],
        split: str = "train",
        items: Any = None,
        reuse: bool = False,
    ) -> int:
        return self._call("sample_cost", self._pack(config), split, items, reuse)

    def loss(
        self,
        config: Mapping[str, Any],
        split: str = "train",
        items: Any = None,
        reuse: bool = False,
    ) -> float:
        return self._call("loss", self._pack(config), split, items, reuse)

    def loss_many(
        self,
        configs: list[Mapping[str, Any]],
        split: str = "train",
        items: Any = None,
        propose_improvements: bool = False,
        best_loss: float | None = None,
    ) -> list[float]:
        packed = [self._pack(c) for c in configs]
        losses = self._call("loss_many", packed, split, items, propose_improvements, best_loss)
        if propose_improvements:  # mirror the proposals the trial process made
            best = best_loss
            for config, value in zip(configs, losses, strict=False):
                if best is None or value < best:
                    self._log.incumbent, self._log.incumbent_predictor = dict(config), None
                    best = value
        return losses

    def evaluate_policy(
        self, policy: Callable[..., Any], split: str = "train", items: Any = None
    ) -> np.ndarray:
        return self._call("evaluate_policy", split, items, policy=policy)

    def propose(self, config: Mapping[str, Any], train_loss: float | None = None) -> None:
        self._call("propose", self._pack(config), train_loss)
        self._log.incumbent, self._log.incumbent_predictor = dict(config), None

    def propose_predictor(self, predictor: Any, train_loss: float | None = None) -> None:
        self._call("propose_predictor", predictor, train_loss)
        self._log.incumbent, self._log.incumbent_predictor = None, predictor


@dataclass
class AgentJob:
    """What the agent process needs: the agent, and its trial context as data."""

    agent_name: str
    agent_options: dict[str, Any]
    param_space: ParamSpace
    capabilities: frozenset[str]
    seed: int
    eval_items: np.ndarray
    rng_seed: int
    device: str
    threads: int
    state: dict[str, Any]
    plugins: str
    task_facts: dict[str, str] = field(default_factory=dict)
    parent_pid: int = 0


def _agent_main(job: AgentJob, conn: Connection) -> None:
    """Body of the agent process: build the agent, run it, send back its result."""
    from harness import registry
    from harness.agent import TrialContext
    from harness.budget import BudgetExhausted

    die_with_parent(job.parent_pid)
    if job.plugins:
        os.environ["TUNEBENCH_PLUGINS"] = job.plugins
    channel = _Channel(conn)
    objective = RemoteObjective(channel, job.param_space, job.capabilities, job.state)
    agent = registry.agent_class(job.agent_name)(**job.agent_options)
    ctx = TrialContext(
        objective=objective,  # type: ignore[arg-type]
        param_space=job.param_space,
        seed=job.seed,
        eval_items=job.eval_items,
        rng=np.random.default_rng(job.rng_seed),
        device=job.device,
        threads=job.threads,
        task_facts=dict(job.task_facts),
    )
    try:
        try:
            result: Any = agent.run(ctx)
        except BudgetExhausted:
            result = None
        try:
            pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - say which result cannot travel
            raise TypeError(
                f"the agent's result ({type(result).__name__}) cannot be pickled to the "
                f"trial process: {exc}"
            ) from exc
        # The agent's own CPU seconds (this process's, from its fork): with the trial
        # process's, what isolation costs in work, whatever the machine's load.
        cpu_s = time.process_time()
        channel.send(("done", 0, (True, (result, agent.diagnostics(), agent.versions(), cpu_s))))
    except BaseException as exc:  # noqa: BLE001 - reported to the trial process
        text = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        try:
            diag, vers = agent.diagnostics(), agent.versions()
            channel.send(("done", 0, (False, (text, diag, vers, time.process_time()))))
        except Exception:  # noqa: BLE001 - the result itself would not pickle
            channel.send(("done", 0, (False, (text, {}, {}, time.process_time()))))


# ---- trial side ------------------------------------------------------------------
class AgentFailed(Exception):
    """The isolated agent raised (or its process died); the message holds the
    traceback, with what the agent reported of its diagnostics and versions."""

    def __init__(
        self,
        message: str,
        diagnostics: dict[str, float] | None = None,
        versions: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.diagnostics = dict(diagnostics or {})
        self.versions = dict(versions or {})


@dataclass
class IsolatedResult:
    result: Any
    diagnostics: dict[str, float]
    versions: dict[str, str]
    overhead_s: float  # wall s the trial process spent on the channel (not evaluating)
    overhead_cpu_s: float  # CPU s of the same (excludes waiting while the agent ran)
    agent_cpu_s: float  # CPU s the agent process used, its own work included


def run_isolated(job: AgentJob, objective: BudgetedObjective) -> IsolatedResult:
    """Run ``job``'s agent in its own process (forked by the runner's zygote, see
    harness/zygote.py, or else spawned), serving its requests with ``objective`` until
    it finishes; raises :class:`AgentFailed` if it raised."""
    job.parent_pid = os.getpid()
    forked = connect_to_zygote(job)  # the runner's zygote: no fresh imports per trial
    if forked is not None:
        ours, proc = forked
    else:
        ctx = mp.get_context("spawn")
        ours, theirs = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=_agent_main, args=(job, theirs), daemon=True, name="tb-agent")
        proc.start()
        theirs.close()
    server = _Server(objective, ours, job.param_space)
    try:
        kind, payload = server.serve_until_done(proc)
    finally:
        ours.close()
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
            proc.join()
    ok, (value, diagnostics, versions, agent_cpu_s) = payload
    if not ok:
        raise AgentFailed(value, diagnostics, versions)
    return IsolatedResult(
        value, diagnostics, versions, server.overhead_s, server.overhead_cpu_s, agent_cpu_s
    )


class _Server:
    """The trial end: answers requests with the real objective."""

    def __init__(self, objective: BudgetedObjective, conn: Connection, space: ParamSpace) -> None:
        self.objective = objective
        self.conn = conn
        self.space = space
        self.overhead_s = 0.0
        self.overhead_cpu_s = 0.0
        self._work_s = 0.0
        self._work_cpu_s = 0.0

    def serve_until_done(self, proc: Any) -> tuple[str, Any]:
        while True:
            if not self.conn.poll(1.0):
                if not proc.is_alive():
                    raise AgentFailed(f"the agent process died (exit code {proc.exitcode})")
                continue
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                kind, rid, payload = recv(self.conn)
            except (EOFError, OSError):
                raise AgentFailed(
                    f"the agent process closed the channel (exit code {proc.exitcode})"
                ) from None
            if kind == "done":
                return kind, payload
            if kind == "req":
                self._answer(rid, payload)
            # Wall time also holds the moments this process waits, descheduled, while
            # the agent it just woke runs on the same core; CPU time does not.
            work_s, work_cpu_s = self._take_work()
            self.overhead_s += time.perf_counter() - t0 - work_s
            self.overhead_cpu_s += time.thread_time() - c0 - work_cpu_s

    def _take_work(self) -> tuple[float, float]:
        """(wall s, CPU s) of objective work since the last call."""
        w, c = self._work_s, self._work_cpu_s
        self._work_s = self._work_cpu_s = 0.0
        return w, c

    def _config(self, packed: Any) -> Any:
        if isinstance(packed, np.ndarray):
            return self.space.config_of(packed.tolist())
        return packed

    def _answer(self, rid: int, payload: tuple[str, tuple[Any, ...]]) -> None:
        method, args = payload
        try:
            if method not in ALLOWED:
                raise AttributeError(f"the objective has no method {method!r} for agents")
            fn = getattr(self.objective, method)
            if method in ("evaluate", "sample_cost", "loss", "propose"):
                args = (self._config(args[0]), *args[1:])
            elif method == "loss_many":
                args = ([self._config(c) for c in args[0]], *args[1:])
            if method == "evaluate_policy":
                args = (self._remote_policy(rid), *args)
            t0, c0 = time.perf_counter(), time.thread_time()
            value = fn(*args)
            self._work_s += time.perf_counter() - t0
            self._work_cpu_s += time.thread_time() - c0
            reply = (True, value, _state(self.objective))
        except BaseException as exc:  # noqa: BLE001 - the agent sees the same exception
            reply = (False, exc, _state(self.objective))
        try:
            send(self.conn, ("resp", rid, reply))
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            # An exception (or value) that does not pickle: the agent gets its text.
            text = f"{type(reply[1]).__name__}: {reply[1]} (unpicklable: {exc})"
            send(self.conn, ("resp", rid, (False, RuntimeError(text), reply[2])))

    def _remote_policy(self, rid: int) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            send(self.conn, ("call", rid, args))
            while True:
                kind, other, payload = recv(self.conn)
                if kind == "ret" and other == rid:
                    ok, value = payload
                    if not ok:
                        raise value
                    return value
                if kind == "req":  # another thread of the agent asks meanwhile
                    self._answer(other, payload)
                elif kind == "done":
                    raise AgentFailed("the agent finished during a policy evaluation")

        return call
