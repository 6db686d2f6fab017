"""Step-wise episodes over a compilation that calls back at every decision.

LLVM's ML inliner (through our pipe host) and the pass-ordering task both run a whole
compilation that asks *us* at each decision point (a callback inside the compilation),
while a gymnasium env must return each decision point from ``step``. This runs the
compilation in a background thread and hands decision points and actions across two
queues. Written here because neither gymnasium nor SB3 adapts callback-driven simulators
(CompilerGym ran its compiler as a separate service instead); the inlining and the
pass-ordering envs share it.

Events are ``("obs", point)`` (a decision awaits an action) or ``("done", result)`` (the
compilation ended with ``result``); an exception raised by the compilation is re-raised
in the caller's thread.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

Point = TypeVar("Point")
Decide = Callable[[Any], int]


class CallbackEpisode(Generic[Point]):
    """One compilation at a time, driven decision by decision.

    Attributes:
        pending: the decision point awaiting an action (None when none is).
    """

    def __init__(self, thread_name: str) -> None:
        self.thread_name = thread_name
        self.pending: Point | None = None
        self._events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._actions: queue.Queue[int] = queue.Queue()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """A compilation is waiting for an action."""
        return self._thread is not None

    def start(self, compile_with: Callable[[Decide], Any]) -> tuple[str, Any]:
        """Run ``compile_with(decide)`` in a thread; its first event.

        ``decide(point) -> int`` is what the compilation calls at each decision point;
        it returns the action given to :meth:`send`. The previous compilation must have
        ended (see :meth:`abandon`).
        """
        if self._thread is not None:
            raise RuntimeError("a compilation is still running (abandon() it first)")
        self._events, self._actions = queue.Queue(), queue.Queue()
        events, actions = self._events, self._actions

        def decide(point: Any) -> int:
            events.put(("obs", point))
            return int(actions.get())

        def work() -> None:
            try:
                events.put(("done", compile_with(decide)))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                events.put(("error", exc))

        self._thread = threading.Thread(target=work, daemon=True, name=self.thread_name)
        self._thread.start()
        return self._next()

    def send(self, action: int) -> tuple[str, Any]:
        """Answer the pending decision with ``action``; the next event."""
        if self._thread is None or self.pending is None:
            raise RuntimeError("no decision is pending")
        self._actions.put(int(action))
        return self._next()

    def abandon(self, answer: Callable[[Point], int]) -> None:
        """Finish a running compilation, answering each decision with ``answer(point)``
        (its result is dropped; the compilation was paid for when it started)."""
        while self._thread is not None and self.pending is not None:
            self._actions.put(int(answer(self.pending)))
            with contextlib.suppress(Exception):  # an abandoned compilation's failure
                self._next()

    def _next(self) -> tuple[str, Any]:
        kind, payload = self._events.get()
        if kind == "obs":
            self.pending = payload
            return kind, payload
        assert self._thread is not None
        self._thread.join()
        self._thread, self.pending = None, None
        if kind == "error":
            raise payload
        return kind, payload
