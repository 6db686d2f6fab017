"""One contract test over every registered agent: a new agent is covered with no edit.

On each toy task an agent supports (``Agent.supports``): the trial finishes, uses at
most its budget, returns a valid configuration, and the same seed gives the same
result. Agents that support no toy task are listed by the last test, so none slips
through unnoticed.
"""

from __future__ import annotations

import json

import pytest

from harness import registry
from harness.trial import TrialSpec, build_task, run_trial

TOY_TASKS = ("toy", "toy-seq")
BUDGET = 120


def _supported(agent: str) -> list[str]:
    cls = registry.agent_class(agent)
    return [t for t in TOY_TASKS if cls.supports(build_task(t, {}))[0]]


# The tests' own crashing agent fails on purpose (tests of failure handling).
AGENTS = [a for a in registry.agent_names() if a != "toy-crash"]


@pytest.mark.parametrize("agent", AGENTS)
def test_every_agent_keeps_the_contract_on_the_toy_tasks(agent: str) -> None:
    tasks = _supported(agent)
    if not tasks:
        pytest.skip(f"{agent} supports no toy task (see the last test)")
    for task in tasks:
        spec = TrialSpec(
            suite="contract",
            task_label=task,
            task=task,
            agent=agent,
            seed=3,
            budget_samples=BUDGET,
            eval_items=10,
        )
        first, second = run_trial(spec), run_trial(spec)
        assert first["status"] == "ok", first["error"]
        assert 0 <= first["samples_used"] <= BUDGET
        space = build_task(task, {}).param_space
        space.validate(json.loads(first["config"]))  # a valid configuration (constraint too)
        for key in ("config", "samples_used", "val_loss", first["headline_metric"]):
            assert first[key] == second[key], (agent, task, key)


def test_agents_without_a_toy_task_are_the_known_ones() -> None:
    # difftune needs per-item tokens (blocksim); the inline-* agents need live policies
    # (inlining). They are tested on their own tasks (test_difftune.py, test_inlining.py).
    unsupported = sorted(a for a in AGENTS if not _supported(a))
    known = {"difftune", "inline-bc", "inline-bc+ppo", "inline-ppo"}
    assert set(unsupported) <= known, set(unsupported) - known
