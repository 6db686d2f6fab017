"""envs.callback_episode: a callback-driven compilation turned into step-wise events."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from envs.callback_episode import CallbackEpisode, Decide


def _asks(points: list[int], fail_after: int | None = None) -> Callable[[Decide], int]:
    """A fake compilation: asks at each point, returns the sum of point * action."""

    def compile_with(decide: Decide) -> int:
        total = 0
        for i, p in enumerate(points):
            if fail_after is not None and i == fail_after:
                raise ValueError(f"broke at {p}")
            total += p * decide(p)
        return total

    return compile_with


def test_each_decision_is_an_event_and_the_result_ends_the_episode() -> None:
    ep: CallbackEpisode[int] = CallbackEpisode("t")
    assert ep.start(_asks([3, 5, 7])) == ("obs", 3)
    assert ep.running and ep.pending == 3
    assert ep.send(1) == ("obs", 5)
    assert ep.send(0) == ("obs", 7)
    assert ep.send(2) == ("done", 3 + 14)
    assert not ep.running and ep.pending is None
    with pytest.raises(RuntimeError, match="no decision is pending"):
        ep.send(1)
    # a compilation without any decision ends at once
    assert ep.start(_asks([])) == ("done", 0) and not ep.running


def test_errors_reach_the_caller_and_leave_no_episode() -> None:
    ep: CallbackEpisode[int] = CallbackEpisode("t")
    with pytest.raises(ValueError, match="broke at 3"):
        ep.start(_asks([3], fail_after=0))
    assert not ep.running
    assert ep.start(_asks([3, 5], fail_after=1)) == ("obs", 3)
    with pytest.raises(ValueError, match="broke at 5"):
        ep.send(1)
    assert not ep.running and ep.pending is None


def test_abandon_answers_every_pending_decision() -> None:
    ep: CallbackEpisode[int] = CallbackEpisode("t")
    seen: list[int] = []
    ep.start(_asks([2, 4, 6]))
    with pytest.raises(RuntimeError, match="still running"):
        ep.start(_asks([1]))
    ep.send(1)
    ep.abandon(lambda p: seen.append(p) or 0)
    assert seen == [4, 6] and not ep.running
    # an abandoned compilation that fails is nobody's error
    ep.start(_asks([2, 4], fail_after=1))
    ep.abandon(lambda p: 0)
    assert not ep.running
    ep.abandon(lambda p: 0)  # nothing running: nothing to do
