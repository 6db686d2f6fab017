"""Comparison report of a run: ``index.html`` (plots embedded) and ``report.md``.

Per task setting and budget: a table of each agent's final test metrics (median and
95% bootstrap CI over seeds), samples and wall time used, and the validation loss of
each agent's best-so-far configuration vs samples (median line, interquartile band,
log x axis), and one small table per agent that reports diagnostics (its own
``diag_*`` values: median, min and max over seeds). The trial table is also written as
``trials.csv`` for pandas.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from harness.errors import UserError  # noqa: E402
from harness.stats import bootstrap_ci, curve_band  # noqa: E402
from harness.store import finished_records, load_trials, write_atomic  # noqa: E402


@dataclass
class Figure:
    name: str
    png: bytes
    caption: str


def fmt(value: float, digits: int = 4) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}g}"


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """``test_*`` metric columns for the table. Left out: names with a ``/`` (per-item
    detail, e.g. ``test_module/foo``, kept in trials.csv) and ``test_loss`` where it
    repeats another metric."""
    cols = [
        c
        for c in frame.columns
        if c.startswith("test_") and "/" not in c and frame[c].dtype.kind in "fi"
    ]
    if "test_loss" in cols and _same_as_loss(frame, cols):
        cols.remove("test_loss")
    return cols


def headline_metric(frame: pd.DataFrame, metrics: list[str]) -> str:
    """The metric the task optimises (the one equal to its loss), else ``test_loss``."""
    same = _same_as_loss(frame, metrics)
    return same[0] if same else "test_loss"


def _same_as_loss(frame: pd.DataFrame, cols: list[str]) -> list[str]:
    if "test_loss" not in frame:
        return []
    return [
        c
        for c in cols
        if c != "test_loss" and np.allclose(frame[c], frame["test_loss"], equal_nan=True)
    ]


def summary_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (task_label, budget, agent): medians and CIs over ok seeds."""
    rows = []
    metrics = metric_columns(frame[frame.status == "ok"]) if (frame.status == "ok").any() else []
    for (label, budget, agent), grp in frame.groupby(
        ["task_label", "budget_samples", "agent"], sort=True
    ):
        ok = grp[grp.status == "ok"]
        row: dict[str, object] = {
            "task": label,
            "budget_samples": int(budget),
            "agent": agent,
            "seeds_ok": len(ok),
            "seeds_failed": int((grp.status != "ok").sum()),
        }
        for m in metrics:
            point, low, high = bootstrap_ci(ok[m].tolist()) if len(ok) else (np.nan,) * 3
            row[m] = point
            row[f"{m}_ci_low"] = low
            row[f"{m}_ci_high"] = high
        row["samples_used"] = float(np.median(ok.samples_used)) if len(ok) else np.nan
        row["wall_s"] = float(np.median(ok.wall_s)) if len(ok) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class AgentDiagnostics:
    """One agent's own ``diag_*`` columns (see the trial record) at one task and budget:
    rows of (name without ``diag_``, median, min, max, seeds), over the ok seeds that
    report that value, in the order the agent's records give them. A value null in
    every seed (missing, or stored as null because it was not finite) is left out."""

    agent: str
    rows: list[tuple[str, str, str, str, str]]

    header = ("diagnostic", "median", "min", "max", "seeds")


def diagnostics_tables(frame: pd.DataFrame) -> list[AgentDiagnostics]:
    """One table per agent (sorted by name) that reports any diagnostic, each with only
    the columns that agent reports; empty if none does."""
    ok = frame[frame.status == "ok"]
    diag = [c for c in ok.columns if c.startswith("diag_")]
    tables = []
    for agent, grp in ok.groupby("agent", sort=True):
        rows = []
        for c in diag:
            vals = grp[c].dropna().to_numpy(dtype=float)
            if len(vals):
                stats = (np.median(vals), vals.min(), vals.max())
                rows.append((c[len("diag_") :], *(fmt(float(v)) for v in stats), str(len(vals))))
        if rows:
            tables.append(AgentDiagnostics(str(agent), rows))
    return tables


def diagnostics_markdown(tables: list[AgentDiagnostics]) -> list[str]:
    """Markdown lines: a heading and a small table per agent."""
    md: list[str] = []
    for t in tables:
        md += ["", f"### Agent diagnostics: {t.agent}", ""]
        md.append("| " + " | ".join(t.header) + " |")
        md.append("|" + "---|" * len(t.header))
        md += ["| " + " | ".join(r) + " |" for r in t.rows]
    return md


