"""Bad input ends in one clear line and a non-zero exit, and loses nothing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, SMALL_DATASET

ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def cli(
    *args: str, env: dict | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run the CLI in ``cwd`` (default: a fresh temp folder, so nothing lands in the repo)."""
    import tempfile

    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        env=env or ENV,
        cwd=cwd or tempfile.mkdtemp(prefix="tb-cli-"),
        timeout=120,
    )


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("tunebench: error: ")
    return lines[0]


def suite(tmp_path: Path, body: str) -> str:
    p = tmp_path / "s.toml"
    p.write_text(body)
    return str(p)


MCA = '[tasks.mca]\noptions = {{ dataset = "{ds}" }}\nagents = ["default"]\nbudgets = [10]\n'


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('budgets = [10]\n[tasks.nope]\nagents = ["random"]\n', "unknown task 'nope'"),
        ('budgets = [10]\n[tasks.toy]\nagents = ["nope"]\n', "unknown agent 'nope'"),
        ("budgets = [10\n[tasks.toy]", "malformed TOML"),
        ('[tasks.toy]\nagents = ["random"]\n', "budgets"),
        (MCA.format(ds="/nonexistent/data.csv"), "dataset not found"),
        ('name = "../../escape"\nbudgets = [10]\n[tasks.toy]\nagents = ["random"]\n', "safe name"),
        ('budgets = [10]\n[tasks."a/b"]\ntask = "toy"\nagents = ["random"]\n', "safe name"),
        (
            'budgets = [10]\n[tasks.toy]\noptions = { nope = 1 }\nagents = ["random"]\n',
            "bad option",
        ),
        (
            'budgets = [10]\n[tasks.toy]\nagents = ["r"]\n[agents.r]\nagent = "random"\n'
            "options = { nope = 1 }\n",
            "bad option",
        ),
        ('budgets = [10]\n[tasks.toy]\nagents = ["difftune"]\n', "does not support task toy"),
        ('budgets = [10]\n[tasks.toy]\nagents = ["inline-ppo"]\n', "does not support task toy"),
    ],
)
def test_bad_suites(tmp_path, body: str, needle: str) -> None:
    line = one_error_line(cli("run", suite(tmp_path, body), "--out", str(tmp_path / "r")))
    assert needle in line


def test_missing_suite_file_and_run_dir(tmp_path) -> None:
    assert "suite file not found" in one_error_line(cli("run", str(tmp_path / "no.toml")))
    assert "run directory not found" in one_error_line(cli("report", str(tmp_path / "nope")))


def test_empty_and_undecodable_blocks_in_a_dataset(tmp_path) -> None:
    undecodable = tmp_path / "bad.csv"
    undecodable.write_text("4801c0,100.0\nffff,50.0\n")
    line = one_error_line(cli("run", suite(tmp_path, MCA.format(ds=undecodable))))
    assert "do not decode" in line and "ffff" in line
    empty = tmp_path / "empty.csv"
    empty.write_text("4801c0,100.0\n,50.0\n")
    line = one_error_line(cli("run", suite(tmp_path, MCA.format(ds=empty))))
    assert "empty" in line.lower() or "hex" in line.lower()


def test_llvm_mca_missing_from_path(tmp_path) -> None:
    env = {**ENV, "PATH": str(Path(sys.executable).parent)}
    line = one_error_line(cli("run", suite(tmp_path, MCA.format(ds=SMALL_DATASET)), env=env))
    assert "llvm-mc" in line and "llvm-14" in line


def test_bad_input_loses_nothing_already_written(tmp_path) -> None:
    good = suite(
        tmp_path, 'name = "g"\nbudgets = [40]\neval_items = 20\n[tasks.toy]\nagents = ["random"]\n'
    )
    out = tmp_path / "run"
    assert cli("run", good, "--out", str(out)).returncode == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = tmp_path / "bad.toml"
    bad.write_text('budgets = [40]\n[tasks.toy]\nagents = ["nope"]\n')
    one_error_line(cli("run", str(bad), "--out", str(out)))
    assert before == {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}


