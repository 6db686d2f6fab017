"""Hostile agents cannot overspend, read the task or the test split (issue: trustworthy
runs). Each runs as a real trial, with the agent in its own process."""

from __future__ import annotations

import pytest

from harness.trial import TrialSpec, run_trial


def _trial(agent: str, budget: int = 100, isolate: bool = True) -> dict:
    spec = TrialSpec(
        suite="adv",
        task_label="toy",
        task="toy",
        agent=agent,
        seed=0,
        budget_samples=budget,
        eval_items=10,
        isolate=isolate,
    )
    return run_trial(spec)


def test_overwriting_counters_does_not_buy_samples() -> None:
    rec = _trial("adv-counters", budget=100)
    assert rec["status"] == "ok", rec["error"]
    assert rec["samples_used"] == 100 and rec["evaluations"] == 10
    assert rec["diag_paid_evaluations"] == 10  # the 11th was refused by the harness


def test_private_attributes_lead_nowhere() -> None:
    rec = _trial("adv-private")
    assert rec["status"] == "failed" and "AttributeError" in rec["error"]
    assert "diag_test_targets_read" not in rec


def test_the_agent_process_heap_holds_no_task() -> None:
    rec = _trial("adv-heap")
    assert rec["status"] == "ok", rec["error"]
    assert rec["diag_tasks_found"] == 0 and "diag_test_targets_read" not in rec


def test_in_process_the_heap_scan_would_succeed() -> None:
    # The same attack without isolation finds the task: what isolation protects against.
    rec = _trial("adv-heap", isolate=False)
    assert rec["diag_tasks_found"] >= 1


def test_test_split_and_private_methods_are_refused() -> None:
    rec = _trial("adv-test")
    assert rec["status"] == "ok", rec["error"]
    assert rec["diag_refused"] == 4 and rec["samples_used"] == 0


@pytest.mark.parametrize("agent", ["random", "pycma", "optuna-tpe"])
def test_isolation_changes_no_result(agent: str) -> None:
    a, b = _trial(agent, isolate=True), _trial(agent, isolate=False)
    for key in ("config", "samples_used", "evaluations", "val_loss", "test_mape"):
        assert a[key] == b[key], key
    # what isolation cost, for bench/harness_overhead.py: wall and CPU s on the trial's
    # side of the channel, and the agent process's own CPU s. No order between the two
    # channel figures: each is a total minus the objective's work, and the work's CPU s
    # can be less than its wall s (descheduled), so CPU can come out above wall (seen:
    # 0.0013 vs 0.0012 s in a clean-clone CI run).
    assert a["channel_s"] >= 0 and a["channel_cpu_s"] >= 0 and a["agent_cpu_s"] > 0
    assert "agent_cpu_s" not in b


def test_agents_forked_by_the_runners_zygote_hold_no_task(tmp_path) -> None:
    import json

    from harness.runner import run_suite

    suite = tmp_path / "adv.toml"
    suite.write_text(
        'name = "adv"\nbudgets = [40]\neval_items = 10\n[tasks.toy]\nagents = ["adv-heap"]\n'
    )
    out = tmp_path / "run"
    summary = run_suite(suite, out_dir=out, log=lambda _line: None)
    assert summary.ok == 1
    rec = json.loads((out / "trials" / "toy__adv-heap__b40__s0.jsonl").read_text())
    assert rec["diag_tasks_found"] == 0


def test_a_predictor_holding_torch_tensors_crosses_the_channel() -> None:
    spec = TrialSpec(
        suite="p",
        task_label="toy",
        task="toy",
        agent="toy-torch-predictor",
        seed=0,
        budget_samples=10,
        budget_labels=20,
        eval_items=10,
    )
    rec = run_trial(spec)
    assert rec["status"] == "ok", rec["error"]
    assert rec["result_kind"] == "predictor" and rec["labels_used"] == 10
    assert 0 < rec["test_mape"] < 2


def test_the_zygote_runs_each_loaded_modules_warm_up_hook(monkeypatch) -> None:
    import sys
    import types

    from harness import zygote

    calls: list[str] = []
    good = types.ModuleType("tb_test_warm_good")
    good.zygote_warm_up = lambda: calls.append("good")  # type: ignore[attr-defined]
    bad = types.ModuleType("tb_test_warm_bad")

    def boom() -> None:
        raise RuntimeError("a failing warm-up is skipped")

    bad.zygote_warm_up = boom  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, bad.__name__, bad)
    monkeypatch.setitem(sys.modules, good.__name__, good)
    monkeypatch.setitem(sys.modules, "agents.torchutil", types.ModuleType("no_torch_here"))
    zygote._warm_up()
    assert calls == ["good"]