def diagnostics_html(tables: list[AgentDiagnostics]) -> list[str]:
    """HTML fragments: a heading and a small table per agent."""
    out: list[str] = []
    for t in tables:
        out += [
            f"<h3>Agent diagnostics: {html.escape(t.agent)}</h3><table><tr>"
            + "".join(f"<th>{html.escape(c)}</th>" for c in t.header)
            + "</tr>",
            *["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in t.rows],
            "</table>",
        ]
    return out


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def curve_figure(records: list[dict], label: str, budget: int) -> Figure:
    """Validation loss of the best-so-far configuration vs samples, per agent."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    grid = np.unique(np.geomspace(1, max(budget, 2), 200).round().astype(np.int64))
    agents = sorted({r["agent"] for r in records})
    colors = plt.get_cmap("tab10")
    for k, agent in enumerate(agents):
        curves = [
            (r["curve_samples"], [np.nan if v is None else v for v in r["curve_val_loss"]])
            for r in records
            if r["agent"] == agent and r["curve_samples"]
        ]
        if not curves:
            continue
        # A point at 0 samples (the default, before any simulation) holds from x = 1.
        curves = [([max(s, 1) for s in xs], ys) for xs, ys in curves]
        low, med, high = curve_band(curves, grid)
        ax.plot(grid, med, color=colors(k % 10), label=f"{agent} (n={len(curves)})", lw=1.8)
        ax.fill_between(grid, low, high, color=colors(k % 10), alpha=0.18, lw=0)
        # A dot where each median curve ends, so that an agent which proposes only late
        # in its budget (a short curve at the right edge) is not hidden by the others.
        have = np.flatnonzero(np.isfinite(med))
        if have.size:
            ax.plot(grid[have[-1]], med[have[-1]], "o", color=colors(k % 10), ms=5)
    ax.set_xscale("log")
    ax.set_xlabel("samples used (simulations of one input)")
    ax.set_ylabel("validation loss of best-so-far config")
    ax.set_title(f"{label}, budget {budget} samples")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")
    return Figure(
        name=f"curve_{label}_b{budget}.png",
        png=_png(fig),
        caption=f"{label}, budget {budget}: median over seeds, band = interquartile range",
    )


def final_figure(frame: pd.DataFrame, label: str, budget: int, metric: str) -> Figure:
    """Per-seed final test metric of each agent (dots) with the median (bar)."""
    ok = frame[
        (frame.status == "ok") & (frame.task_label == label) & (frame.budget_samples == budget)
    ]
    agents = sorted(ok.agent.unique())
    fig, ax = plt.subplots(figsize=(7.5, 0.5 + 0.45 * max(len(agents), 1)))
    for k, agent in enumerate(agents):
        vals = ok[ok.agent == agent][metric].to_numpy(dtype=float)
        jitter = np.linspace(-0.15, 0.15, len(vals)) if len(vals) > 1 else np.zeros(1)
        ax.scatter(vals, k + jitter, s=16, color="tab:blue", alpha=0.7)
        ax.plot([np.median(vals)] * 2, [k - 0.3, k + 0.3], color="black", lw=2)
    ax.set_yticks(range(len(agents)), agents)
    ax.set_xlabel(metric.replace("test_", "test "))
    ax.grid(alpha=0.3, axis="x")
    ax.set_title(f"{label}, budget {budget}: {metric} per seed (bar = median)")
    return Figure(name=f"final_{label}_b{budget}.png", png=_png(fig), caption=f"{metric} per seed")


def verdict(table: pd.DataFrame, metric: str) -> str:
    """One honest sentence: who has the lowest median, and whether its CI is clear."""
    if table.empty or metric not in table or table[metric].isna().all():
        return "No finished trials."
    ranked = table.sort_values(metric)
    best = ranked.iloc[0]
    text = f"Lowest median {metric}: **{best.agent}** ({fmt(best[metric])})."
    if len(ranked) > 1:
        second = ranked.iloc[1]
        if best[f"{metric}_ci_high"] < second[f"{metric}_ci_low"]:
            text += f" Its 95% CI lies below the runner-up's ({second.agent})."
        else:
            text += (
                f" Its 95% CI overlaps the runner-up's ({second.agent}, "
                f"{fmt(second[metric])}): no clear winner at this budget."
            )
    return text


def _cell(row: pd.Series, m: str) -> str:
    return f"{fmt(row[m])} [{fmt(row[m + '_ci_low'])}, {fmt(row[m + '_ci_high'])}]"


def write_report(run_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write the report of ``run_dir`` into ``out_dir`` (default ``reports/<run name>``);
    returns the path of ``index.html``."""
    run_dir = Path(run_dir)
    records = list(finished_records(run_dir).values())
    if not records:
        raise UserError(f"no trial records in {run_dir / 'trials'}: run a suite first")
    out = Path(out_dir) if out_dir else Path("reports") / run_dir.resolve().name
    out.mkdir(parents=True, exist_ok=True)
    frame = load_trials(run_dir)
    table = summary_table(frame)
    metrics = metric_columns(frame[frame.status == "ok"]) if (frame.status == "ok").any() else []
    main_metric = (
        "test_mape" if "test_mape" in metrics else (metrics[0] if metrics else "test_loss")
    )

    md = [f"# tunebench report: {run_dir.name}", ""]
    md.append(
        f"{len(frame)} trials ({int((frame.status == 'ok').sum())} ok, "
        f"{int((frame.status != 'ok').sum())} failed). Cells: median over seeds "
        "[95% bootstrap CI]. Budgets and samples count simulations of one input; the "
        "final test scoring is not charged."
    )
    body = [
        f"<h1>tunebench report: {html.escape(run_dir.name)}</h1>",
        f"<p>{html.escape(md[2])}</p>",
    ]
    for (label, budget), part in table.groupby(["task", "budget_samples"], sort=True):
        recs = [r for r in records if r["task_label"] == label and r["budget_samples"] == budget]
        heading = f"{label} - budget {budget} samples"
        cols = ["agent", *metrics, "samples used", "wall s", "seeds ok/failed"]
        md += ["", f"## {heading}", "", verdict(part, main_metric), ""]
        md.append("| " + " | ".join(cols) + " |")
        md.append("|" + "---|" * len(cols))
        rows_html = []
        for _, row in part.sort_values(main_metric).iterrows():
            cells = [
                row.agent,
                *[_cell(row, m) for m in metrics],
                fmt(row.samples_used, 6),
                fmt(row.wall_s, 3),
                f"{row.seeds_ok}/{row.seeds_failed}",
            ]
            md.append("| " + " | ".join(cells) + " |")
            rows_html.append(
                "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"
            )
        sub = frame[(frame.task_label == label) & (frame.budget_samples == budget)]
        diag_tables = diagnostics_tables(sub)
        md += diagnostics_markdown(diag_tables)
        figs = []
        if any(r["status"] == "ok" for r in recs):
            figs.append(curve_figure([r for r in recs if r["status"] == "ok"], label, int(budget)))
            figs.append(final_figure(frame, label, int(budget), main_metric))
        body += [
            f"<h2>{html.escape(heading)}</h2>",
            f"<p>{html.escape(verdict(part, main_metric)).replace('**', '')}</p>",
            "<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in cols) + "</tr>",
            *rows_html,
            "</table>",
            *diagnostics_html(diag_tables),
        ]
        for f in figs:
            (out / f.name).write_bytes(f.png)
            md += ["", f"![{f.caption}]({f.name})"]
            b64 = base64.b64encode(f.png).decode()
            body.append(
                f'<figure><img src="data:image/png;base64,{b64}" alt="{html.escape(f.caption)}">'
                f"<figcaption>{html.escape(f.caption)}</figcaption></figure>"
            )
    failed = frame[frame.status != "ok"]
    if len(failed):
        md += ["", "## Failed trials", ""]
        body.append("<h2>Failed trials</h2><ul>")
        for _, row in failed.iterrows():
            first = str(row.error).strip().splitlines()[0] if str(row.error).strip() else "?"
            md.append(f"- `{row.trial_id}`: {first}")
            body.append(f"<li><code>{html.escape(row.trial_id)}</code>: {html.escape(first)}</li>")
        body.append("</ul>")
    style = (
        "body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}img{max-width:100%}"
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>tunebench {html.escape(run_dir.name)}</title><style>{style}</style></head>"
        f"<body>{''.join(body)}</body></html>"
    )
    write_atomic(out / "report.md", "\n".join(md) + "\n")
    write_atomic(out / "trials.csv", frame.to_csv(index=False))
    write_atomic(out / "summary.csv", table.to_csv(index=False))
    write_atomic(out / "index.html", page)
    return out / "index.html"
