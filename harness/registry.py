"""Find tasks, agents and extra CLI commands in plugin packages.

A plugin package (``envs``, ``baselines``, ``agents``, or a third party's, declared
under the ``tunebench.plugins`` entry-point group) may define, at module level:

- ``TASKS``: task name -> ``"module:factory"``; ``factory(**options) -> Task``
- ``AGENTS``: agent name -> ``"module:Class"`` (a subclass of ``harness.agent.Agent``)
- ``COMMANDS``: command name -> ``"module"`` whose ``register(subparsers)`` adds it

Extra plugin modules can also be named, comma-separated, in ``TUNEBENCH_PLUGINS``
(handy for a one-off agent or the test suite's toy task).

Entries are strings, imported only when used, so ``tunebench list`` stays fast and a
broken plugin fails only when it is used.
"""

from __future__ import annotations

import importlib
import os
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from harness.errors import UserError

_BUILTIN_PLUGINS = ("envs", "baselines", "agents")


@cache
def _plugin_modules() -> tuple[Any, ...]:
    names = list(_BUILTIN_PLUGINS)
    for ep in entry_points(group="tunebench.plugins"):
        if ep.value not in names:
            names.append(ep.value)
    extra = [n.strip() for n in os.environ.get("TUNEBENCH_PLUGINS", "").split(",") if n.strip()]
    names += [n for n in extra if n not in names]
    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module(name))
        except ImportError as exc:
            where = "TUNEBENCH_PLUGINS" if name in extra else "the tunebench.plugins entry points"
            raise UserError(
                f"plugin module {name!r} (from {where}) cannot be imported: {exc}"
            ) from None
    return tuple(modules)


def _table(attr: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for module in _plugin_modules():
        merged.update(getattr(module, attr, {}))
    return merged


def task_names() -> list[str]:
    return sorted(_table("TASKS"))


def agent_names() -> list[str]:
    return sorted(_table("AGENTS"))


def command_modules() -> dict[str, str]:
    return _table("COMMANDS")


def _load(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module


def task_target(name: str) -> str:
    """The registry entry ``"module:factory"`` of task ``name`` ("" if unknown)."""
    return _table("TASKS").get(name, "")


def agent_target(name: str) -> str:
    """The registry entry ``"module:Class"`` of agent ``name`` ("" if unknown)."""
    return _table("AGENTS").get(name, "")


def task_factory(name: str) -> Any:
    """The factory of task ``name``; UserError listing the known ones if unknown."""
    table = _table("TASKS")
    if name not in table:
        raise UserError(f"unknown task {name!r}; known tasks: {', '.join(sorted(table)) or 'none'}")
    return _load(table[name])


def agent_class(name: str) -> Any:
    """The class of agent ``name``; UserError listing the known ones if unknown."""
    table = _table("AGENTS")
    if name not in table:
        raise UserError(
            f"unknown agent {name!r}; known agents: {', '.join(sorted(table)) or 'none'}"
        )
    return _load(table[name])


def load_command(name: str) -> Any:
    return _load(command_modules()[name])
