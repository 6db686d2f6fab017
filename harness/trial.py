"""One trial = (task, agent, seed, budget): run the agent, score its choice on test."""

from __future__ import annotations

import hashlib
import json
import platform
import socket
import time
import traceback
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

import harness
from harness import registry
from harness.agent import TrialContext
from harness.budget import BudgetedObjective, BudgetExhausted, CurvePoint
from harness.task import Task

RECORD_SCHEMA = 1


@dataclass(frozen=True)
class TrialSpec:
    """Everything that defines a trial; equal specs give equal results.

    Attributes:
        suite: suite name.
        task_label: the suite's name for this task setting (a task with its options).
        task: registered task name; ``task_options`` go to its factory.
        agent: registered agent name; ``agent_options`` go to its constructor.
        seed: the trial's seed.
        budget_samples: samples the agent may cause.
        eval_items: train items per black-box evaluation (None: the whole train split).
        device: "cpu", "cuda", or "auto" (cuda when the machine running the trial has a
            GPU torch can use), for agents that use torch.
    """

    suite: str
    task_label: str
    task: str
    agent: str
    seed: int
    budget_samples: int
    task_options: Mapping[str, Any] = field(default_factory=dict)
    agent_options: Mapping[str, Any] = field(default_factory=dict)
    eval_items: int | None = None
    device: str = "cpu"

    @property
    def trial_id(self) -> str:
        """Stable file-name-safe id, e.g. ``mca__optuna-tpe__b10000__s3``."""
        return f"{self.task_label}__{self.agent}__b{self.budget_samples}__s{self.seed}"

    def fingerprint(self) -> str:
        """Hash of the spec; a changed spec under the same id is re-run, not skipped."""
        text = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# Building a task loads and decodes its dataset; a worker process reuses it across
# trials of the same task setting (a per-process cache, keyed by the full options).
_TASK_CACHE: dict[str, Task] = {}


def build_task(name: str, options: Mapping[str, Any]) -> Task:
    key = json.dumps([name, dict(options)], sort_keys=True, default=str)
    if key not in _TASK_CACHE:
        _TASK_CACHE[key] = registry.task_factory(name)(**dict(options))
    return _TASK_CACHE[key]


def stable_int(*parts: object) -> int:
    """A 32-bit integer fixed by ``parts`` (independent of PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:4], "big")


def run_trial(spec: TrialSpec) -> dict[str, Any]:
    """Run one trial and return its record (a flat JSON-able dict).

    Never raises for errors inside the task or agent: they give ``status = "failed"``
    with the traceback, so a suite goes on.
    """
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    record: dict[str, Any] = {
        "schema": RECORD_SCHEMA,
        "trial_id": spec.trial_id,
        "fingerprint": spec.fingerprint(),
        "suite": spec.suite,
        "task_label": spec.task_label,
        "task": spec.task,
        "agent": spec.agent,
        "seed": spec.seed,
        "budget_samples": spec.budget_samples,
        "started_at": started.isoformat(),
        "host": socket.gethostname(),
    }
    objective: BudgetedObjective | None = None
    agent = None
    try:
        task = build_task(spec.task, spec.task_options)
        agent = registry.agent_class(spec.agent)(**dict(spec.agent_options))
        space = task.param_space

        val_items = _all(task, "val")
        val_cache: dict[str, float] = {}

        def monitor(config: Mapping[str, Any]) -> float:
            key = json.dumps(dict(config), sort_keys=True, default=str)
            if key not in val_cache:
                pred = task.simulate(config, "val", val_items)
                val_cache[key] = task.loss(pred, task.targets("val", val_items))
            return val_cache[key]

        objective = BudgetedObjective(task, spec.budget_samples, monitor_val_loss=monitor)
        # The evaluation subset depends on (seed, task) only, so every agent of a seed
        # is judged on the same training items (common random numbers).
        n_train = task.n_items("train")
        k = n_train if spec.eval_items is None else min(spec.eval_items, n_train)
        eval_rng = np.random.default_rng(stable_int("eval_items", spec.task_label, spec.seed))
        eval_items = np.sort(eval_rng.choice(n_train, size=k, replace=False)).astype(np.int64)
        ctx = TrialContext(
            objective=objective,
            param_space=space,
            seed=spec.seed,
            eval_items=eval_items,
            rng=np.random.default_rng(stable_int("agent", spec.agent, spec.seed)),
            device=resolve_device(spec.device),
        )
        try:
            chosen = agent.run(ctx)
        except BudgetExhausted:
            chosen = None
        if chosen is None:
            chosen = (
                objective.log.incumbent if objective.log.incumbent is not None else space.default()
            )
        chosen = space.validate(chosen)
        agent_wall_s = time.perf_counter() - t0
        # Final scoring by the harness with the real simulator, not charged.
        val_loss = monitor(chosen)
        test_items = _all(task, "test")
        test_pred = task.simulate(chosen, "test", test_items)
        test = task.metrics(test_pred, task.targets("test", test_items))
        if objective.log.incumbent != chosen or not objective.log.curve:
            # The returned configuration is what counts: the curve ends on it.
            objective.log.incumbent = chosen
            objective.log.curve.append(
                CurvePoint(
                    objective.samples_used,
                    agent_wall_s,
                    objective.log.incumbent_train_loss,
                    val_loss,
                )
            )
        record.update(
            status="ok",
            error="",
            config=json.dumps(chosen, sort_keys=True),
            val_loss=val_loss,
            **{f"test_{k}": v for k, v in test.items()},
            n_test=int(len(test_items)),
            n_eval_items=int(k),
            versions=json.dumps(
                {
                    "tunebench": harness.__version__,
                    "python": platform.python_version(),
                    **task.versions(),
                    **agent.versions(),
                },
                sort_keys=True,
            ),
        )
    except Exception as exc:  # noqa: BLE001 - recorded, the suite goes on
        record.update(
            status="failed", error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        )
    finally:
        record["samples_used"] = objective.samples_used if objective else 0
        record["evaluations"] = objective.evaluations if objective else 0
        record["wall_s"] = time.perf_counter() - t0
        record["finished_at"] = datetime.now(UTC).isoformat()
        curve = objective.log.curve if objective else []
        record["curve_samples"] = [p.samples for p in curve]
        record["curve_wall_s"] = [round(p.wall_s, 4) for p in curve]
        record["curve_train_loss"] = [p.train_loss for p in curve]
        record["curve_val_loss"] = [p.val_loss for p in curve]
        # Optional hook: an agent may set ``diagnostics`` (name -> float) for the report.
        for name, value in (getattr(agent, "diagnostics", None) or {}).items():
            record[f"diag_{name}"] = float(value)
    return record


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` if torch sees a GPU here, else ``cpu``; others unchanged.

    Resolved where the trial runs (a Ray worker may have a GPU the driver lacks), and
    kept out of the spec's fingerprint so resuming does not depend on it.
    """
    if device != "auto":
        return device
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def _all(task: Task, split: str) -> np.ndarray:
    return np.arange(task.n_items(split), dtype=np.int64)
