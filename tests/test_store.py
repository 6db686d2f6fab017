import json
import os
import stat

import pandas as pd
import pytest

from harness.store import (
    load_curves,
    load_trials,
    read_record,
    save_record,
    scan_records,
    trial_path,
    validate_record,
    write_atomic,
)


def _record(tid: str, **kw) -> dict:
    rec = {
        "trial_id": tid,
        "task_label": "toy",
        "agent": "random",
        "seed": 0,
        "budget_samples": 10,
        "samples_used": 10,
        "status": "ok",
        "headline_metric": "test_mape",
        "test_mape": 0.3,
        "test_loss": 0.3,
        "test_kendall_tau": None,
        "val_loss": 0.5,
        "curve_samples": [0, 5, 10],
        "curve_wall_s": [0.0, 0.1, 0.2],
        "curve_train_loss": [float("inf"), 0.7, 0.6],
        "curve_val_loss": [0.9, 0.8, 0.5],
    }
    rec.update(kw)
    return rec


def test_record_round_trip_and_pandas(tmp_path) -> None:
    save_record(tmp_path, _record("a", test_kendall_tau=float("nan")))
    save_record(tmp_path, _record("b", seed=1, val_loss=0.25))
    back = read_record(trial_path(tmp_path, "a"))
    assert back is not None
    assert back["val_loss"] == 0.5 and back["test_kendall_tau"] is None  # NaN -> null
    trials = load_trials(tmp_path)
    assert sorted(trials.trial_id) == ["a", "b"] and "curve_samples" not in trials
    curves = load_curves(tmp_path)
    assert len(curves) == 6 and list(curves[curves.trial_id == "b"].val_loss) == [0.9, 0.8, 0.5]
    # each file is one JSON line that pandas reads directly
    direct = pd.read_json(trial_path(tmp_path, "b"), lines=True)
    assert direct.loc[0, "seed"] == 1


def test_atomic_write_leaves_no_temp_replaces_and_uses_the_usual_mode(tmp_path) -> None:
    p = tmp_path / "x" / "f.json"
    write_atomic(p, json.dumps({"v": 1}))
    write_atomic(p, json.dumps({"v": 2}))
    assert json.loads(p.read_text()) == {"v": 2}
    assert [f.name for f in p.parent.iterdir()] == ["f.json"]
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask  # not mkstemp's 0600


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{not json", "unreadable"),
        ("{}", "missing 'trial_id'"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps(_record("bad", samples_used=999_999)), "samples_used 999999 outside"),
        (json.dumps(_record("bad", test_mape=-1.0, test_loss=-1.0)), "negative test_mape"),
        (json.dumps(_record("bad", test_mape=None)), "finite 'test_mape'"),
        (json.dumps(_record("other")), "does not match its file name"),
        (json.dumps(_record("bad", status="weird")), "unknown status"),
    ],
)
def test_invalid_records_are_named_not_loaded(tmp_path, content: str, why: str) -> None:
    save_record(tmp_path, _record("a"))
    trial_path(tmp_path, "bad").write_text(content)
    valid, invalid = scan_records(tmp_path)
    assert list(valid) == ["a"] and list(load_trials(tmp_path).trial_id) == ["a"]
    assert [p.name for p, _ in invalid] == ["bad.jsonl"] and why in invalid[0][1]


def test_a_failed_record_needs_no_metrics() -> None:
    assert validate_record(_record("f", status="failed", test_mape=None, test_loss=None)) is None