def test_list_and_report(tmp_path) -> None:
    out = cli("list")
    assert out.returncode == 0 and "optuna-cmaes" in out.stdout and "mca" in out.stdout
    # readable entries: no reST markup, no reference to a docstring, wrapped lines
    assert "``" not in out.stdout and "docstring" not in out.stdout
    assert all(len(line) <= 120 for line in out.stdout.splitlines())
    good = suite(
        tmp_path,
        'name = "g"\nseeds = [0, 1]\nbudgets = [60]\neval_items = 20\n'
        '[tasks.toy]\nagents = ["default", "random", "optuna-tpe"]\n',
    )
    assert cli("run", good, "--out", str(tmp_path / "run")).returncode == 0
    rep = cli("report", str(tmp_path / "run"), cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    index = Path(rep.stdout.strip().splitlines()[-1])
    assert index == Path("reports/run/index.html")
    page = (tmp_path / index).read_text()
    assert page.count("data:image/png;base64,") == 2 and "optuna-tpe" in page
    md = (tmp_path / "reports/run/report.md").read_text()
    assert "| agent |" in md and "default** |" in md  # 2 seeds: undecided, all leaders
    assert "Undecided" in md
    assert "Agent diagnostics" not in md  # no toy agent reports diagnostics
    assert (tmp_path / "reports/run/trials.csv").exists()


def _toy_suite(tmp_path: Path, name: str = "g", agents: str = '"random"') -> str:
    return suite(
        tmp_path,
        f'name = "{name}"\nbudgets = [40]\neval_items = 20\n[tasks.toy]\nagents = [{agents}]\n',
    )


def test_workers_zero_and_a_bad_ray_address_write_nothing(tmp_path) -> None:
    out = tmp_path / "run"
    assert "--workers must be >= 1" in one_error_line(
        cli("run", _toy_suite(tmp_path), "--out", str(out), "--workers", "0")
    )
    assert not out.exists()


def test_a_second_suite_into_a_run_directory_is_refused_unless_forced(tmp_path) -> None:
    out = tmp_path / "run"
    assert cli("run", _toy_suite(tmp_path, "first"), "--out", str(out)).returncode == 0
    other = tmp_path / "o"
    other.mkdir()
    line = one_error_line(cli("run", _toy_suite(other, "second"), "--out", str(out)))
    assert "holds a run of suite 'first'" in line
    assert "second" not in (out / "suite.toml").read_text()
    assert cli("run", _toy_suite(other, "second"), "--out", str(out), "--force").returncode == 0


def test_a_locked_run_directory_is_refused(tmp_path) -> None:
    import fcntl

    out = tmp_path / "run"
    out.mkdir()
    with open(out / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("pid 1 on elsewhere\n")
        held.flush()
        line = one_error_line(cli("run", _toy_suite(tmp_path), "--out", str(out)))
    assert "in use by another tunebench run" in line and "pid 1 on elsewhere" in line
    assert not (out / "trials").exists()


def test_a_missing_plugin_is_one_line(tmp_path) -> None:
    proc = cli("--help", env={**ENV, "TUNEBENCH_PLUGINS": "nosuch"})
    line = one_error_line(proc)
    assert "plugin module 'nosuch' (from TUNEBENCH_PLUGINS) cannot be imported" in line


def test_report_of_an_all_failed_run_says_so(tmp_path) -> None:
    out = tmp_path / "run"
    proc = cli("run", _toy_suite(tmp_path, agents='"toy-crash"'), "--out", str(out))
    assert proc.returncode == 1  # failed trials
    rep = cli("report", str(out), "--out", str(tmp_path / "rep"))
    assert rep.returncode == 0, rep.stderr
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "No trial finished" in md and "toy agent crashed on purpose" in md


def test_agent_labels_compare_two_settings_of_one_agent(tmp_path) -> None:
    body = (
        'name = "lab"\nbudgets = [40]\neval_items = 20\n[tasks.toy]\n'
        'agents = ["random", "cma-diag"]\n'
        '[agents.cma-diag]\nagent = "optuna-cmaes"\noptions = { covariance = "diagonal" }\n'
    )
    out = tmp_path / "run"
    assert cli("run", suite(tmp_path, body), "--out", str(out)).returncode == 0
    names = sorted(p.name for p in (out / "trials").iterdir())
    assert names == ["toy__cma-diag__b40__s0.jsonl", "toy__random__b40__s0.jsonl"]
    import json

    rec = json.loads((out / "trials" / names[0]).read_text())
    assert rec["agent"] == "cma-diag" and rec["agent_name"] == "optuna-cmaes"
    assert rec["diag_separable_cma"] == 1.0
