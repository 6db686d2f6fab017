"""The report's per-agent diagnostics tables (report.md and index.html)."""

from __future__ import annotations

import re

from harness.report import diagnostics_tables, write_report
from harness.store import load_trials, save_record


def _record(agent: str, seed: int, status: str = "ok", **diag: float) -> dict:
    return {
        "trial_id": f"toy__{agent}__b10__s{seed}",
        "task_label": "toy",
        "task": "toy",
        "agent": agent,
        "seed": seed,
        "budget_samples": 10,
        "status": status,
        "error": "" if status == "ok" else "RuntimeError: boom",
        "val_loss": 0.5,
        "test_mape": 0.4 + 0.01 * seed,
        "test_loss": 0.4 + 0.01 * seed,
        "samples_used": 10,
        "wall_s": 1.0,
        "curve_samples": [0, 10],
        "curve_wall_s": [0.0, 1.0],
        "curve_train_loss": [0.7, 0.6],
        "curve_val_loss": [0.6, 0.5],
        **{f"diag_{k}": v for k, v in diag.items()},
    }


def _run(tmp_path):
    run = tmp_path / "run"
    for seed in range(3):
        save_record(run, _record("alpha", seed, surrogate_s=10.0 + seed, params_changed=5.0))
        save_record(run, _record("beta", seed, separable=1.0))
        save_record(run, _record("plain", seed))
    save_record(run, _record("beta", 3, status="failed", separable=99.0))  # not counted
    return run


def test_one_table_per_reporting_agent_with_only_its_own_diagnostics(tmp_path) -> None:
    tables = diagnostics_tables(load_trials(_run(tmp_path)))
    assert [t.agent for t in tables] == ["alpha", "beta"]  # plain reports none
    alpha, beta = tables
    # (name, median, min, max, seeds), in the order the agent reports them.
    assert alpha.rows == [
        ("surrogate_s", "11", "10", "12", "3"),
        ("params_changed", "5", "5", "5", "3"),
    ]
    assert beta.rows == [("separable", "1", "1", "1", "3")]  # the failed seed's 99 is out
    assert diagnostics_tables(load_trials(tmp_path / "run").query("agent == 'plain'")) == []


def test_report_renders_the_per_agent_tables_in_markdown_and_html(tmp_path) -> None:
    out = tmp_path / "rep"
    index = write_report(_run(tmp_path), out)
    md = (out / "report.md").read_text()
    assert md.count("### Agent diagnostics: ") == 2
    alpha = md[md.index("### Agent diagnostics: alpha") : md.index("### Agent diagnostics: beta")]
    assert "| diagnostic | median | min | max | seeds |" in alpha
    assert "| surrogate_s | 11 | 10 | 12 | 3 |" in alpha and "separable" not in alpha
    beta = md[md.index("### Agent diagnostics: beta") :].split("![")[0]
    assert "| separable | 1 | 1 | 1 | 3 |" in beta and "surrogate_s" not in beta
    assert "plain" not in md[md.index("### Agent diagnostics") :].split("## Failed")[0]
    assert "n/a" not in md
    page = index.read_text()
    assert page.count("<h3>Agent diagnostics: ") == 2
    html_alpha = page[page.index("<h3>Agent diagnostics: alpha") :].split("</table>")[0]
    cells = re.findall(r"<td>([^<]*)</td>", html_alpha)
    assert cells == ["surrogate_s", "11", "10", "12", "3", "params_changed", "5", "5", "5", "3"]
