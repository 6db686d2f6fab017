"""The report: one analysis rendered twice (report.md and index.html), diagnostics per
agent, paired comparisons with default, invalid records listed, provenance shown."""

from __future__ import annotations

import json
import re

from harness.analysis import analyse
from harness.report import build_document, render_html, render_markdown, write_report
from harness.store import save_record, trial_path


def _record(
    agent: str, seed: int, status: str = "ok", mape: float | None = None, **diag: float
) -> dict:
    value = 0.4 + 0.01 * seed if mape is None else mape
    return {
        "trial_id": f"toy__{agent}__b10__s{seed}",
        "task_label": "toy",
        "task": "toy",
        "agent": agent,
        "seed": seed,
        "budget_samples": 10,
        "status": status,
        "error": "" if status == "ok" else "RuntimeError: boom",
        "headline_metric": "test_mape",
        "headline_direction": "min",
        "val_loss": 0.5,
        "test_mape": value if status == "ok" else None,
        "test_loss": value if status == "ok" else None,
        "samples_used": 10,
        "wall_s": 1.0,
        "provenance": json.dumps(
            {
                "dataset": "bhive_znver4",
                "dataset_cpu": "znver4",
                "split": "by source",
                "noise_floor": {"mape": 0.012, "median_ape": 0.004, "kendall_tau": 0.98},
                "notes": ["CPU mismatch: measured on znver4, the simulator models znver3"],
            }
        ),
        "curve_samples": [0, 10],
        "curve_wall_s": [0.0, 1.0],
        "curve_train_loss": [0.7, 0.6],
        "curve_val_loss": [0.6, 0.5],
        **{f"diag_{k}": v for k, v in diag.items()},
    }


def _run(tmp_path):
    run = tmp_path / "run"
    for seed in range(4):
        save_record(run, _record("alpha", seed, surrogate_s=10.0 + seed, params_changed=5.0))
        save_record(run, _record("beta", seed, separable=1.0, mape=0.9))
        save_record(run, _record("default", seed, mape=0.6 + 0.01 * seed))
    save_record(run, _record("beta", 4, status="failed", separable=99.0))  # not counted
    trial_path(run, "toy__gamma__b10__s0").write_text("{}")  # invalid: listed, not counted
    return run


def test_diagnostics_one_table_per_reporting_agent(tmp_path) -> None:
    a = analyse(_run(tmp_path))
    (c,) = a.comparisons
    tables = {d.agent: d for d in c.diagnostics}
    assert sorted(tables) == ["alpha", "beta"]  # default reports none
    alpha = {name: (med, lo, hi, n) for name, med, lo, hi, n in tables["alpha"].rows}
    assert alpha["surrogate_s"] == (11.5, 10.0, 13.0, 4) and alpha["params_changed"][0] == 5.0
    beta = {name: (med, lo, hi, n) for name, med, lo, hi, n in tables["beta"].rows}
    assert beta == {"separable": (1.0, 1.0, 1.0, 4)}  # the failed seed's 99 is left out


def test_paired_comparison_with_default_and_verdict(tmp_path) -> None:
    a = analyse(_run(tmp_path))
    (c,) = a.comparisons
    rows = {r.agent: r for r in c.rows}
    # alpha - default = -0.2 on every seed: better, zero-width interval.
    assert (
        rows["alpha"].vs_default.point == -0.2 or abs(rows["alpha"].vs_default.point + 0.2) < 1e-12
    )
    assert rows["alpha"].vs_default_call == "better" and rows["beta"].vs_default_call == "worse"
    assert c.verdict.kind == "winner" and c.verdict.leaders == ("alpha",)
    assert [r.agent for r in c.rows][0] == "alpha" and rows["alpha"].leader
    assert rows["beta"].seeds_ok == 4 and rows["beta"].seeds_failed == 1


def test_markdown_and_html_come_from_the_same_document(tmp_path) -> None:
    run = _run(tmp_path)
    index = write_report(run, tmp_path / "rep")
    md = (tmp_path / "rep" / "report.md").read_text()
    page = index.read_text()
    doc = build_document(analyse(run))
    assert md == render_markdown(doc) and page == render_html(doc, "run")
    # The same facts in both: verdict, noise floor, CPU mismatch note, invalid record.
    for needle in (
        "alpha",
        "wins on test mape",
        "noise floor",
        "CPU mismatch",
        "toy__gamma__b10__s0.jsonl",
        "measured on znver4",
    ):
        assert needle in md and needle in page, needle
    assert md.count("#### Agent diagnostics: ") == 2 and page.count("<h4>Agent diagnostics: ") == 2
    # Tables: as many in HTML as in Markdown.
    assert page.count("<table>") == len(re.findall(r"^\| agent \|", md, re.M)) + 2
    summary = (tmp_path / "rep" / "summary.csv").read_text()
    assert "vs_default_call" in summary and "better" in summary


def test_provenance_line_states_only_what_the_task_says() -> None:
    from harness.analysis import TaskInfo
    from harness.report import _provenance

    def line(prov: dict) -> str:
        info = TaskInfo(label="t", task="t", headline="x", direction="min", provenance=prov)
        return _provenance(info)[0]

    assert line({"dataset": "d"}) == "dataset: d"
    assert line({"dataset": "d", "dataset_items": 5}) == "dataset: d (5 items)"
    both = {"dataset": "d", "dataset_items": 5, "dataset_cpu": "znver4"}
    assert line(both) == "dataset: d (5 items, measured on znver4)"
