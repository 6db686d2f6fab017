"""The analysis of a run: one model that every report renderer (Markdown, HTML) reads.

:func:`analyse` turns a run directory into an :class:`Analysis`: per task setting and
budget a :class:`Comparison` (each agent's test metrics, median [95% bootstrap CI] over
seeds; its paired difference to ``default``; budget use; diagnostics; the verdict from
paired bootstrap over seeds), per task its provenance (dataset, CPU, split, noise
floor, notes), an aggregate across tasks (:mod:`harness.aggregate`), and the records
that are invalid or failed. Nothing here formats text for one output format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.aggregate import AggregateRow, aggregate_across_tasks
from harness.stats import Estimate, Verdict, bootstrap_ci, paired_difference, verdict
from harness.store import CURVE_COLUMNS, scan_records

DEFAULT_AGENT = "default"


@dataclass
class AgentRow:
    """One agent at one task setting and budget.

    Attributes:
        metrics: ``test_*`` name -> median over ok seeds [95% bootstrap CI].
        vs_default: paired difference of the headline metric, agent - default, over shared
            seeds (None for the default itself or without one).
        vs_default_call: ``better`` / ``worse`` / ``tie`` (CI includes 0) / ``""``.
        samples_used: median samples used; ``budget_used``: that over the budget.
        labels_used: median labels used (None without a label budget).
        leader: the winner or one of the agents tied at the top.
    """

    agent: str
    seeds_ok: int
    seeds_failed: int
    metrics: dict[str, Estimate]
    vs_default: Estimate | None
    vs_default_call: str
    samples_used: float
    budget_used: float
    labels_used: float | None
    wall_s: float
    leader: bool = False
    time_limited: int = 0  # seeds stopped by the trial's time limit


@dataclass
class AgentDiagnostics:
    """One agent's ``diag_*`` values: rows of (name, median, min, max, seeds)."""

    agent: str
    rows: list[tuple[str, float, float, float, int]]


@dataclass
class Comparison:
    """All agents at one task setting, budget and label budget."""

    task_label: str
    task: str
    budget_samples: int
    budget_labels: int | None
    headline: str
    direction: str
    metrics: list[str]
    rows: list[AgentRow]
    verdict: Verdict
    diagnostics: list[AgentDiagnostics]
    per_seed: dict[str, dict[int, float]]  # agent -> seed -> headline
    curves: dict[str, list[tuple[list[int], list[float]]]]  # agent -> (samples, val_loss)
    wall_total_s: float = 0.0  # summed wall time of this row's trials (one core each)

    @property
    def title(self) -> str:
        labels = "" if self.budget_labels is None else f", {self.budget_labels} labels"
        return f"{self.task_label} - budget {self.budget_samples} samples{labels}"


@dataclass
class TaskInfo:
    """What the report says about one task setting: provenance from its records."""

    label: str
    task: str
    headline: str
    direction: str
    provenance: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def noise_floor(self) -> dict[str, Any] | None:
        nf = self.provenance.get("noise_floor")
        return nf if isinstance(nf, dict) else None


@dataclass
class Analysis:
    """Everything a report shows about one run."""

    run_name: str
    n_trials: int
    n_ok: int
    n_failed: int
    invalid: list[tuple[str, str]]
    failed: list[tuple[str, str]]
    tasks: dict[str, TaskInfo]
    comparisons: list[Comparison]
    aggregate: list[AggregateRow]
    run_meta: dict[str, Any]
    frame: pd.DataFrame


def analyse(run_dir: str | Path) -> Analysis:
    """Read ``run_dir`` (valid records only; invalid ones are listed) into an Analysis."""
    run_dir = Path(run_dir)
    valid, invalid = scan_records(run_dir)
    records = list(valid.values())
    frame = pd.DataFrame(records)
    if len(frame):
        frame = frame.drop(columns=[c for c in CURVE_COLUMNS if c in frame.columns])
    ok = [r for r in records if r["status"] == "ok"]
    failed = [
        (r["trial_id"], (str(r.get("error", "")).strip().splitlines() or ["?"])[0])
        for r in records
        if r["status"] != "ok"
    ]
    tasks = _task_infos(ok)
    comparisons = [_compare(group, tasks.get(key[0])) for key, group in _groups(records).items()]
    comparisons = [c for c in comparisons if c is not None]
    meta_path = run_dir / "run.json"
    run_meta: dict[str, Any] = {}
    if meta_path.is_file():
        try:
            run_meta = json.loads(meta_path.read_text())
        except ValueError:
            run_meta = {}
    return Analysis(
        run_name=run_dir.resolve().name,
        n_trials=len(records),
        n_ok=len(ok),
        n_failed=len(failed),
        invalid=[(p.name, why) for p, why in invalid],
        failed=failed,
        tasks=tasks,
        comparisons=comparisons,  # type: ignore[arg-type]
        aggregate=aggregate_across_tasks(comparisons),  # type: ignore[arg-type]
        run_meta=run_meta,
        frame=frame,
    )


def _groups(records: list[dict[str, Any]]) -> dict[tuple[str, int, Any], list[dict[str, Any]]]:
    out: dict[tuple[str, int, Any], list[dict[str, Any]]] = {}
    for r in records:
        key = (r["task_label"], int(r["budget_samples"]), r.get("budget_labels"))
        out.setdefault(key, []).append(r)
    return dict(sorted(out.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or -1)))


