import json

import pandas as pd

from harness.store import (
    load_curves,
    load_trials,
    read_record,
    save_record,
    trial_path,
    write_atomic,
)


def _record(tid: str, **kw) -> dict:
    rec = {
        "trial_id": tid,
        "task_label": "toy",
        "agent": "random",
        "seed": 0,
        "budget_samples": 10,
        "status": "ok",
        "test_mape": float("nan"),
        "val_loss": 0.5,
        "curve_samples": [0, 5, 10],
        "curve_wall_s": [0.0, 0.1, 0.2],
        "curve_train_loss": [float("inf"), 0.7, 0.6],
        "curve_val_loss": [0.9, 0.8, 0.5],
    }
    rec.update(kw)
    return rec


def test_record_round_trip_and_pandas(tmp_path) -> None:
    save_record(tmp_path, _record("a"))
    save_record(tmp_path, _record("b", seed=1, val_loss=0.25))
    back = read_record(trial_path(tmp_path, "a"))
    assert back["val_loss"] == 0.5 and back["test_mape"] is None  # NaN -> null (strict JSON)
    trials = load_trials(tmp_path)
    assert sorted(trials.trial_id) == ["a", "b"] and "curve_samples" not in trials
    curves = load_curves(tmp_path)
    assert len(curves) == 6 and list(curves[curves.trial_id == "b"].val_loss) == [0.9, 0.8, 0.5]
    # each file is one JSON line that pandas reads directly
    direct = pd.read_json(trial_path(tmp_path, "b"), lines=True)
    assert direct.loc[0, "seed"] == 1


def test_atomic_write_leaves_no_temp_and_replaces(tmp_path) -> None:
    p = tmp_path / "x" / "f.json"
    write_atomic(p, json.dumps({"v": 1}))
    write_atomic(p, json.dumps({"v": 2}))
    assert json.loads(p.read_text()) == {"v": 2}
    assert [f.name for f in p.parent.iterdir()] == ["f.json"]


def test_unreadable_record_is_ignored(tmp_path) -> None:
    save_record(tmp_path, _record("a"))
    trial_path(tmp_path, "broken").write_text("{not json")
    assert list(load_trials(tmp_path).trial_id) == ["a"]
