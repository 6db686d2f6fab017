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

    [agents.ppo-small]          # a label: a second setting of a registered agent
    agent = "ppo"
    options = { n_steps = 32 }

A task table may override ``seeds``, ``budgets``, ``label_budgets`` (distinct ground
truth labels an agent may see, for predictor tracks; default unlimited),
``eval_items``, ``threads`` (CPU threads per trial, default 1), ``time_limit_s`` (wall
seconds after which an agent's requests are refused: a too-slow agent is scored on its
incumbent and the report shows the budget share it used) and ``device``
(``cpu`` (default), ``cuda``, or ``auto``: a GPU where the trial runs has one).

Names (the suite's, task and agent labels) are safe file names: letters, digits and
``. _ + -``, not starting with a dot, at most 64 characters.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from harness import registry
from harness.errors import UserError
from harness.trial import TrialSpec, build_task

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_+\-][A-Za-z0-9._+\-]{0,63}$")


def check_name(name: str, what: str) -> str:
    """``name`` if it is a safe file name (see the module docstring), else UserError."""
    if not isinstance(name, str) or not _SAFE_NAME.match(name):
        raise UserError(
            f"{what} {name!r} is not a safe name: use letters, digits and . _ + - "
            "(not starting with a dot, at most 64 characters)"
        )
    return name


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
    name = check_name(str(doc.get("name", default_name)), f"{where}: suite name")
    tasks = doc.get("tasks")
    if not isinstance(tasks, dict) or not tasks:
        raise UserError(f"{where}: needs at least one [tasks.<label>] table")
    agent_tables = doc.get("agents", {})
    if not isinstance(agent_tables, dict):
        raise UserError(f"{where}: [agents] must be a table of per-agent options")
    known_tasks, known_agents = set(registry.task_names()), set(registry.agent_names())
    agent_settings: dict[str, tuple[str, dict[str, Any]]] = {}
    for alabel, atable in agent_tables.items():
        check_name(alabel, f"{where}: agent label")
        if not isinstance(atable, dict):
            raise UserError(f"{where}: agents.{alabel} must be a table")
        unknown_keys = set(atable) - {"agent", "options"}
        if unknown_keys:
            raise UserError(f"{where}: agents.{alabel}: unknown keys {sorted(unknown_keys)}")
        aname = atable.get("agent", alabel)
        if aname not in known_agents:
            raise UserError(
                f"{where}: agents.{alabel}: unknown agent {aname!r}; "
                f"known: {', '.join(sorted(known_agents))}"
            )
        aopts = atable.get("options", {})
        if not isinstance(aopts, dict):
            raise UserError(f"{where}: agents.{alabel}.options must be a table")
        agent_settings[alabel] = (aname, aopts)
    specs: list[TrialSpec] = []
    for label, table in tasks.items():
        check_name(label, f"{where}: task label")
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
            if agent not in agent_settings and agent not in known_agents:
                raise UserError(
                    f"{where}: tasks.{label}: unknown agent {agent!r}; "
                    f"known: {', '.join(sorted(known_agents | set(agent_settings)))}"
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
        label_budgets: list[int | None] = [None]
        raw_labels = table.get("label_budgets", doc.get("label_budgets"))
        if raw_labels is not None:
            label_budgets = list(_list(raw_labels, f"{where}: label_budgets", int))
            if any(b is not None and b < 0 for b in label_budgets):
                raise UserError(f"{where}: label_budgets must be >= 0 labels")
        time_limit = table.get("time_limit_s", doc.get("time_limit_s"))
        if time_limit is not None and (
            not isinstance(time_limit, int | float)
            or isinstance(time_limit, bool)
            or time_limit <= 0
        ):
            raise UserError(f"{where}: time_limit_s must be a positive number of seconds")
        threads = table.get("threads", doc.get("threads", 1))
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
            raise UserError(f"{where}: threads must be a positive integer")
        for agent in agents:
            agent_name, agent_opts = agent_settings.get(agent, (agent, {}))
            for budget in budgets:
                for labels in label_budgets:
                    for seed in seeds:
                        specs.append(
                            TrialSpec(
                                suite=name,
                                task_label=label,
                                task=task_name,
                                agent=agent,
                                agent_name=agent_name,
                                seed=seed,
                                budget_samples=budget,
                                budget_labels=labels,
                                task_options=options,
                                agent_options=agent_opts,
                                eval_items=eval_items,
                                device=device,
                                threads=threads,
                                time_limit_s=None if time_limit is None else float(time_limit),
                            )
                        )
    return name, specs


def check_specs(specs: list[TrialSpec]) -> None:
    """Build every task setting and every agent setting of ``specs`` once, and check that
    each agent supports its task: a bad task option, a bad agent option or a mismatched
    pair is a UserError before anything runs (or is written)."""
    tasks: dict[str, Any] = {}
    for spec in specs:
        key = f"{spec.task_label}"
        if key not in tasks:
            try:
                tasks[key] = build_task(spec.task, spec.task_options)
            except UserError:
                raise
            except TypeError as exc:
                raise UserError(
                    f"task {spec.task_label} ({spec.task}): bad option: {exc}"
                ) from None
    seen: set[tuple[str, str]] = set()
    for spec in specs:
        if (spec.task_label, spec.agent) in seen:
            continue
        seen.add((spec.task_label, spec.agent))
        cls = registry.agent_class(spec.agent_name)
        try:
            cls(**dict(spec.agent_options))
        except (TypeError, ValueError) as exc:
            raise UserError(f"agent {spec.agent} ({spec.agent_name}): bad option: {exc}") from None
        ok, why = cls.supports(tasks[spec.task_label])
        if not ok:
            raise UserError(
                f"agent {spec.agent} ({spec.agent_name}) does not support task "
                f"{spec.task_label} ({spec.task}): {why}"
            )


def _list(value: Any, what: str, kind: type) -> list[Any]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, kind) and not isinstance(v, bool) for v in value)
    ):
        raise UserError(f"{what}: expected a non-empty list of {kind.__name__}")
    return value
