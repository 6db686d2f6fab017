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


# The tests' own crashing and hostile agents misbehave on purpose (tests of failure
# handling and of run integrity).
AGENTS = [a for a in registry.agent_names() if a != "toy-crash" and not a.startswith("adv-")]


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
            agent_options=dict(registry.agent_class(agent).quick_options),
        )
        first, second = run_trial(spec), run_trial(spec)
        assert first["status"] == "ok", first["error"]
        assert 0 <= first["samples_used"] <= BUDGET
        if first.get("result_kind") == "predictor":
            assert first["config"] == "" and first["labels_used"] <= BUDGET
        else:  # a valid configuration (constraint too)
            build_task(task, {}).param_space.validate(json.loads(first["config"]))
        for key in ("config", "samples_used", "val_loss", first["headline_metric"]):
            assert first[key] == second[key], (agent, task, key)


def test_agents_without_a_toy_task_say_why() -> None:
    # e.g. difftune needs per-item tokens (blocksim), the inline-* agents live policies
    # (inlining), the gemm and pass agents their families' spaces: each says why not, and
    # is tested on its own family's tasks.
    for agent in AGENTS:
        if _supported(agent):
            continue
        cls = registry.agent_class(agent)
        reasons = [cls.supports(build_task(t, {}))[1] for t in TOY_TASKS]
        assert all(reasons), (agent, reasons)
