"""Comparison report of a run: ``index.html`` (plots embedded), ``report.md``,
``trials.csv`` and ``summary.csv``.

Both documents are rendered from one :class:`~harness.analysis.Analysis` (see
harness/analysis.py): a document is a list of blocks (:class:`Heading`,
:class:`Paragraph`, :class:`Table`, :class:`Image`, :class:`Items`) built once by
:func:`build_document`, and each renderer turns the same blocks into its format.
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

from harness.analysis import Analysis, Comparison, TaskInfo, analyse  # noqa: E402
from harness.errors import UserError  # noqa: E402
from harness.stats import Estimate, curve_band  # noqa: E402
from harness.store import write_atomic  # noqa: E402


# ---- document blocks ---------------------------------------------------------------
@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Paragraph:
    text: str  # may hold **bold** marks


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass
class Image:
    name: str
    png: bytes
    caption: str


@dataclass
class Items:
    items: list[str]


Block = Heading | Paragraph | Table | Image | Items


def fmt(value: float | None, digits: int = 4) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:.{digits}g}"


def cell(est: Estimate | None) -> str:
    if est is None or not est.finite:
        return "n/a"
    if est.n <= 1 or (est.low == est.point == est.high):
        return fmt(est.point)
    return f"{fmt(est.point)} [{fmt(est.low)}, {fmt(est.high)}]"


# ---- figures -----------------------------------------------------------------------
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")
_STYLES = ("-", "--", "-.", ":")


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def curve_figure(label: str, comps: list[Comparison], info: TaskInfo | None) -> Image | None:
    """Validation loss of each agent's best-so-far configuration vs samples: one plot for
    the task, each agent at its largest budget; median over seeds with a 95% bootstrap
    band; distinct colour, line style and marker per agent, so coinciding curves stay
    distinguishable; the ground truth's same-CPU noise floor as a line when known."""
    latest: dict[str, tuple[int, list]] = {}
    for c in comps:
        for agent, curves in c.curves.items():
            if curves and (agent not in latest or c.budget_samples > latest[agent][0]):
                latest[agent] = (c.budget_samples, curves)
    if not latest or max(b for b, _ in latest.values()) == 0:
        return None  # nothing to plot: no agent used samples
    budget = max(b for b, _ in latest.values())
    fig, ax = plt.subplots(figsize=(8, 4.6))
    grid = np.unique(np.geomspace(1, max(budget, 2), 240).round().astype(np.int64))
    colors = plt.get_cmap("tab10")
    step = max(1, len(grid) // 8)
    for k, agent in enumerate(sorted(latest)):
        b, curves = latest[agent]
        curves = [([max(s, 1) for s in xs], ys) for xs, ys in curves]
        low, med, high = curve_band(curves, grid)
        color = colors(k % 10)
        style = _STYLES[(k // 10) % len(_STYLES)] if k >= 10 else _STYLES[k % 2]
        ax.plot(
            grid,
            med,
            color=color,
            ls=style,
            lw=1.6,
            marker=_MARKERS[k % len(_MARKERS)],
            # Markers at staggered positions per agent: identical curves stay visible.
            markevery=(k * 3 % step, step),
            ms=5,
            label=f"{agent} (n={len(curves)}, budget {b:,})",
        )
        ax.fill_between(grid, low, high, color=color, alpha=0.15, lw=0)
        have = np.flatnonzero(np.isfinite(med))
        if have.size:  # where the median curve ends (an agent proposing only late)
            ax.plot(grid[have[-1]], med[have[-1]], "o", color=color, ms=7, mfc="none")
    nf = info.noise_floor if info else None
    if nf and info is not None and info.headline == "test_mape" and nf.get("mape") is not None:
        ax.axhline(float(nf["mape"]), color="black", lw=1, ls=":")
        ax.annotate(
            "ground-truth noise floor (same-CPU repeat)",
            (grid[0], float(nf["mape"])),
            fontsize=8,
            va="bottom",
        )
    ax.set_xscale("log")
    ax.set_xlabel("samples used (evaluations of one item)")
    ax.set_ylabel("validation loss of best-so-far")
    ax.set_title(f"{label}: anytime curves")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="best")
    return Image(
        f"curve_{label}.png",
        _png(fig),
        f"{label}: median over seeds, band = 95% bootstrap CI of the median",
    )


def final_figure(c: Comparison) -> Image:
    """Per-seed final headline metric of each agent (dots) with the median (bar)."""
    agents = [r.agent for r in c.rows]
    fig, ax = plt.subplots(figsize=(7.5, 0.6 + 0.42 * max(len(agents), 1)))
    for k, agent in enumerate(agents):
        vals = np.array(list(c.per_seed.get(agent, {}).values()), dtype=float)
        vals = vals[np.isfinite(vals)]
        if not len(vals):
            continue
        jitter = np.linspace(-0.15, 0.15, len(vals)) if len(vals) > 1 else np.zeros(1)
        ax.scatter(vals, k + jitter, s=16, color="tab:blue", alpha=0.7)
        ax.plot([np.median(vals)] * 2, [k - 0.3, k + 0.3], color="black", lw=2)
    ax.set_yticks(range(len(agents)), agents)
    ax.invert_yaxis()
    ax.set_xlabel(c.headline.replace("test_", "test "))
    ax.grid(alpha=0.3, axis="x")
    ax.set_title(f"{c.title}: per seed (bar = median)")
    suffix = "" if c.budget_labels is None else f"_l{c.budget_labels}"
    return Image(
        f"final_{c.task_label}_b{c.budget_samples}{suffix}.png",
        _png(fig),
        f"{c.headline} per seed",
    )


# ---- the document ------------------------------------------------------------------
def _provenance(info: TaskInfo) -> list[str]:
    p = info.provenance
    out = []
    if p.get("dataset"):
        parts = [f"{p['dataset_items']} items"] if p.get("dataset_items") is not None else []
        if p.get("dataset_cpu"):
            parts.append(f"measured on {p['dataset_cpu']}")
        detail = f" ({', '.join(parts)})" if parts else ""  # a task may state neither
        out.append(f"dataset: {p['dataset']}{detail}")
    if p.get("split"):
        sizes = p.get("split_sizes", {})
        size = "/".join(str(sizes.get(s, "?")) for s in ("train", "val", "test"))
        out.append(f"split: {p['split']} (train/val/test {size})")
    nf = info.noise_floor
    if nf:
        out.append(
            "ground-truth noise floor (a same-CPU repeat measurement scored as if it were "
            f"a simulator): MAPE {fmt(nf.get('mape'))}, median APE {fmt(nf.get('median_ape'))}, "
            f"Kendall tau {fmt(nf.get('kendall_tau'))} over {nf.get('n_blocks', '?')} blocks"
        )
    elif isinstance(p.get("noise_floor"), str):  # a task that states its repeat in words
        out.append(f"ground-truth noise floor (a same-CPU repeat measurement): {p['noise_floor']}")
    elif p.get("dataset_cpu"):  # measured ground truth without a same-CPU repeat yet
        out.append(
            "ground-truth noise floor: not measured for this dataset (it needs a repeat "
            f"measurement on a {p['dataset_cpu']} machine, see envs/groundtruth/data/README.md)"
        )
    out += [f"**note**: {n}" for n in p.get("notes", [])]
    if info.versions:
        out.append("versions: " + ", ".join(f"{k} {v}" for k, v in sorted(info.versions.items())))
    return out


def build_document(a: Analysis) -> list[Block]:
    """The report as format-neutral blocks."""
    doc: list[Block] = [Heading(f"tunebench report: {a.run_name}", 1)]
    meta = a.run_meta
    intro = (
        f"{a.n_trials} trials ({a.n_ok} ok, {a.n_failed} failed"
        + (f", {len(a.invalid)} invalid records" if a.invalid else "")
        + "). Cells: median over seeds [95% bootstrap CI]. Verdicts: paired bootstrap "
        "over seeds (common random numbers); agents not separated from the best are "
        "reported as a tie. Budgets and samples count evaluations of one item; the final "
        "test scoring is not charged."
    )
    doc.append(Paragraph(intro))
    if meta:
        bits = [
            f"{k}: {meta[k]}" for k in ("command", "started", "host", "tunebench") if meta.get(k)
        ]
        doc.append(Items(bits))
    if a.n_ok == 0:
        doc.append(Paragraph("**No trial finished**: every trial failed (see below)."))
    if a.aggregate:
        doc.append(Heading("Across tasks"))
        doc.append(
            Paragraph(
                "Each agent at its task's largest budget; score = relative improvement of "
                "the headline metric over default's median on that task (0 = default). IQM "
                "and probability of beating default (P > 0.5: better), with stratified "
                "bootstrap 95% CIs (rliable's methods)."
            )
        )
        doc.append(
            Table(
                ["agent", "tasks", "IQM of normalized score", "P(beats default)"],
                [
                    [r.agent, str(r.tasks), cell(r.iqm), cell(r.p_beats_default)]
                    for r in a.aggregate
                ],
            )
        )
    for label, info in sorted(a.tasks.items()):
        comps = [c for c in a.comparisons if c.task_label == label]
        doc.append(Heading(f"Task {label} ({info.task})"))
        prov = _provenance(info)
        if prov:
            doc.append(Items(prov))
        fig = curve_figure(label, comps, info)
        if fig is not None:
            doc.append(fig)
        for c in comps:
            doc += _comparison_blocks(c, info)
    orphans = [c for c in a.comparisons if c.task_label not in a.tasks]
    for c in orphans:
        doc += _comparison_blocks(c, None)
    if a.failed:
        doc.append(Heading("Failed trials"))
        doc.append(Items([f"`{tid}`: {why}" for tid, why in a.failed]))
    if a.invalid:
        doc.append(Heading("Invalid records (not counted; `tunebench run` re-runs them)"))
        doc.append(Items([f"`{name}`: {why}" for name, why in a.invalid]))
    return doc


def _comparison_blocks(c: Comparison, info: TaskInfo | None) -> list[Block]:
    blocks: list[Block] = [
        Heading(c.title, 3),
        Paragraph(c.verdict.text),
        Paragraph(
            f"Trials' wall time: {fmt(c.wall_total_s / 60, 3)} min in all "
            f"({len([r for r in c.rows for _ in range(r.seeds_ok + r.seeds_failed)])} trials, "
            "one core each; divide by the workers for the elapsed time)."
        ),
    ]
    nf = info.noise_floor if info else None
    if nf and c.headline == "test_mape" and nf.get("mape") is not None:
        blocks.append(
            Paragraph(
                f"Noise floor: a perfect simulator would score test MAPE about "
                f"{fmt(nf['mape'])} against this data (same-CPU repeat measurement)."
            )
        )
    header = ["agent", *[m.replace("test_", "test ") for m in c.metrics]]
    has_default = any(r.vs_default is not None for r in c.rows)
    if has_default:
        header.append(f"{c.headline.replace('test_', '')} - default (paired)")
    header += ["samples used (of budget)", "wall s", "seeds ok/failed"]
    if c.budget_labels is not None:
        header.insert(-2, "labels used")
    rows = []
    for r in c.rows:
        name = f"**{r.agent}**" if r.leader else r.agent
        row = [name, *[cell(r.metrics.get(m)) for m in c.metrics]]
        if has_default:
            row.append(
                "" if r.vs_default is None else f"{cell(r.vs_default)} {r.vs_default_call}".strip()
            )
        used = fmt(r.samples_used, 7)
        if c.budget_samples:
            used += f" ({fmt(100 * r.budget_used, 3)}%)"
        if r.time_limited:
            used += f", time limit in {r.time_limited} seed(s)"
        row += [used, fmt(r.wall_s, 3), f"{r.seeds_ok}/{r.seeds_failed}"]
        if c.budget_labels is not None:
            row.insert(-2, fmt(r.labels_used, 6))
        rows.append(row)
    blocks.append(Table(header, rows))
    if any(r.seeds_ok for r in c.rows):
        blocks.append(final_figure(c))
    for d in c.diagnostics:
        blocks.append(Heading(f"Agent diagnostics: {d.agent}", 4))
        blocks.append(
            Table(
                ["diagnostic", "median", "min", "max", "seeds"],
                [[n, fmt(m), fmt(lo), fmt(hi), str(k)] for n, m, lo, hi, k in d.rows],
            )
        )
    return blocks


# ---- renderers ---------------------------------------------------------------------
def render_markdown(doc: list[Block]) -> str:
    out: list[str] = []
    for b in doc:
        if isinstance(b, Heading):
            out += ["", "#" * b.level + " " + b.text, ""]
        elif isinstance(b, Paragraph):
            out += [b.text, ""]
        elif isinstance(b, Items):
            out += [f"- {i}" for i in b.items] + [""]
        elif isinstance(b, Table):
            out.append("| " + " | ".join(b.header) + " |")
            out.append("|" + "---|" * len(b.header))
            out += ["| " + " | ".join(r) + " |" for r in b.rows]
            out.append("")
        elif isinstance(b, Image):
            out += [f"![{b.caption}]({b.name})", ""]
    return "\n".join(out).strip() + "\n"


def _inline_html(text: str) -> str:
    """Escape, then turn **x** into <b>x</b> and `x` into <code>x</code>."""
    parts = html.escape(text).split("**")
    text = "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))
    parts = text.split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def render_html(doc: list[Block], title: str) -> str:
    body: list[str] = []
    for b in doc:
        if isinstance(b, Heading):
            body.append(f"<h{b.level}>{_inline_html(b.text)}</h{b.level}>")
        elif isinstance(b, Paragraph):
            body.append(f"<p>{_inline_html(b.text)}</p>")
        elif isinstance(b, Items):
            body.append("<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{_inline_html(h)}</th>" for h in b.header)
            rows = "".join(
                "<tr>" + "".join(f"<td>{_inline_html(c)}</td>" for c in r) + "</tr>" for r in b.rows
            )
            body.append(f"<table><tr>{head}</tr>{rows}</table>")
        elif isinstance(b, Image):
            data = base64.b64encode(b.png).decode()
            body.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(b.caption)}">'
                f"<figcaption>{html.escape(b.caption)}</figcaption></figure>"
            )
    style = (
        "body{font-family:sans-serif;max-width:75em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:.5em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}img{max-width:100%}"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>tunebench {html.escape(title)}</title><style>{style}</style></head>"
        f"<body>{''.join(body)}</body></html>"
    )


