"""Suites: TOML files naming tasks x agents x seeds x budgets.

Example::

    name = "quick"
    seeds = [0, 1, 2]
    budgets = [4000]            # samples per trial
    eval_items = 200            # train items per black-box evaluation (optional)

    [tasks.mca]                 # a label; ``task`` is the registered name
    task = "mca"
    options = { cpu = "znver3" }
    agents = ["default", "random", "optuna-tpe"]

    [agents.random]             # optional per-agent options
    options = {}

A task table may override ``seeds``, ``budgets``, ``eval_items`` and ``device``
(``cpu`` (default), ``cuda``, or ``auto``: a GPU where the trial runs has one).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from harness import registry
from harness.errors import UserError
from harness.trial import TrialSpec


def load_suite(path: str | Path) -> tuple[str, list[TrialSpec]]:
    """Parse a suite file into (suite name, trial specs); UserError on any problem."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"suite file not found: {path}")
    try:
        doc = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: malformed TOML: {exc}") from None
    return parse_suite(doc, default_name=path.stem, where=str(path))


def parse_suite(
    doc: dict[str, Any], default_name: str, where: str = "suite"
) -> tuple[str, list[TrialSpec]]:
    name = str(doc.get("name", default_name))
    tasks = doc.get("tasks")
    if not isinstance(tasks, dict) or not tasks:
        raise UserError(f"{where}: needs at least one [tasks.<label>] table")
    agent_tables = doc.get("agents", {})
    if not isinstance(agent_tables, dict):
        raise UserError(f"{where}: [agents] must be a table of per-agent options")
    known_tasks, known_agents = set(registry.task_names()), set(registry.agent_names())
    specs: list[TrialSpec] = []
    for label, table in tasks.items():
        if not isinstance(table, dict):
            raise UserError(f"{where}: tasks.{label} must be a table")
        task_name = table.get("task", label)
        if task_name not in known_tasks:
            raise UserError(
                f"{where}: tasks.{label}: unknown task {task_name!r}; "
                f"known: {', '.join(sorted(known_tasks))}"
            )
        agents = _list(table.get("agents"), f"{where}: tasks.{label}.agents", str)
        for agent in agents:
            if agent not in known_agents:
                raise UserError(
                    f"{where}: tasks.{label}: unknown agent {agent!r}; "
                    f"known: {', '.join(sorted(known_agents))}"
                )
        seeds = _list(table.get("seeds", doc.get("seeds", [0])), f"{where}: seeds", int)
        budgets = _list(table.get("budgets", doc.get("budgets")), f"{where}: budgets", int)
        if any(b < 0 for b in budgets):
            raise UserError(f"{where}: budgets must be >= 0 samples")
        eval_items = table.get("eval_items", doc.get("eval_items"))
        if eval_items is not None and (not isinstance(eval_items, int) or eval_items < 1):
            raise UserError(f"{where}: eval_items must be a positive integer")
        device = table.get("device", doc.get("device", "cpu"))
        if device not in ("cpu", "cuda", "auto"):
            raise UserError(f"{where}: device must be 'cpu', 'cuda' or 'auto', not {device!r}")
        options = table.get("options", {})
        if not isinstance(options, dict):
            raise UserError(f"{where}: tasks.{label}.options must be a table")
        for agent in agents:
            agent_opts = agent_tables.get(agent, {}).get("options", {})
            for budget in budgets:
                for seed in seeds:
                    specs.append(
                        TrialSpec(
                            suite=name,
                            task_label=label,
                            task=task_name,
                            agent=agent,
                            seed=seed,
                            budget_samples=budget,
                            task_options=options,
                            agent_options=agent_opts,
                            eval_items=eval_items,
                            device=device,
                        )
                    )
    return name, specs


def _list(value: Any, what: str, kind: type) -> list[Any]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, kind) and not isinstance(v, bool) for v in value)
    ):
        raise UserError(f"{what}: expected a non-empty list of {kind.__name__}")
    return value
