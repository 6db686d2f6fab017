"""Hostile agents for the integrity tests: each tries one way to cheat the harness."""

from __future__ import annotations

import gc

import numpy as np

from harness.agent import Agent, TrialContext
from harness.budget import BudgetExhausted
from harness.task import Task


class CounterOverwrite(Agent):
    """Zeroes its view of the counters and keeps evaluating past the budget."""

    name = "adv-counters"
    description = "tries to overspend by overwriting the sample counter (tests only)"

    def run(self, ctx: TrialContext) -> dict:
        obj = ctx.objective
        attempts = 0
        for _ in range(1000):
            try:
                obj.samples_used = 0  # type: ignore[misc]
            except AttributeError:
                pass
            state = getattr(obj, "_state", None)
            if isinstance(state, dict):
                state["samples_used"] = 0  # the local view only
            for name in ("_samples_used", "_budget_samples"):
                if hasattr(obj, name):
                    setattr(obj, name, 0 if name == "_samples_used" else 10**9)
            try:
                obj.loss(ctx.param_space.default(), "train", ctx.eval_items)
                attempts += 1
            except BudgetExhausted:
                break
        self.set_diagnostic("paid_evaluations", attempts)
        return ctx.param_space.default()


class PrivateAttributes(Agent):
    """Reads the task through the objective's private attributes."""

    name = "adv-private"
    description = "tries to read test targets through private attributes (tests only)"

    def run(self, ctx: TrialContext) -> dict:
        task = ctx.objective._task  # type: ignore[attr-defined]
        self.set_diagnostic("test_targets_read", len(task.targets("test", np.arange(5))))
        return ctx.param_space.default()


class HeapScan(Agent):
    """Scans its own process's heap for the task object."""

    name = "adv-heap"
    description = "scans its process heap for the task (tests only)"

    def run(self, ctx: TrialContext) -> dict:
        found = [o for o in gc.get_objects() if isinstance(o, Task)]
        self.set_diagnostic("tasks_found", len(found))
        for task in found:
            task.targets("test", np.arange(task.n_items("test")))
            self.set_diagnostic("test_targets_read", 1)
        return ctx.param_space.default()


class TestSplit(Agent):
    """Asks the objective for the test split, and sends a raw request for a private
    method over the channel."""

    name = "adv-test"
    description = "requests the test split and private methods (tests only)"

    def run(self, ctx: TrialContext) -> dict:
        refused = 0
        for call in (
            lambda: ctx.objective.evaluate(ctx.param_space.default(), "test"),
            lambda: ctx.objective.targets("test"),
            lambda: ctx.objective.inputs("test"),
            lambda: ctx.objective._channel.request("_charge", (-(10**6),)),  # type: ignore[attr-defined]
        ):
            try:
                out = call()
            except (ValueError, AttributeError):
                refused += 1
                continue
            if isinstance(out, tuple) and out and out[0] is False:  # a raw refusal
                refused += 1
        self.set_diagnostic("refused", refused)
        return ctx.param_space.default()
