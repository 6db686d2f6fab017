"""Using a tuned result outside its trial: evaluate on another dataset, predict any
blocks, export a blocksim table and load it back (real llvm-mca and blocksim)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from envs.blocksim.export import export_record, load_table_file
from harness.runner import run_suite
from harness.store import trial_path
from harness.transfer import evaluate_run, predict_with_record
from harness.trial import build_task
from tests.conftest import SMALL_DATASET


def _run(tmp_path, task: str, agents: str) -> object:
    suite = tmp_path / "s.toml"
    suite.write_text(
        f'name = "t{task}"\nseeds = [0]\nbudgets = [120]\neval_items = 40\n'
        f'[tasks.{task}]\noptions = {{ dataset = "{SMALL_DATASET}", max_items = 120, jobs = 1 }}\n'
        f"agents = [{agents}]\n"
    )
    out = tmp_path / "run"
    run_suite(suite, out_dir=out, log=lambda _line: None)
    return out


def test_evaluate_and_predict_with_a_finished_mca_trial(tmp_path) -> None:
    out = _run(tmp_path, "mca", '"default", "local-search"')
    other = tmp_path / "other.csv"
    lines = SMALL_DATASET.read_text().splitlines()
    other.write_text("\n".join(lines[:1] + lines[-60:]) + "\n")
    frame = evaluate_run(out, str(other))
    assert sorted(frame.agent) == ["default", "local-search"]
    assert (frame.n_items > 0).all() and frame.all_mape.between(0, 10).all()
    assert (out / "evaluate_other.csv").exists()
    rec = trial_path(out, "mca__local-search__b120__s0")
    pred = predict_with_record(rec, other)
    assert len(pred) == 60 and pred.prediction.notna().all()
    # The same configuration through the task gives the same numbers.
    task = build_task("mca", {"dataset": str(other), "jobs": 1})
    config = json.loads(json.loads(rec.read_text())["config"])
    direct = task.simulator.predict(list(pred.hex), config)  # type: ignore[attr-defined]
    assert np.array_equal(direct, pred.prediction.to_numpy())


def test_export_a_tuned_blocksim_table_and_load_it_back(tmp_path) -> None:
    out = _run(tmp_path, "blocksim", '"local-search"')
    rec = trial_path(out, "blocksim__local-search__b120__s0")
    table = export_record(rec, tmp_path / "tuned.json")
    text = (tmp_path / "tuned.json").read_text()
    assert text.startswith("{\n") and len(text.splitlines()) > 100  # indented: readable
    back = load_table_file(tmp_path / "tuned.json")
    assert back.to_json() == table.to_json()
    # The blocksim task starts from it: its default configuration is the tuned one.
    record = json.loads(rec.read_text())
    tuned = json.loads(record["config"])
    options = {
        "dataset": str(SMALL_DATASET),
        "max_items": 120,
        "jobs": 1,
        "table": str(tmp_path / "tuned.json"),
    }
    task = build_task("blocksim", options)
    default = task.param_space.default()
    assert {k: default[k] for k in tuned} == tuned
    # The file says the model it was tuned under; a task with another one says so.
    assert back.meta["stack_engine"] is False and not task.notes
    other = build_task("blocksim", {**options, "stack_engine": True})
    assert any("tuned with the stack engine off" in n for n in other.notes)
    assert back.meta["differenced"] is False
    other = build_task("blocksim", {**options, "differenced": True})
    assert any("tuned with differenced predictions off" in n for n in other.notes)


def test_export_refuses_a_non_blocksim_record(tmp_path) -> None:
    from harness.errors import UserError

    out = _run(tmp_path, "mca", '"default"')
    with pytest.raises(UserError, match="not a blocksim one"):
        export_record(trial_path(out, "mca__default__b120__s0"), tmp_path / "x.json")
