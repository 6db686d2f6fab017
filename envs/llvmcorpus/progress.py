"""Progress lines with an ETA for a corpus build (to stderr).

The work of a package is estimated, before it is built, by the number of ``.c`` files
in its source tree (a rough measure: tests and unused platform files are counted too),
so the ETA is labelled approximate. Within a package, building counts for
``BUILD_SHARE`` of its work and measuring the modules for the rest.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

BUILD_SHARE = 0.75
MIN_INTERVAL_S = 5.0  # between lines when stderr is not a terminal


def _fmt(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


class BuildProgress:
    """Tracks the packages of one build; ``update`` is the per-package callback.

    Args:
        weights: package -> estimated work (``.c`` files), in build order.
        stream: where lines go (default stderr); a terminal gets one rewritten line.
        line: if given, receives each line instead of ``stream`` (no rewriting).
    """

    def __init__(
        self,
        weights: dict[str, int],
        stream: TextIO | None = None,
        line: Callable[[str], None] | None = None,
    ) -> None:
        self.weights = {k: max(1, v) for k, v in weights.items()}
        self.total = sum(self.weights.values())
        self.done = 0.0
        self.stream = stream or sys.stderr
        self.line = line
        self.tty = line is None and self.stream.isatty()
        self.start = time.perf_counter()
        self.current: str | None = None
        self.index = 0
        self._last = 0.0

    def begin(self, package: str) -> None:
        """Start ``package`` (call in build order)."""
        self.current = package
        self.index += 1
        self._print(f"{package}: start", force=True)

    def finish(self, package: str, summary: str) -> None:
        """``package`` is done (built or found in the cache); ``summary`` ends its line."""
        self.done += self.weights.get(package, 1)
        self.current = None
        self._print(f"{package}: {summary}", force=True, end="\n")

    def update(self, phase: str, done: int, total: int) -> None:
        """Callback of the build steps: ``phase`` (configure/build/measure), counts."""
        pkg = self.current or "?"
        if phase == "configure":
            frac, what = 0.0, "configuring"
        elif phase == "build":
            frac = BUILD_SHARE * min(1.0, done / total) if total else 0.0
            what = f"compiling, {done} TUs (tree has {total} .c files)"
        else:
            frac = BUILD_SHARE + (1 - BUILD_SHARE) * (done / total if total else 1.0)
            what = f"measuring {done}/{total} modules"
        self._print(f"{pkg}: {what}", partial=frac * self.weights.get(pkg, 1))

    def _print(
        self, text: str, *, partial: float = 0.0, force: bool = False, end: str | None = None
    ) -> None:
        now = time.perf_counter()
        if not (force or self.tty or now - self._last >= MIN_INTERVAL_S):
            return
        self._last = now
        elapsed = now - self.start
        done = self.done + partial
        eta = f"ETA ~{_fmt(elapsed / done * (self.total - done))}" if done > 0 else "ETA ?"
        line = f"corpus: [{self.index}/{len(self.weights)}] {text} | {_fmt(elapsed)} | {eta}"
        if self.line is not None:
            self.line(line)
        elif self.tty:
            self.stream.write("\r\033[K" + line + (end or ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
