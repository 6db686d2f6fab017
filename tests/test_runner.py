"""Runner: resume, failures, killed trials, determinism (toy task, real processes)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.runner import run_suite
from harness.store import finished_records, load_trials

SUITE = """
name = "toyrun"
seeds = [0, 1]
budgets = [200]
eval_items = 20
[tasks.toy]
agents = {agents}
options = {options}
"""


def suite(tmp_path: Path, agents: str = '["random", "optuna-tpe"]', options: str = "{}") -> Path:
    p = tmp_path / "suite.toml"
    p.write_text(SUITE.format(agents=agents, options=options))
    return p


def test_resume_skips_finished_trials(tmp_path) -> None:
    cfg, out = suite(tmp_path), tmp_path / "run"
    first = run_suite(cfg, out, workers=2, log=lambda _: None)
    assert (first.ok, first.skipped) == (4, 0)
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "trials").iterdir()}
    again = run_suite(cfg, out, workers=2, log=lambda _: None)
    assert (again.ok, again.skipped) == (0, 4)
    assert stamps == {p.name: p.stat().st_mtime_ns for p in (out / "trials").iterdir()}


def test_a_failing_trial_is_recorded_and_the_suite_goes_on(tmp_path) -> None:
    out = tmp_path / "run"
    s = run_suite(suite(tmp_path, '["toy-crash", "random"]'), out, workers=1, log=lambda _: None)
    assert (s.ok, s.failed) == (2, 2)
    recs = finished_records(out)
    crash = recs["toy__toy-crash__b200__s0"]
    assert crash["status"] == "failed" and "crashed on purpose" in crash["error"]
    assert "Traceback" in crash["error"] and crash["samples_used"] == 20
    # failed trials are re-run on resume, ok ones are not
    s2 = run_suite(suite(tmp_path, '["toy-crash", "random"]'), out, workers=1, log=lambda _: None)
    assert (s2.skipped, s2.failed) == (2, 2)


def test_same_suite_and_seed_give_the_same_numbers(tmp_path) -> None:
    cfg = suite(tmp_path, '["random", "optuna-tpe", "optuna-cmaes", "opentuner"]')
    a = load_trials(run_suite(cfg, tmp_path / "a", workers=2, log=lambda _: None).run_dir)
    b = load_trials(run_suite(cfg, tmp_path / "b", workers=1, log=lambda _: None).run_dir)
    cols = ["trial_id", "config", "val_loss", "test_loss", "samples_used"]
    a, b = a[cols].sort_values("trial_id"), b[cols].sort_values("trial_id")
    assert a.to_dict("records") == b.to_dict("records")
    assert a.val_loss.nunique() > 1  # seeds and agents differ


def _children(pid: int) -> list[int]:
    """Trial processes of a runner: its forked children (same command line), not the
    agents' zygote (a spawned interpreter)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(x) for x in path.read_text().split()] if path.exists() else []
    own = Path(f"/proc/{pid}/cmdline").read_bytes()
    out = []
    for kid in kids:
        try:
            if Path(f"/proc/{kid}/cmdline").read_bytes() == own:
                out.append(kid)
        except OSError:
            pass
    return out


def test_a_killed_trial_is_left_unfinished_and_resumed(tmp_path) -> None:
    # Slow toy trials (0.1 s per evaluation x 10) so one can be killed mid-way.
    cfg = suite(tmp_path, '["random"]', "{ sleep_s = 0.1 }")
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    cmd = [
        sys.executable,
        "-m",
        "harness.cli",
        "run",
        str(cfg),
        "--out",
        str(out),
        "--workers",
        "1",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim = None
    deadline = time.time() + 180  # generous: CI and shared machines can be slow to start
    while victim is None and time.time() < deadline:
        if _children(proc.pid):
            time.sleep(0.2)  # let it get into the trial
            # Listed again: a child seen in the fork-to-exec window of the zygote's spawn
            # has the runner's command line for a moment, then becomes the zygote.
            kids = _children(proc.pid)
            if kids:
                victim = kids[0]
                os.kill(victim, signal.SIGKILL)
        time.sleep(0.02)
    _, err = proc.communicate(timeout=300)
    assert victim is not None
    assert proc.returncode == 1 and "LOST" in err, err
    recs = finished_records(out)
    assert len(recs) == 1 and all(r["status"] == "ok" for r in recs.values())
    proc2 = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc2.returncode == 0, proc2.stderr
    assert "1 already finished, 1 to run" in proc2.stderr
    recs = finished_records(out)
    assert len(recs) == 2 and len(list((out / "trials").iterdir())) == 2


def test_a_record_bigger_than_a_pipe_buffer_comes_back(tmp_path) -> None:
    s = run_suite(suite(tmp_path, '["toy-big"]'), tmp_path / "run", workers=2, log=lambda _: None)
    assert s.ok == 2
    rec = finished_records(tmp_path / "run")["toy__toy-big__b200__s0"]
    assert rec["diag_d09999"] == 9999.0


def test_killing_the_runner_kills_its_trials_and_agents(tmp_path) -> None:
    cfg = suite(tmp_path, '["random"]', "{ sleep_s = 0.2 }")  # ~2 s per trial
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    cmd = [sys.executable, "-m", "harness.cli", "run", str(cfg), "--out", str(tmp_path / "r")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    family: list[int] = []
    while not family and time.time() < deadline:
        family = _children(proc.pid)
        time.sleep(0.05)
    assert family, "no trial process started"
    time.sleep(1.0)  # the trial's agent process is running by now
    everyone = _descendants(proc.pid)
    assert len(everyone) >= 2  # the trial and at least its agent (and the zygote)
    proc.kill()  # SIGKILL: no clean-up code runs in the runner
    proc.wait()
    deadline = time.time() + 15
    while time.time() < deadline and any(_alive(p) for p in everyone):
        time.sleep(0.1)
    assert not [p for p in everyone if _alive(p)]


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        path = Path(f"/proc/{todo[0]}/task/{todo[0]}/children")
        todo.pop(0)
        kids = [int(x) for x in path.read_text().split()] if path.exists() else []
        out += kids
        todo += kids
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has exited


def test_an_invalid_record_is_re_run(tmp_path) -> None:
    cfg, out = suite(tmp_path, '["random"]'), tmp_path / "run"
    assert run_suite(cfg, out, log=lambda _: None).ok == 2
    victim = out / "trials" / "toy__random__b200__s0.jsonl"
    victim.write_text("{}")  # e.g. a hand-edited or truncated file
    again = run_suite(cfg, out, log=lambda _: None)
    assert (again.ok, again.skipped) == (1, 1)
    assert finished_records(out)["toy__random__b200__s0"]["status"] == "ok"


def test_the_fingerprint_covers_the_agents_code(tmp_path, monkeypatch) -> None:
    from harness import codehash
    from harness.trial import TrialSpec

    pkg = tmp_path / "myagents"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('AGENTS = {"mine": "myagents.mine:Mine"}\n')
    (pkg / "mine.py").write_text("from baselines.random_search import RandomSearch as Mine\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("TUNEBENCH_PLUGINS", "tests.toyfamily,myagents")
    from harness import registry

    registry._plugin_modules.cache_clear()
    spec = TrialSpec(
        suite="s", task_label="toy", task="toy", agent="mine", seed=0, budget_samples=10
    )
    before = spec.fingerprint()
    (pkg / "mine.py").write_text(
        "from baselines.random_search import RandomSearch as Mine  # edited\n"
    )
    codehash.package_hash.cache_clear()
    assert spec.fingerprint() != before
    registry._plugin_modules.cache_clear()
