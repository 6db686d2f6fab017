"""Ray executor on real Ray: same records as the local pool; a killed worker's trial is
left unfinished and resumed. Ray runs only in subprocesses (the CLI and a `ray start`
head), so no Ray threads live in the pytest process that other tests fork from."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="ray is not installed (pip install -e .[ray])")

from harness.runner import run_suite  # noqa: E402
from harness.store import finished_records, load_trials  # noqa: E402
from tests.conftest import REPO, tunebench_cmd  # noqa: E402

# The `ray` script of the interpreter running the tests (the venv's).
RAY_BIN = Path(sys.executable).parent / "ray"

SUITE = """
name = "toyray"
seeds = {seeds}
budgets = [200]
eval_items = 20
[tasks.toy]
agents = {agents}
options = {options}
"""

# One token for every Ray process of this module: the head and the drivers agree on
# it without reading or writing ~/.ray/auth_token.
RAY_ENV = {
    "RAY_AUTH_MODE": "token",
    "RAY_AUTH_TOKEN": secrets.token_hex(32),
    "RAY_USAGE_STATS_ENABLED": "0",
}


def _env() -> dict[str, str]:
    pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, **RAY_ENV, "PYTHONPATH": pythonpath}


def _suite(tmp_path: Path, seeds: str, agents: str, options: str = "{}") -> Path:
    path = tmp_path / "suite.toml"
    path.write_text(SUITE.format(seeds=seeds, agents=agents, options=options))
    return path


def _children_tree(root: int) -> list[int]:
    """All descendants of ``root`` (via /proc/<pid>/task/<tid>/children)."""
    found: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                kids = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
            except OSError:
                continue
            for kid in map(int, kids):
                found.append(kid)
                todo.append(kid)
    return found


def _trial_workers(root: int) -> list[int]:
    """Ray workers under ``root`` now running a trial (Ray titles them after the task)."""
    pids = []
    for pid in _children_tree(root):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if title.startswith(b"ray::_run_trial_task"):
            pids.append(pid)
    return pids


@pytest.fixture(scope="module")
def ray_head() -> Iterator[tuple[str, int]]:
    """A one-node Ray cluster (2 CPUs) started as `ray start --head --block`; yields
    (address, pid of the `ray start` process). Stopped by signalling that process,
    which takes its Ray processes down with it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    temp_dir = tempfile.mkdtemp(prefix="tbray")  # short: Ray's socket paths live under it
    cmd = [
        str(RAY_BIN) if RAY_BIN.exists() else "ray",
        "start",
        "--head",
        "--block",
        f"--port={port}",
        "--num-cpus=2",
        "--include-dashboard=false",
        "--disable-usage-stats",
        f"--temp-dir={temp_dir}",
    ]
    head = subprocess.Popen(
        cmd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    address, lines = None, []
    assert head.stdout is not None
    for line in head.stdout:  # ray start prints the address, then says it will block
        lines.append(line)
        m = re.search(r"--address='([^']+)'", line)
        address = m.group(1) if m else address
        if "will now block" in line:
            break
    assert address is not None and head.poll() is None, "".join(lines)
    try:
        yield address, head.pid
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)  # its own session: only its processes
            head.wait()
        head.stdout.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_ray_gives_the_same_records_as_the_local_pool(tmp_path) -> None:
    cfg = _suite(tmp_path, "[0, 1]", '["random", "optuna-tpe"]')
    local = run_suite(cfg, tmp_path / "local", workers=1, log=lambda _: None)
    assert local.ok == 4
    # No --address: the executor starts (and stops) its own local Ray instance.
    cmd = [*tunebench_cmd(), "run", str(cfg), "--out", str(tmp_path / "ray")]
    proc = subprocess.run(
        [*cmd, "--workers", "2", "--executor", "ray"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "4 to run with 2 worker(s) [ray]" in proc.stderr
    cols = ["trial_id", "config", "val_loss", "test_loss", "samples_used", "status"]
    a = load_trials(tmp_path / "local")[cols].sort_values("trial_id")
    b = load_trials(tmp_path / "ray")[cols].sort_values("trial_id")
    assert a.to_dict("records") == b.to_dict("records")
    assert a.val_loss.nunique() > 1  # seeds and agents differ


def test_a_killed_ray_worker_leaves_its_trial_unfinished(tmp_path, ray_head) -> None:
    address, head_pid = ray_head
    # Four slow toy trials (0.1 s per simulation, ~1.5 s each) on two CPUs.
    cfg = _suite(tmp_path, "[0, 1, 2, 3]", '["random"]', "{ sleep_s = 0.1 }")
    out = tmp_path / "run"
    cmd = [*tunebench_cmd(), "run", str(cfg), "--out", str(out), "--workers", "2"]
    cmd += ["--executor", "ray", "--address", address]
    proc = subprocess.Popen(
        cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    victim = None
    deadline = time.time() + 90
    while victim is None and time.time() < deadline and proc.poll() is None:
        running = _trial_workers(head_pid)
        if running:
            time.sleep(0.3)  # let it get into the trial
            if running[0] in _trial_workers(head_pid):
                victim = running[0]
                os.kill(victim, signal.SIGKILL)
        time.sleep(0.02)
    _, err = proc.communicate(timeout=120)
    assert victim is not None, err
    assert proc.returncode == 1 and "3 ok, 0 failed, 1 lost" in err, err
    lost = re.findall(r"\] (\S+) LOST: (.*)", err)
    assert len(lost) == 1 and "Ray task failed" in lost[0][1], err
    recs = finished_records(out)
    assert len(recs) == 3 and lost[0][0] not in recs
    assert all(r["status"] == "ok" for r in recs.values())
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "trials").iterdir()}

    # Re-running resumes only the lost trial; nothing is recorded twice.
    again = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "3 already finished, 1 to run" in again.stderr
    assert "1 ok, 0 failed, 0 lost, 3 skipped" in again.stderr
    recs = finished_records(out)
    assert sorted(recs) == sorted(p.stem for p in (out / "trials").iterdir())
    assert len(recs) == 4 and recs[lost[0][0]]["status"] == "ok"
    assert all((out / "trials" / name).stat().st_mtime_ns == ns for name, ns in stamps.items())


def test_agent_resources_fit_the_cluster(monkeypatch) -> None:
    from harness import registry
    from harness.executor_ray import fit_to_cluster, task_options, trial_resources

    class GpuAgent:  # what an agent that trains on a GPU declares
        resources = {"GPU": 1, "CPU": 2}

    monkeypatch.setattr(registry, "agent_class", lambda name: GpuAgent)
    wanted = trial_resources("gpu-agent")
    assert wanted == {"CPU": 2.0, "GPU": 1.0}
    # No GPU anywhere: the request is dropped (the trial runs on CPU, not queued for ever).
    cpu_only = [{"CPU": 2.0, "memory": 1e9}]
    assert task_options(fit_to_cluster(wanted, cpu_only)) == {"num_cpus": 2.0, "num_gpus": 0.0}
    with_gpu = [{"CPU": 1.0}, {"CPU": 8.0, "GPU": 1.0}]
    assert task_options(fit_to_cluster(wanted, with_gpu)) == {"num_cpus": 2.0, "num_gpus": 1.0}
    # Capped at the largest node; unknown custom resources dropped, known ones passed on.
    big = {"CPU": 16.0, "fpga": 1.0, "ssd": 1.0}
    fitted = fit_to_cluster(big, [{"CPU": 4.0, "ssd": 2.0}])
    assert task_options(fitted) == {"num_cpus": 4.0, "num_gpus": 0.0, "resources": {"ssd": 1.0}}
    # Agents without a declaration ask for one CPU.
    monkeypatch.setattr(registry, "agent_class", lambda name: object)
    assert trial_resources("random") == {"CPU": 1.0}
