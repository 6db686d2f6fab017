"""One trial = (task, agent, seed, budget): run the agent, score its choice on test."""

from __future__ import annotations

import hashlib
import json
import os
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
from harness.budget import BudgetedObjective, BudgetExhausted, CurvePoint, EvalCache
from harness.codehash import registered_code_hash
from harness.isolation import AgentFailed, AgentJob, _state, run_isolated
from harness.task import PREDICTOR, Predictor, Task

RECORD_SCHEMA = 2


@dataclass(frozen=True)
class TrialSpec:
    """Everything that defines a trial; equal specs give equal results.

    Attributes:
        suite: suite name.
        task_label: the suite's name for this task setting (a task with its options).
        task: registered task name; ``task_options`` go to its factory.
        agent: the suite's label for this agent setting (the registered name unless the
            suite defines ``[agents.<label>] agent = "<name>"``).
        agent_name: registered agent name; ``agent_options`` go to its constructor.
        seed: the trial's seed.
        budget_samples: samples the agent may cause.
        budget_labels: distinct train/val ground-truth labels the agent may see (None:
            unlimited, the calibration tasks' setting).
        eval_items: train items per black-box evaluation (None: the whole train split).
        device: "cpu", "cuda", or "auto" (cuda when the machine running the trial has a
            GPU torch can use), for agents that use torch.
        threads: CPU threads for the agent (torch intra-op threads).
        time_limit_s: wall seconds after which the agent's evaluation requests are refused
            (it is scored on its incumbent; the record says so); None: no limit.
        isolate: run the agent in its own spawned process, talking to the objective over
            a channel (harness/isolation.py), so it cannot reach the task, the test split
            or the counters; False runs it in the trial's process (debugging).
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
    agent_name: str = ""
    budget_labels: int | None = None
    threads: int = 1
    time_limit_s: float | None = None
    isolate: bool = True

    def __post_init__(self) -> None:
        if not self.agent_name:
            object.__setattr__(self, "agent_name", self.agent)

    @property
    def trial_id(self) -> str:
        """Stable file-name-safe id, e.g. ``mca__optuna-tpe__b10000__s3`` (with a label
        budget: ``...__b10000__l1000__s3``)."""
        labels = "" if self.budget_labels is None else f"__l{self.budget_labels}"
        return f"{self.task_label}__{self.agent}__b{self.budget_samples}{labels}__s{self.seed}"

    def fingerprint(self) -> str:
        """Hash of the spec and of the agent's and task's code (harness.codehash): a
        trial whose spec or code changed under the same id is re-run, not skipped."""
        code = [
            registered_code_hash(registry.agent_target(self.agent_name)),
            registered_code_hash(registry.task_target(self.task)),
        ]
        text = json.dumps([asdict(self), code], sort_keys=True, default=str)
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
        "agent_name": spec.agent_name,
        "seed": spec.seed,
        "budget_samples": spec.budget_samples,
        "budget_labels": spec.budget_labels,
        "task_options": json.dumps(dict(spec.task_options), sort_keys=True, default=str),
        "agent_options": json.dumps(dict(spec.agent_options), sort_keys=True, default=str),
        "started_at": started.isoformat(),
        "host": socket.gethostname(),
    }
    objective: BudgetedObjective | None = None
    agent = None
    agent_diagnostics: dict[str, float] = {}
    agent_versions: dict[str, str] = {}
    try:
        task = build_task(spec.task, spec.task_options)
        record.update(
            headline_metric=f"test_{task.headline.name}",
            headline_direction=task.headline.direction,
        )
        agent = registry.agent_class(spec.agent_name)(**dict(spec.agent_options))
        ok, why = agent.supports(task)
        if not ok:
            raise ValueError(f"agent {spec.agent_name!r} cannot work on task {task.name!r}: {why}")
        space = task.param_space

        cache = EvalCache()
        val_items = _all(task, "val")

        def monitor(config: Mapping[str, Any]) -> float:
            # Shares the trial's cache (deterministic tasks): never charged.
            return task.loss(_evaluate_cached(task, cache, config, "val"), "val", val_items)

        def monitor_predictor(predictor: Predictor) -> float:
            return task.loss(_predict(task, predictor, "val"), "val", val_items)

        objective = BudgetedObjective(
            task,
            spec.budget_samples,
            budget_labels=spec.budget_labels,
            monitor_val_loss=monitor,
            monitor_predictor=monitor_predictor,
            cache=cache,
            time_limit_s=spec.time_limit_s,
        )
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
            rng=np.random.default_rng(stable_int("agent", spec.agent_name, spec.seed)),
            device=resolve_device(spec.device),
            threads=spec.threads,
            task_facts=dict(task.facts()),
        )
        if spec.isolate:
            job = AgentJob(
                agent_name=spec.agent_name,
                agent_options=dict(spec.agent_options),
                param_space=space,
                capabilities=frozenset(task.capabilities),
                seed=spec.seed,
                eval_items=eval_items,
                rng_seed=stable_int("agent", spec.agent_name, spec.seed),
                device=ctx.device,
                threads=spec.threads,
                state=_state(objective),
                plugins=os.environ.get("TUNEBENCH_PLUGINS", ""),
                task_facts=ctx.task_facts,
            )
            agent = None  # the agent lives in its own process
            try:
                outcome = run_isolated(job, objective)
            except AgentFailed as exc:
                agent_diagnostics, agent_versions = exc.diagnostics, exc.versions
                raise
            result = outcome.result
            agent_diagnostics, agent_versions = outcome.diagnostics, outcome.versions
            record["channel_s"] = round(outcome.overhead_s, 4)
            record["channel_cpu_s"] = round(outcome.overhead_cpu_s, 4)
            record["agent_cpu_s"] = round(outcome.agent_cpu_s, 4)
        else:
            try:
                result = agent.run(ctx)
            except BudgetExhausted:
                result = None
            agent_diagnostics, agent_versions = agent.diagnostics(), agent.versions()
        log = objective.log
        if result is None:
            if log.incumbent_predictor is not None:
                result = log.incumbent_predictor
            else:
                result = log.incumbent if log.incumbent is not None else space.default()
        agent_wall_s = time.perf_counter() - t0
        test_items = _all(task, "test")
        if isinstance(result, Mapping):
            chosen = space.validate(result)
            # Final scoring by the harness with the real task, not charged.
            val_loss = monitor(chosen)
            test_costs = task.evaluate(chosen, "test", test_items)
            config_json = json.dumps(chosen, sort_keys=True, default=_json_value)
            is_new = log.incumbent != chosen
            record["result_kind"] = "config"
        elif callable(result):
            if not task.has(PREDICTOR):
                raise ValueError(f"agent returned a predictor; task {task.name} takes none")
            val_loss = monitor_predictor(result)
            test_costs = _predict(task, result, "test")
            config_json = ""
            is_new = log.incumbent_predictor is not result
            record["result_kind"] = "predictor"
        else:
            raise TypeError(f"agent returned {type(result).__name__}, not a config/predictor")
        test = task.score(test_costs, "test", test_items)
        if is_new or not log.curve or not log.point_is_current:
            # The returned result is what counts: the curve ends on it.
            log.curve.append(
                CurvePoint(objective.samples_used, agent_wall_s, log.incumbent_train_loss, val_loss)
            )
        record.update(
            status="ok",
            error="",
            config=config_json,
            val_loss=val_loss,
            **{f"test_{k}": v for k, v in test.items()},
            n_test=int(len(test_items)),
            n_eval_items=int(k),
            versions=json.dumps(
                {
                    "tunebench": harness.__version__,
                    "python": platform.python_version(),
                    **task.versions(),
                    **agent_versions,
                },
                sort_keys=True,
            ),
            provenance=json.dumps(task.provenance(), sort_keys=True, default=str),
        )
    except AgentFailed as exc:  # the agent's own traceback, from its process
        record.update(status="failed", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - recorded, the suite goes on
        record.update(
            status="failed", error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        )
    finally:
        record["samples_used"] = objective.samples_used if objective else 0
        record["labels_used"] = objective.labels_used if objective else 0
        record["evaluations"] = objective.evaluations if objective else 0
        record["stopped_by_time_limit"] = bool(objective and objective.stopped_by_time_limit)
        record["wall_s"] = time.perf_counter() - t0
        record["finished_at"] = datetime.now(UTC).isoformat()
        curve = objective.log.curve if objective else []
        record["curve_samples"] = [p.samples for p in curve]
        record["curve_wall_s"] = [round(p.wall_s, 4) for p in curve]
        record["curve_train_loss"] = [p.train_loss for p in curve]
        record["curve_val_loss"] = [p.val_loss for p in curve]
        if agent is not None:
            agent_diagnostics = agent.diagnostics()
        for name, value in agent_diagnostics.items():
            record[f"diag_{name}"] = float(value)
    return record


def _evaluate_cached(
    task: Task, cache: EvalCache, config: Mapping[str, Any], split: str
) -> np.ndarray:
    """Costs of the whole ``split`` under ``config``, through ``cache`` when the task is
    deterministic (the harness's own scoring: never charged)."""
    items = _all(task, split)
    cfg = task.param_space.validate(config)
    if not task.has("deterministic"):
        return task.evaluate(cfg, split, items)
    key = task.param_space.key(cfg)
    costs, missing = cache.get(key, split, items)
    if missing.any():
        costs = np.asarray(task.evaluate(cfg, split, items), dtype=np.float64)
        cache.put(key, split, items, costs)
    return costs


def _predict(task: Task, predictor: Predictor, split: str) -> np.ndarray:
    """A predictor's costs for the whole ``split``, float64 [n] (checked shape)."""
    items = _all(task, split)
    out = np.asarray(predictor(task.inputs(split, items)), dtype=np.float64).reshape(-1)
    if out.shape != (len(items),):
        raise ValueError(f"predictor returned {out.shape[0]} values for {len(items)} inputs")
    return out


def _json_value(value: Any) -> Any:
    """JSON for configuration values json does not know (tuples are lists already)."""
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


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