def _task_infos(ok: list[dict[str, Any]]) -> dict[str, TaskInfo]:
    infos: dict[str, TaskInfo] = {}
    for r in ok:
        label = r["task_label"]
        if label in infos:
            continue
        prov = _json_field(r.get("provenance"))
        infos[label] = TaskInfo(
            label=label,
            task=r["task"],
            headline=r.get("headline_metric", "test_loss"),
            direction=r.get("headline_direction", "min"),
            provenance=prov,
            versions=_json_field(r.get("versions")),
        )
    return infos


def _json_field(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        out = json.loads(value) if value else {}
    except (TypeError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


def metric_names(ok: list[dict[str, Any]], headline: str) -> list[str]:
    """``test_*`` metric names for the table, the headline first. Left out: names with a
    ``/`` (per-item detail, kept in trials.csv) and ``test_loss`` where it repeats the
    headline."""
    names: list[str] = []
    for r in ok:
        for k, v in r.items():
            if k.startswith("test_") and "/" not in k and k not in names:
                if v is None or isinstance(v, int | float):
                    names.append(k)
    if "test_loss" in names and headline != "test_loss":
        same = all(
            r.get("test_loss") is not None
            and r.get(headline) is not None
            and np.isclose(r["test_loss"], r[headline])
            for r in ok
        )
        if same:
            names.remove("test_loss")
    names.sort(key=lambda n: n != headline)  # stable: the headline first, others in order
    return names


def _compare(records: list[dict[str, Any]], info: TaskInfo | None) -> Comparison | None:
    ok = [r for r in records if r["status"] == "ok"]
    first = records[0]
    headline = info.headline if info else "test_loss"
    direction = info.direction if info else "min"
    metrics = metric_names(ok, headline) if ok else []
    per_seed: dict[str, dict[int, float]] = {}
    for r in ok:
        value = r.get(headline)
        per_seed.setdefault(r["agent"], {})[int(r["seed"])] = (
            float(value) if value is not None else float("nan")
        )
    verdict_ = verdict(per_seed, direction, headline.replace("test_", "test "))
    default = per_seed.get(DEFAULT_AGENT)
    rows: list[AgentRow] = []
    agents = sorted({r["agent"] for r in records})
    for agent in agents:
        mine = [r for r in records if r["agent"] == agent]
        good = [r for r in mine if r["status"] == "ok"]
        est = {m: bootstrap_ci([r.get(m) for r in good]) for m in metrics}
        vs, call = None, ""
        if default is not None and agent != DEFAULT_AGENT and agent in per_seed:
            vs = paired_difference(per_seed[agent], default)
            call = _call(vs, direction)
        budget = int(first["budget_samples"])
        used = float(np.median([r["samples_used"] for r in good])) if good else float("nan")
        labels = (
            float(np.median([r.get("labels_used", 0) for r in good]))
            if good and first.get("budget_labels") is not None
            else None
        )
        rows.append(
            AgentRow(
                agent=agent,
                seeds_ok=len(good),
                seeds_failed=len(mine) - len(good),
                metrics=est,
                vs_default=vs,
                vs_default_call=call,
                samples_used=used,
                budget_used=used / budget if budget else float("nan"),
                labels_used=labels,
                wall_s=float(np.median([r["wall_s"] for r in good])) if good else float("nan"),
                leader=agent in verdict_.leaders,
                time_limited=sum(bool(r.get("stopped_by_time_limit")) for r in good),
            )
        )
    sign = 1.0 if direction == "min" else -1.0

    def order(row: AgentRow) -> tuple[int, float, str]:
        est = row.metrics.get(headline)
        value = est.point if est is not None and est.finite else np.inf * sign
        return (0 if row.leader else 1, sign * value, row.agent)

    rows.sort(key=order)
    return Comparison(
        task_label=first["task_label"],
        task=first["task"],
        budget_samples=int(first["budget_samples"]),
        budget_labels=first.get("budget_labels"),
        headline=headline,
        direction=direction,
        metrics=metrics,
        rows=rows,
        verdict=verdict_,
        diagnostics=_diagnostics(ok),
        per_seed=per_seed,
        wall_total_s=float(sum(r.get("wall_s", 0.0) or 0.0 for r in records)),
        curves={
            a: [
                (
                    list(r["curve_samples"]),
                    [np.nan if v is None else v for v in r["curve_val_loss"]],
                )
                for r in ok
                if r["agent"] == a and r["curve_samples"]
            ]
            for a in agents
        },
    )


def _call(diff: Estimate, direction: str) -> str:
    if not diff.finite or diff.n < 2:
        return ""
    if not diff.excludes_zero():
        return "tie"
    better = diff.high < 0 if direction == "min" else diff.low > 0
    return "better" if better else "worse"


def _diagnostics(ok: list[dict[str, Any]]) -> list[AgentDiagnostics]:
    """One table per agent (sorted by name) that reports any ``diag_*`` value, with only
    the values it reports (median, min, max over the seeds that report each)."""
    tables = []
    for agent in sorted({r["agent"] for r in ok}):
        mine = [r for r in ok if r["agent"] == agent]
        names: list[str] = []
        for r in mine:
            names += [k for k in r if k.startswith("diag_") and k not in names]
        rows = []
        for name in names:
            vals = np.array(
                [r[name] for r in mine if isinstance(r.get(name), int | float)], dtype=float
            )
            vals = vals[np.isfinite(vals)]
            if len(vals):
                rows.append(
                    (
                        name[len("diag_") :],
                        float(np.median(vals)),
                        float(vals.min()),
                        float(vals.max()),
                        len(vals),
                    )
                )
        if rows:
            tables.append(AgentDiagnostics(agent, rows))
    return tables