def summary_frame(a: Analysis) -> pd.DataFrame:
    """One row per (task setting, budget, agent): the numbers behind the tables."""
    rows = []
    for c in a.comparisons:
        for r in c.rows:
            row: dict[str, object] = {
                "task": c.task_label,
                "budget_samples": c.budget_samples,
                "budget_labels": c.budget_labels,
                "agent": r.agent,
                "seeds_ok": r.seeds_ok,
                "seeds_failed": r.seeds_failed,
                "headline": c.headline,
                "leader": r.leader,
                "verdict": c.verdict.kind,
            }
            for m, est in r.metrics.items():
                row.update({m: est.point, f"{m}_ci_low": est.low, f"{m}_ci_high": est.high})
            if r.vs_default is not None:
                row.update(
                    vs_default=r.vs_default.point,
                    vs_default_ci_low=r.vs_default.low,
                    vs_default_ci_high=r.vs_default.high,
                    vs_default_call=r.vs_default_call,
                )
            row.update(samples_used=r.samples_used, budget_used=r.budget_used, wall_s=r.wall_s)
            rows.append(row)
    return pd.DataFrame(rows)


def write_report(run_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write the report of ``run_dir`` into ``out_dir`` (default ``reports/<run name>``);
    returns the path of ``index.html``."""
    run_dir = Path(run_dir)
    a = analyse(run_dir)
    if a.n_trials == 0 and not a.invalid:
        raise UserError(f"no trial records in {run_dir / 'trials'}: run a suite first")
    out = Path(out_dir) if out_dir else Path("reports") / a.run_name
    out.mkdir(parents=True, exist_ok=True)
    doc = build_document(a)
    for b in doc:
        if isinstance(b, Image):
            write_atomic(out / b.name, b.png)
    write_atomic(out / "report.md", render_markdown(doc))
    write_atomic(out / "trials.csv", a.frame.to_csv(index=False))
    write_atomic(out / "summary.csv", summary_frame(a).to_csv(index=False))
    write_atomic(out / "index.html", render_html(doc, a.run_name))
    return out / "index.html"
